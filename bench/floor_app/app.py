"""The floor rows of `make bench-cold-start`: bench/minimal_app (one Chalice route, one PynamoDB GetItem,
its client created by the first request) plus what the deployed app must do on any first request.

FLOOR_LAYERS picks them, each done the way app.py does it, with nothing of the app's own code but the
token check: `tracer` (Powertools' Tracer, botocore patched, the request in an X-Ray subsegment),
`pydantic` (the answer validated and dumped through a pydantic model, as every route's response is),
`powertools` (Powertools' structured logger and its EMF metrics, flushed), `token` (the caller's Cognito
ID token verified by chalicelib/auth.py: cryptography's RSA, the pool's JWKS fetched). The baseline
itself stays bench/minimal_app, unchanged.
"""

import os

from chalice import Chalice
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

app = Chalice(app_name="floor")
LAYERS = set(filter(None, os.environ.get("FLOOR_LAYERS", "").split(",")))


class Thing(Model):
    class Meta:
        table_name = "minimal-things"
        region = "ap-southeast-1"

    thing_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute(null=True)


@app.route("/things/{thing_id}")
def get_thing(thing_id):
    import contextlib

    segment = contextlib.nullcontext()
    if "tracer" in LAYERS:
        from aws_lambda_powertools import Tracer

        tracer = Tracer(service="minimal", auto_patch=False)
        tracer.patch(["botocore"])
        segment = tracer.provider.in_subsegment("## GET /things/{thing_id}")
    if "powertools" in LAYERS:
        from aws_lambda_powertools import Logger, Metrics

        logger, metrics = Logger(service="minimal"), Metrics(namespace="Minimal", service="minimal")
        logger.append_keys(route="GET /things/{thing_id}")
    if "token" in LAYERS:
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from chalicelib import auth

        auth.authenticate((app.current_request.headers or {}).get("authorization"))
    with segment:
        answer = Thing.get(thing_id).attribute_values
    if "pydantic" in LAYERS:
        from pydantic import BaseModel, ConfigDict

        class ThingOut(BaseModel):
            model_config = ConfigDict(extra="forbid", defer_build=True)
            thing_id: str
            name: str | None = None

        answer = ThingOut.model_validate(answer).model_dump(mode="json", exclude_unset=True)
    if "powertools" in LAYERS:
        logger.info("thing read")
        metrics.add_metric(name="ThingsRead", unit="Count", value=1)
        metrics.flush_metrics()
    return answer
