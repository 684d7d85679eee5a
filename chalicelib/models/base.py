"""What every PynamoDB model shares: its table name and region come from configuration.

PynamoDB reads `Meta` when the class is defined, so configuration must be in the environment before
the models are imported (the Lambda runtime, `chalice local` and tests/conftest.py all ensure it).
The endpoint is not set here: botocore honours AWS_ENDPOINT_URL (moto locally, nothing in AWS).
"""

from __future__ import annotations

from chalicelib import aws, config

aws.share_with_pynamodb()  # before any model connects


def table_meta(suffix: str) -> type:
    """A `Meta` class for the table `<TABLE_PREFIX>-<suffix>`, billed on demand."""

    class Meta:
        table_name = config.table_name(suffix)
        region = config.region()
        billing_mode = "PAY_PER_REQUEST"

    return Meta
