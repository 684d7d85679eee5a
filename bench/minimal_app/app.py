"""The baseline for `make bench-cold-start`: the smallest Chalice + PynamoDB app worth the name.

One model, one route doing one DynamoDB read (GetItem); its botocore client is created by that first
request (PynamoDB connects lazily), as any app's is. Never deployed; bench/cold_start.py invokes it in a
fresh interpreter, through the Lambda entry point, next to the real app.py.
"""

from chalice import Chalice
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

app = Chalice(app_name="minimal")


class Thing(Model):
    class Meta:
        table_name = "minimal-things"
        region = "ap-southeast-1"

    thing_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(null=True)


@app.route("/things/{thing_id}")
def get_thing(thing_id):
    return Thing.get(thing_id).attribute_values
