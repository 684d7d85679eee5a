"""Deploy the staff console to AWS after the stack: runtime config from the stack's outputs, the static
files into the console bucket, and a CloudFront invalidation.

    python -m infra.console_deploy --stack-name procure-prod [--region ap-southeast-1]

The console reads `config.json` at start; here it is generated from the deployed stack (the API under
`/api` on the console's own origin, the region's Cognito endpoint, pool and client ids), with the same
keys the local stack writes (infra/local/console.py). See docs/deploy.md.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
from pathlib import Path

from infra.local.console import CONSOLE_DIR, runtime_config
from infra.template import CONSOLE_CONFIG

TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}


def stack_outputs(cloudformation, stack_name: str) -> dict[str, str]:
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def config_from_outputs(outputs: dict[str, str], region: str) -> dict:
    """The console calls the API on its own origin (ConsoleApiURL, CloudFront's `/api/*`): same-origin
    requests send no CORS preflight."""
    return runtime_config(
        api_url=outputs["ConsoleApiURL"],
        cognito_endpoint=f"https://cognito-idp.{region}.amazonaws.com",
        user_pool_id=outputs["UserPoolId"],
        client_id=outputs["UserPoolClientId"],
        region=region,
    )


def content_type(path: Path) -> str:
    return TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def upload(s3, bucket: str, config: dict, root: Path = CONSOLE_DIR) -> list[str]:
    """Every file of console/ (browsers revalidate them), then config.json (never cached)."""
    keys = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = path.relative_to(root).as_posix()
        if key == CONSOLE_CONFIG:
            continue  # a stray local copy: the deployed one is generated below
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType=content_type(path),
            CacheControl="no-cache",
        )
        keys.append(key)
    s3.put_object(
        Bucket=bucket,
        Key=CONSOLE_CONFIG,
        Body=(json.dumps(config, indent=2) + "\n").encode(),
        ContentType="application/json",
        CacheControl="no-store",
    )
    return [*keys, CONSOLE_CONFIG]


def invalidate(cloudfront, distribution_id: str) -> str:
    answer = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time_ns())},
    )
    return answer["Invalidation"]["Id"]


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack-name", required=True)
    parser.add_argument("--region", help="default: the AWS CLI's / environment's region")
    args = parser.parse_args(argv)
    session = boto3.session.Session(region_name=args.region)
    region = session.region_name
    outputs = stack_outputs(session.client("cloudformation"), args.stack_name)
    config = config_from_outputs(outputs, region)
    keys = upload(session.client("s3"), outputs["ConsoleBucketName"], config)
    invalidation = invalidate(session.client("cloudfront"), outputs["ConsoleDistributionId"])
    print(f"uploaded {len(keys)} files to s3://{outputs['ConsoleBucketName']}, invalidation {invalidation}")
    print(f"console_url {outputs['ConsoleURL']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
