"""The staff console in AWS: a private bucket behind CloudFront (origin access control, HTTPS only,
security headers), its runtime config generated at deploy time, its origin given to the API."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from infra import console_deploy, template
from infra.local.console import CONSOLE_DIR


@pytest.fixture(scope="module")
def resources() -> dict:
    return template.console_resources(template.Stage.load("prod"))


def test_the_console_bucket_is_private_and_readable_only_by_its_distribution(resources):
    bucket = resources["ConsoleBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    allow, deny = resources["ConsoleBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    assert (
        "distribution/${ConsoleDistribution}"
        in allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    )
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_cloudfront_serves_it_over_https_only_with_origin_access_control_and_security_headers(resources):
    config = resources["ConsoleDistribution"]["Properties"]["DistributionConfig"]
    (origin,) = [o for o in config["Origins"] if o["Id"] == "console-bucket"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["ConsoleOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    oac = resources["ConsoleOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["SigningBehavior"], oac["SigningProtocol"]) == ("always", "sigv4")
    behaviours = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    assert all(b["ViewerProtocolPolicy"] in ("redirect-to-https", "https-only") for b in behaviours)
    files = [b for b in behaviours if b["TargetOriginId"] == "console-bucket"]
    assert all(b["ResponseHeadersPolicyId"] == {"Ref": "ConsoleSecurityHeaders"} for b in files)
    (config_behaviour,) = [b for b in config["CacheBehaviors"] if b["TargetOriginId"] == "console-bucket"]
    assert config_behaviour["PathPattern"] == "config.json"
    assert config_behaviour["CachePolicyId"] == template.CACHING_DISABLED  # a new deploy is seen at once
    headers = resources["ConsoleSecurityHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]
    security = headers["SecurityHeadersConfig"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 365 * 24 * 3600
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["ContentTypeOptions"]["Override"] is True
    csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "https://cognito-idp.${AWS::Region}" in csp and "${PhotoBucket}" in csp
    # the API is the console's own origin ('self', issue 27), never any API Gateway API of the region
    assert "execute-api" not in csp


def test_the_package_has_the_console_its_outputs_and_gives_its_origin_to_the_api():
    built = template.build("prod")
    assert {"ConsoleBucket", "ConsoleDistribution", "ConsoleSecurityHeaders"} <= set(built["Resources"])
    assert {"ConsoleBucketName", "ConsoleDistributionId", "ConsoleURL"} <= set(built["Outputs"])
    variables = built["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    # through SSM: the function's environment naming the distribution would close a cycle with the CSP
    assert "CONSOLE_ORIGIN" not in variables
    parameter = built["Resources"]["ConsoleOriginParameter"]["Properties"]
    assert variables["CONSOLE_ORIGIN_PARAMETER"] == parameter["Name"]
    assert parameter["Value"] == {"Fn::Sub": "https://${ConsoleDistribution.DomainName}"}


def test_the_console_reaches_the_api_through_its_own_distribution_uncached_with_every_viewer_header(
    resources,
):
    """Issue 27: `/api/*` on the console's origin -> the REST API, so the console sends no preflight."""
    config = resources["ConsoleDistribution"]["Properties"]["DistributionConfig"]
    (behaviour,) = [b for b in config["CacheBehaviors"] if b["TargetOriginId"] == "api"]
    (origin,) = [o for o in config["Origins"] if o["Id"] == "api"]
    assert origin["DomainName"] == {"Fn::Sub": "${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    # no origin path and no function: the pattern is the stage's name, which API Gateway expects first
    assert "OriginPath" not in origin and "FunctionAssociations" not in behaviour
    assert behaviour["PathPattern"] == f"/{template.Stage.load('prod').api_stage}/*" == "/api/*"
    assert behaviour["CachePolicyId"] == template.CACHING_DISABLED == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    # AllViewerExceptHostHeader: Authorization, Idempotency-Key and the query string reach the API
    assert behaviour["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    assert set(behaviour["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert behaviour["ViewerProtocolPolicy"] == "https-only"
    # CloudFront matches behaviours in order: the API's pattern shadows none of the console's files
    assert not any(p.is_file() for p in CONSOLE_DIR.glob("api/**/*"))


def test_the_deployed_console_calls_the_api_on_its_own_origin():
    """The config console_deploy writes from the stack's outputs names the console's origin: no CORS."""
    from urllib.parse import urlsplit

    outputs_template = template.build("prod")["Outputs"]
    domain = "d111111abcdef8.cloudfront.net"

    def rendered(name: str) -> str:
        return outputs_template[name]["Value"]["Fn::Sub"].replace("${ConsoleDistribution.DomainName}", domain)

    outputs = {
        "ConsoleURL": rendered("ConsoleURL"),
        "ConsoleApiURL": rendered("ConsoleApiURL"),
        "EndpointURL": "https://abc.execute-api.ap-southeast-1.amazonaws.com/api/",
        "UserPoolId": "ap-southeast-1_pool",
        "UserPoolClientId": "client123",
    }
    api_url = console_deploy.config_from_outputs(outputs, "ap-southeast-1")["api_url"]
    api, console = urlsplit(api_url), urlsplit(outputs["ConsoleURL"])
    assert (api.scheme, api.netloc) == (console.scheme, console.netloc) == ("https", domain)
    assert api.path == "/api"  # the behaviour's pattern, /api/*


def test_the_runtime_config_is_generated_from_the_stack_outputs():
    outputs = {
        "ConsoleApiURL": "https://d111111abcdef8.cloudfront.net/api",
        "EndpointURL": "https://abc.execute-api.ap-southeast-1.amazonaws.com/api/",
        "UserPoolId": "ap-southeast-1_pool",
        "UserPoolClientId": "client123",
    }
    assert console_deploy.config_from_outputs(outputs, "ap-southeast-1") == {
        "api_url": "https://d111111abcdef8.cloudfront.net/api",
        "cognito_endpoint": "https://cognito-idp.ap-southeast-1.amazonaws.com",
        "user_pool_id": "ap-southeast-1_pool",
        "client_id": "client123",
        "region": "ap-southeast-1",
    }


@mock_aws
def test_the_deploy_step_uploads_every_file_with_its_type_and_an_uncached_config():
    s3 = boto3.client("s3", region_name="ap-southeast-1")
    s3.create_bucket(Bucket="console", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"})
    config = {
        "api_url": "https://x/api",
        "cognito_endpoint": "https://c",
        "user_pool_id": "p",
        "client_id": "c",
    }
    keys = console_deploy.upload(s3, "console", dict(config, region="r"))
    assert {"index.html", "app.css", "js/main.js", "vendor/jsbarcode-3.12.3/MIT-LICENSE.txt"} <= set(keys)
    assert len(keys) == len([p for p in CONSOLE_DIR.rglob("*") if p.is_file()]) + 1
    module = s3.head_object(Bucket="console", Key="js/main.js")
    assert module["ContentType"] == "text/javascript"
    stored = s3.get_object(Bucket="console", Key="config.json")
    assert stored["CacheControl"] == "no-store"
    assert json.loads(stored["Body"].read())["api_url"] == "https://x/api"


def test_the_local_console_server_sends_a_csp_pinned_to_its_stack(tmp_path):
    """Issue 21, item 8: like CloudFront's headers policy, connect-src names the stack's API only."""
    import urllib.request

    from infra.local.console import ConsoleServer, runtime_config, write_config

    config = runtime_config(
        "http://127.0.0.1:8000", "http://127.0.0.1:5000", "pool", "client", "ap-southeast-1"
    )
    server = ConsoleServer(config_path=write_config(config, tmp_path / "config.json"), port=0).start()
    try:
        port = server.httpd.server_address[1]
        for path in ("/index.html", "/config.json"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as answer:
                csp = answer.headers["Content-Security-Policy"]
            directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
            assert directives["connect-src"] == "'self' http://127.0.0.1:8000 http://127.0.0.1:5000", csp
            assert directives["script-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    finally:
        server.stop()
