"""The app is deployable as packaged: every handler deployed, every route with an auth decision,
every table/bucket/queue/pool in the template, least-privilege policies in sync with the code.

The packaged template is built in-process the way `make package` builds out/sam.json (Chalice's own
SAM generation + the deep merge of infra/template.py), without the zip: a fraction of a second.
`.ci/run` then runs the real `make package` and cfn-lint on out/sam.json.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path

import pytest
from chalice import Chalice, Rate
from chalice.test import Client

from chalicelib import auth, config, emails
from chalicelib.models import all_models
from chalicelib.web import PREFLIGHT_PATHS, ROUTES
from infra import chalice_sam, template
from infra.template import Stage
from tests.conftest import ROOT

# Routes anyone may call without a token (docs/openapi.json marks them public). A public route that is not
# listed here fails the test; every other route must reject an anonymous caller with 401.
PUBLIC_ROUTES = {
    ("GET", "/health"),
    ("GET", "/products/search"),
    ("POST", "/products/resolve"),
    ("POST", "/products/image-search"),
    ("GET", "/products/{product_id}"),
    ("GET", "/payment-channels"),
    ("POST", "/payments/webhook"),
    ("POST", "/payments/stripe/webhook"),
    ("POST", "/payments/paypal/webhook"),
    ("POST", "/payments/webhooks/stripe"),
    ("POST", "/payments/webhooks/paypal"),
    ("GET", "/shipping-lines"),
    ("GET", "/openapi.json"),
    ("GET", "/policies"),
    ("GET", "/currencies"),
}

# Code of the function zip that runs only on a laptop or in tests (provisioning), never in Lambda: its
# AWS calls need no IAM grant. None = the whole file; a set = only those functions. (Provisioning and
# demo data live in infra/local/, outside the zip.)
LOCAL_ONLY: dict[str, set[str] | None] = {
    "chalicelib/emails.py": {"ensure_templates"},
}
# boto3 calls whose IAM action is not named like the operation
ACTION_ALIASES = {
    ("s3", "generate_presigned_post"): ["s3:PutObject"],
    ("s3", "head_object"): ["s3:GetObject"],
    ("s3", "copy_object"): ["s3:GetObject", "s3:PutObject"],
}


@pytest.fixture(scope="module")
def application() -> Chalice:
    return chalice_sam.load_app()


@pytest.fixture(scope="module")
def packaged(application) -> dict:
    return template.packaged("prod", app=application)


def of_type(tpl: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in tpl["Resources"].items() if v["Type"] == kind}


# -- (1) every handler in app.py is deployed ------------------------------------------------------


def test_the_package_deploys_every_handler_of_the_app(application, packaged):
    assert template.undeployed_handlers(application, packaged) == []
    assert application.routes and application.event_sources  # the check has something to check


def _function_of(tpl: dict, handler: str) -> str:
    (logical_id,) = [k for k, f in template.functions(tpl).items() if f["Properties"]["Handler"] == handler]
    return logical_id


def test_a_handler_the_template_does_not_deploy_is_reported(application, packaged):
    schedule = next(s for s in application.event_sources if type(s).__name__ == "ScheduledEventConfig")
    broken = copy.deepcopy(packaged)
    del broken["Resources"][_function_of(packaged, "app.photo_events")]
    broken["Resources"][_function_of(packaged, schedule.handler_string)]["Properties"].pop("Events")
    del broken["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]["/me"]
    missing = template.undeployed_handlers(application, broken)
    assert "SQSEventConfig handler app.photo_events" in missing
    assert f"ScheduledEventConfig handler {schedule.handler_string}" in missing
    assert "route GET /me" in missing

    unwired = copy.deepcopy(packaged)
    photo_events = unwired["Resources"][_function_of(packaged, "app.photo_events")]
    (event,) = photo_events["Properties"]["Events"].values()
    event["Properties"]["Queue"] = {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:x"}
    assert template.undeployed_handlers(application, unwired) == ["SQSEventConfig handler app.photo_events"]

    # without ReportBatchItemFailures Lambda ignores the handler's batchItemFailures and deletes them all
    whole_batches = copy.deepcopy(packaged)
    photo_events = whole_batches["Resources"][_function_of(packaged, "app.photo_events")]
    (event,) = photo_events["Properties"]["Events"].values()
    del event["Properties"]["FunctionResponseTypes"]
    assert template.undeployed_handlers(application, whole_batches) == [
        "SQSEventConfig handler app.photo_events"
    ]


def test_new_handlers_are_packaged_without_editing_infra(packaged):
    later = Chalice(app_name="procure")

    @later.route("/later")
    def view():
        return {}

    @later.schedule(Rate(1, unit=Rate.DAYS))
    def nightly(event):
        return None

    @later.on_sqs_message(queue=Stage.load("prod").queue)
    def more_photo_events(event):
        return None

    assert template.undeployed_handlers(later, packaged) != []  # not in the real app's package
    assert template.undeployed_handlers(later, template.packaged("prod", app=later)) == []


def test_a_handler_on_a_queue_the_stack_does_not_create_is_refused():
    later = Chalice(app_name="procure")

    @later.on_sqs_message(queue="somebody-elses-queue")
    def elsewhere(event):
        return None

    with pytest.raises(ValueError, match="does not create"):
        template.build("prod", app=later)


def test_functions_point_at_the_stack_resources(packaged):
    functions = template.functions(packaged)
    assert "APIHandler" in functions and len(functions) > 1
    for logical_id, function in functions.items():
        props = function["Properties"]
        variables = props["Environment"]["Variables"]
        assert variables["USER_POOL_ID"] == {"Ref": "UserPool"}, logical_id
        assert variables["USER_POOL_CLIENT_ID"] == {"Ref": "UserPoolClient"}, logical_id
        assert variables["PHOTO_BUCKET"] == {"Ref": "PhotoBucket"}, logical_id
        assert variables["PHOTO_QUEUE"] == {"Fn::GetAtt": ["PhotoQueue", "QueueName"]}, logical_id
        assert variables["TABLE_PREFIX"] == "procure-prod", logical_id
        assert variables["STAGE"] == "prod", logical_id
        assert props["FunctionName"].startswith("procure-prod"), logical_id
        (log_group,) = function["DependsOn"]
        assert packaged["Resources"][log_group]["Properties"]["LogGroupName"] == (
            f"/aws/lambda/{props['FunctionName']}"
        )
    assert functions["APIHandler"]["Properties"]["Environment"]["Variables"]["PAYMENT_WEBHOOK_SECRET"] == {
        "Ref": template.WEBHOOK_SECRET_PARAMETER
    }
    (event,) = functions[_function_of(packaged, "app.photo_events")]["Properties"]["Events"].values()
    assert event["Type"] == "SQS" and event["Properties"]["Queue"] == {"Fn::Sub": "${PhotoQueue.Arn}"}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def _references(node, found: set[str]) -> set[str]:
    if isinstance(node, dict):
        if "Ref" in node and isinstance(node["Ref"], str):
            found.add(node["Ref"])
        if "Fn::GetAtt" in node:
            found.add(node["Fn::GetAtt"][0])
        if "Fn::Sub" in node:
            text, names = (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
            found.update(n for n in re.findall(r"\$\{([A-Za-z0-9]+)(?:\.\w+)?\}", text) if n not in names)
        for value in node.values():
            _references(value, found)
    elif isinstance(node, list):
        for value in node:
            _references(value, found)
    return found


def test_every_reference_in_the_template_resolves(packaged):
    known = set(packaged["Resources"]) | set(packaged.get("Parameters", {}))
    dangling = {r for r in _references(packaged, set()) if not r.startswith("AWS::")} - known
    assert dangling == set()


# -- every table, the bucket and its wiring, Cognito, SES -----------------------------------------


def test_every_model_has_its_table_in_the_package(packaged):
    tables = {t["Properties"]["TableName"]: t for t in of_type(packaged, "AWS::DynamoDB::Table").values()}
    assert len(tables) == len(all_models())
    for model in all_models():
        name = "procure-prod-" + template.table_suffix(model)
        assert name in tables, f"{model.__name__}: no table {name} in the package"
        props = tables[name]["Properties"]
        schema = model._get_schema()
        assert {(k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]} == {
            (k["AttributeName"], k["KeyType"]) for k in schema["key_schema"]
        }
        indexes = {i["index_name"] for i in schema["global_secondary_indexes"]}
        assert {i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])} >= indexes
        # each index projects what its model declares (an index's write units follow its projection)
        deployed = {i["IndexName"]: i["Projection"] for i in props.get("GlobalSecondaryIndexes", [])}
        for index in schema["global_secondary_indexes"]:
            declared = index["projection"]
            assert deployed[index["index_name"]]["ProjectionType"] == declared["ProjectionType"]
            assert set(deployed[index["index_name"]].get("NonKeyAttributes", [])) == set(
                declared.get("NonKeyAttributes", [])
            )
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"] == {"SSEEnabled": True}
        ttl = model._ttl_attribute()
        if ttl is not None:
            assert props["TimeToLiveSpecification"] == {"AttributeName": ttl.attr_name, "Enabled": True}


def test_photo_uploads_reach_the_ingestion_queue_with_dead_letters(packaged):
    resources = packaged["Resources"]
    bucket = resources["PhotoBucket"]
    props = bucket["Properties"]
    assert props["BucketName"] == "procure-prod-photos"
    assert "PhotoQueuePolicy" in bucket["DependsOn"]
    (notification,) = props["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Queue"] == {"Fn::GetAtt": ["PhotoQueue", "Arn"]}
    assert notification["Filter"]["S3Key"]["Rules"] == [
        {"Name": "prefix", "Value": config.PHOTO_UPLOAD_PREFIX}
    ]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert "POST" in props["CorsConfiguration"]["CorsRules"][0]["AllowedMethods"]
    (quarantine,) = [r for r in props["LifecycleConfiguration"]["Rules"] if r.get("Prefix") == "quarantine/"]
    assert quarantine["ExpirationInDays"] == 30 and quarantine["Status"] == "Enabled"
    photos = pytest.importorskip("chalicelib.photos")
    assert getattr(photos, "QUARANTINE_PREFIX", "quarantine/") == template.QUARANTINE_PREFIX

    (statement,) = resources["PhotoQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    queue = resources["PhotoQueue"]["Properties"]
    assert queue["QueueName"] == "procure-prod-photo-events"
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["PhotoDeadLetterQueue", "Arn"]}
    assert resources["PhotoDeadLetterQueue"]["Properties"]["QueueName"] == "procure-prod-photo-events-dlq"
    # Lambda refuses an event source whose queue hides messages for less than the function's timeout
    photo_events = resources[_function_of(packaged, "app.photo_events")]
    assert queue["VisibilityTimeout"] >= 6 * photo_events["Properties"]["Timeout"]


def test_cognito_pool_client_and_staff_groups(packaged):
    resources = packaged["Resources"]
    pool = resources["UserPool"]["Properties"]
    assert pool["UsernameAttributes"] == ["email"]
    client = resources["UserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False
    assert set(client["ExplicitAuthFlows"]) == {
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }
    groups = {g["Properties"]["GroupName"] for g in of_type(packaged, "AWS::Cognito::UserPoolGroup").values()}
    assert groups == set(auth.STAFF_GROUPS) == {"reviewer", "warehouse", "admin"}


def test_the_package_deploys_managed_login_for_the_storefront(packaged):
    """Issue 26, item 6: the hosted UI's domain, the code flow on the storefront client, its URLs asked."""
    (domain,) = of_type(packaged, "AWS::Cognito::UserPoolDomain").values()
    assert domain["Properties"]["UserPoolId"] == {"Ref": "UserPool"}
    client = packaged["Resources"]["UserPoolClient"]["Properties"]
    assert client["AllowedOAuthFlows"] == ["code"] and client["GenerateSecret"] is False
    for url_list in ("CallbackURLs", "LogoutURLs"):
        assert packaged["Parameters"][client[url_list]["Ref"]]["Type"] == "CommaDelimitedList"
    assert "UserPoolDomain" in packaged["Outputs"]["ManagedLoginURL"]["Value"]["Fn::Sub"]


def test_ses_configuration_set_and_every_template(packaged):
    assert of_type(packaged, "AWS::SES::ConfigurationSet")
    names = {
        t["Properties"]["Template"]["TemplateName"] for t in of_type(packaged, "AWS::SES::Template").values()
    }
    assert names == {f"procure-prod-{name}" for name in emails.TEMPLATES}


def test_the_template_describes_what_provisioning_creates_locally(stack):
    """provision.py (make run, tests) and infra/template.py (AWS) describe the same resources."""
    from chalicelib import aws

    test = Stage.load("test")
    photos = template.photo_resources(test, 60)
    cors = aws.client("s3").get_bucket_cors(Bucket=stack["bucket"])["CORSRules"]
    assert [{k: r[k] for k in template.PHOTO_CORS_RULE} for r in cors] == [template.PHOTO_CORS_RULE]
    (local,) = aws.client("s3").get_bucket_notification_configuration(Bucket=stack["bucket"])[
        "QueueConfigurations"
    ]
    (cloud,) = photos["PhotoBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert local["Events"] == [cloud["Event"]]
    assert local["Filter"]["Key"]["FilterRules"] == [
        {"Name": r["Name"], "Value": r["Value"]} for r in cloud["Filter"]["S3Key"]["Rules"]
    ]
    sqs = aws.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=stack["photo_queue_url"], AttributeNames=["All"])[
        "Attributes"
    ]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == template.PHOTO_DLQ_MAX_RECEIVES
    assert redrive["deadLetterTargetArn"].endswith(":" + test.dead_letter_queue)
    assert stack["photo_queue_url"].endswith("/" + test.queue)

    idp = aws.client("cognito-idp")
    pool = idp.describe_user_pool(UserPoolId=stack["user_pool_id"])["UserPool"]
    assert pool["Name"] == test.user_pool_name
    assert pool["UsernameAttributes"] == ["email"]
    password = pool["Policies"]["PasswordPolicy"]
    assert {k: password[k] for k in template.USER_POOL_PASSWORD_POLICY} == template.USER_POOL_PASSWORD_POLICY
    client = idp.describe_user_pool_client(UserPoolId=stack["user_pool_id"], ClientId=stack["client_id"])
    assert client["UserPoolClient"]["ClientName"] == template.USER_POOL_CLIENT_NAME
    assert sorted(client["UserPoolClient"]["ExplicitAuthFlows"]) == sorted(template.USER_POOL_AUTH_FLOWS)
    groups = {g["GroupName"] for g in idp.list_groups(UserPoolId=stack["user_pool_id"])["Groups"]}
    cloud_groups = template.cognito_resources(test)
    assert groups == {
        r["Properties"]["GroupName"] for k, r in cloud_groups.items() if k.startswith("UserPoolGroup")
    }

    ses = aws.client("ses")
    for resource in template.email_resources(test).values():
        if resource["Type"] != "AWS::SES::Template":
            continue
        cloud_template = resource["Properties"]["Template"]
        local_template = ses.get_template(TemplateName=cloud_template["TemplateName"])["Template"]
        assert {k: local_template.get(k) for k in cloud_template} == cloud_template

    dynamodb = aws.client("dynamodb")
    for table in template.tables(test).values():
        props = table["Properties"]
        described = dynamodb.describe_table(TableName=props["TableName"])["Table"]
        assert {i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])} == {
            i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])
        }, props["TableName"]
        local = {i["IndexName"]: i["Projection"] for i in described.get("GlobalSecondaryIndexes", [])}
        for index in props.get("GlobalSecondaryIndexes", []):
            assert local[index["IndexName"]]["ProjectionType"] == index["Projection"]["ProjectionType"], (
                props["TableName"],
                index["IndexName"],
            )


# -- (2) every route has an auth decision ---------------------------------------------------------


def _registered(application) -> set[tuple[str, str]]:
    """Every (method, path) of the app but the CORS preflights route() adds itself (public, no data)."""
    return {
        (method, path)
        for path, methods in application.routes.items()
        for method in methods
        if not (method == "OPTIONS" and path in PREFLIGHT_PATHS)
    }


def test_every_route_has_an_auth_decision(application):
    specs = {(s.method, s.path): s for s in ROUTES}
    registered = _registered(application)
    undeclared = sorted(registered - set(specs))
    assert undeclared == [], f"register these through chalicelib.web.route (auth, roles): {undeclared}"
    public = {r for r in registered if specs[r].public}
    assert public - PUBLIC_ROUTES == set(), "public routes missing from PUBLIC_ROUTES (say so)"
    # The app verifies ID tokens itself (chalicelib/auth.py), the same way in chalice local, tests
    # and AWS; no API Gateway authorizer is configured (see README, "Deploy to AWS").
    with_authorizer = sorted(
        (method, path)
        for path, entries in application.routes.items()
        for method, entry in entries.items()
        if entry.authorizer is not None
    )
    assert with_authorizer == []


def test_every_non_public_route_rejects_an_anonymous_caller(application):
    specs = {(s.method, s.path): s for s in ROUTES}
    private = sorted(r for r in _registered(application) if not specs[r].public)
    assert ("GET", "/me") in private
    with Client(application, stage_name="test", project_dir=str(ROOT)) as client:
        for method, path in private:
            concrete = re.sub(r"\{(\w+)\}", r"\1_x", path)
            response = client.http.request(method, concrete, headers={"Content-Type": "application/json"})
            assert response.status_code == 401, (
                f"{method} {path} answered {response.status_code} without a token"
            )
            assert json.loads(response.body)["error"]["code"] == "unauthorized"


# -- least privilege ------------------------------------------------------------------------------


def test_committed_policy_files_are_the_generated_ones():
    for name, document in template.policy_files().items():
        committed = (ROOT / ".chalice" / name).read_text()
        assert committed == template.render(document), (
            f".chalice/{name} is stale: run `.venv/bin/python -m infra.template --write-policies`"
        )


def test_policies_name_resources_not_wildcards():
    for name, document in template.policy_files().items():
        for statement in document["Statement"]:
            resources = statement["Resource"]
            if statement["Sid"] == "Tracing":  # X-Ray has no resource-level permissions
                assert statement["Action"] == template.TRACING_ACTIONS and resources == ["*"]
                continue
            assert resources != "*" and "*" not in resources, (name, statement["Sid"])
            assert "dynamodb:Scan" not in statement["Action"], "no Scan anywhere (docs/data-model.md)"
            assert not any(a.endswith(":*") for a in statement["Action"]), (name, statement["Sid"])


def _prod_policy_of(function: str) -> dict:
    return json.loads((ROOT / ".chalice" / Stage.load("prod").policy_file_of(function)).read_text())


def test_packaged_roles_carry_their_functions_policy_pinned_to_the_stack(application, packaged):
    models = chalice_sam.lambda_functions("prod", application)
    roles = of_type(packaged, "AWS::IAM::Role")
    assert len(roles) == len(template.functions(packaged)) == len(template.FUNCTION_GRANTS)
    for function in template.functions(packaged).values():
        name = models[function["Properties"]["Handler"]].resource_name
        (role_id, _) = function["Properties"]["Role"]["Fn::GetAtt"]
        (attached,) = roles[role_id]["Properties"]["Policies"]
        assert attached["PolicyDocument"] == template.pin(_prod_policy_of(name)), name
        sids = [s["Sid"] for s in attached["PolicyDocument"]["Statement"]]
        assert sids == [s for s in sids if s in template.FUNCTION_GRANTS[name]], name


# Where each function's code starts: the modules its handler imports (app.py, the middleware and
# the route modules for the API). Everything they import, at the top or inside functions, is reachable.
ENTRY_MODULES = {
    "api_handler": [
        "chalicelib.routing",
        "chalicelib.web",
        *__import__("chalicelib.routing").routing.BLUEPRINTS,
    ],
    "photo_events": ["chalicelib.events.photos", "chalicelib.events.s3_records"],
    "outbox_events": ["chalicelib.events.outbox"],
    "storage_sweep": ["chalicelib.jobs.storage_sweep"],
    "auto_confirm_receipt": ["chalicelib.jobs.auto_confirm"],
    "message_emails": ["chalicelib.jobs.message_emails"],
    "heartbeat": ["chalicelib.jobs.heartbeat"],
    "exchange_rates": ["chalicelib.jobs.exchange_rates"],
}
ALWAYS = ["chalicelib.observability", "chalicelib.metrics", "chalicelib.logs", "chalicelib.config"]
# files a function imports but whose AWS calls it never makes (the import graph over-approximates)
# chalicelib/uow.py imports idempotency for an HTTP request's Idempotency-Key claim; jobs and events
# hold none, so its S3 fallback (an answer too large for a DynamoDB item) never runs there
_NO_CLAIM = "chalicelib/idempotency.py"
IMPORTED_NOT_CALLED = {
    # chalicelib/warehouse.py looks customers up (users) in staff routes the jobs never take: their
    # emails are outbox events, addressed by outbox_events
    # chalicelib/photo_requests.py refunds a request with the abandonment (tables only); the photos it
    # imports presign uploads and GETs (photo_urls signs CloudFront URLs) in routes and emails, never in jobs
    "storage_sweep": {"chalicelib/users.py", _NO_CLAIM, "chalicelib/photos.py", "chalicelib/photo_urls.py"},
    "auto_confirm_receipt": {
        "chalicelib/users.py",
        _NO_CLAIM,
        "chalicelib/photos.py",
        "chalicelib/photo_urls.py",
    },
    "heartbeat": {_NO_CLAIM},
    "message_emails": {_NO_CLAIM},
}


def _module_file(module: str) -> Path | None:
    base = ROOT / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def reachable_files(modules: list[str]) -> set[str]:
    """Every chalicelib file imported, directly or not, at any depth (lazy imports included)."""
    seen: set[str] = set()
    pending = list(modules)
    while pending:
        module = pending.pop()
        path = _module_file(module)
        if path is None or path.relative_to(ROOT).as_posix() in seen:
            continue
        seen.add(path.relative_to(ROOT).as_posix())
        tree = _lambda_code(path)  # local-only code (provisioning) is imported for constants, never run
        for node in ast.walk(tree) if tree is not None else []:
            if isinstance(node, ast.Import):
                pending.extend(a.name for a in node.names if a.name.startswith("chalicelib"))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chalicelib"):
                pending.append(node.module)
                pending.extend(f"{node.module}.{a.name}" for a in node.names)
    return seen


def test_each_function_is_granted_what_its_code_calls_and_nothing_it_never_calls(application, packaged):
    assert set(ENTRY_MODULES) == set(template.FUNCTION_GRANTS)
    used = aws_actions_used()
    sqs_consumers = {
        name
        for name, f in (
            (chalice_sam.lambda_functions("prod", application)[f["Properties"]["Handler"]], f)
            for f in template.functions(packaged).values()
        )
        for name in [name.resource_name]
        if any(e["Type"] == "SQS" for e in (f["Properties"].get("Events") or {}).values())
    }
    stream_consumers = {
        chalice_sam.lambda_functions("prod", application)[f["Properties"]["Handler"]].resource_name
        for f in template.functions(packaged).values()
        if any(e["Type"] == "DynamoDB" for e in (f["Properties"].get("Events") or {}).values())
    }
    for function, entries in ENTRY_MODULES.items():
        files = reachable_files(entries + ALWAYS) - IMPORTED_NOT_CALLED.get(function, set())
        calls = {action for action, where in used.items() if where & files}
        statements = {s["Sid"]: s["Action"] for s in _prod_policy_of(function)["Statement"]}
        granted = {a for actions in statements.values() for a in actions}
        assert calls <= granted, (function, sorted(calls - granted))
        for sid in ("Photos", "Email", "Users"):  # AWS APIs the code calls itself (DynamoDB is PynamoDB's)
            assert (sid in statements) == bool(calls & set(template._by_sid(sid))), (function, sid)
        assert ("PhotoEvents" in statements) == (function in sqs_consumers), function
        assert ("OutboxStream" in statements) == (function in stream_consumers), function


def _python_files() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]


def _lambda_code(path: Path) -> ast.AST | None:
    """The module's AST without the functions that only run locally (LOCAL_ONLY)."""
    relative = path.relative_to(ROOT).as_posix()
    if relative in LOCAL_ONLY and LOCAL_ONLY[relative] is None:
        return None
    tree = ast.parse(path.read_text())
    skipped = LOCAL_ONLY.get(relative) or set()
    tree.body = [n for n in tree.body if not (isinstance(n, ast.FunctionDef) and n.name in skipped)]
    return tree


def aws_actions_used() -> dict[str, set[str]]:
    """{IAM action: files} for every boto3 call made through chalicelib.aws.client in Lambda code."""
    import botocore.session
    from botocore import xform_name

    loader = botocore.session.get_session()
    used: dict[str, set[str]] = {}
    for path in _python_files():
        tree = _lambda_code(path)
        if tree is None:
            continue
        services = {
            node.args[0].value
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "client"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        }
        names = {
            n.func.attr
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
        }
        names |= {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        for service in services:
            model = loader.get_service_model(service)
            prefix = model.signing_name
            operations = {xform_name(op): op for op in model.operation_names}
            for name in names:
                actions = ACTION_ALIASES.get((service, name)) or (
                    [f"{prefix}:{operations[name]}"] if name in operations else []
                )
                for action in actions:
                    used.setdefault(action, set()).add(path.relative_to(ROOT).as_posix())
    return used


def test_every_aws_call_in_lambda_code_is_granted():
    granted = {
        a for f in template.FUNCTION_GRANTS for s in _prod_policy_of(f)["Statement"] for a in s["Action"]
    }
    used = aws_actions_used()
    assert "ses:SendTemplatedEmail" in used  # the scan finds calls
    missing = {action: sorted(files) for action, files in used.items() if action not in granted}
    assert missing == {}, "grant these in infra/template.py, then --write-policies"


def test_request_code_never_needs_describe_table():
    """PynamoDB calls DescribeTable only for Model.exists()/describe_table()/count() without a key;
    the policy does not grant it, so Lambda code must not call them."""
    models = {m.__name__ for m in all_models()} | {m.__name__ for m in template._loaded_models()}
    offending = []
    for path in _python_files():
        tree = _lambda_code(path)
        for node in ast.walk(tree) if tree is not None else []:
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in models
                and (
                    node.func.attr in {"exists", "describe_table"}
                    or (node.func.attr == "count" and not node.args and not node.keywords)
                )
            ):
                offending.append(
                    f"{path.relative_to(ROOT)}:{node.lineno} {node.func.value.id}.{node.func.attr}()"
                )
    assert offending == []


# -- throttling the public API (issue 21: the marketplace quota) --------------------------------------


def test_the_stage_and_the_public_marketplace_routes_are_throttled(application, packaged):
    settings = packaged["Resources"]["RestAPI"]["Properties"]["MethodSettings"]
    by_path = {(s["ResourcePath"], s["HttpMethod"]): s for s in settings}
    default = by_path[("/*", "*")]
    assert default["ThrottlingRateLimit"] == {"Ref": "ApiThrottleRate"}
    assert default["ThrottlingBurstLimit"] == {"Ref": "ApiThrottleBurst"}
    for path, method in template.MARKETPLACE_ROUTES:
        assert method in application.routes[path]  # a route the app really has
        setting = by_path[(template.resource_path(path), method)]
        assert setting["ThrottlingRateLimit"] == {"Ref": "MarketplaceThrottleRate"}
    assert template.resource_path("/products/{product_id}") == "/~1products~1{product_id}"
    parameters = packaged["Parameters"]
    assert parameters["MarketplaceThrottleRate"]["Default"] < parameters["ApiThrottleRate"]["Default"]


def test_an_optional_waf_rate_rule_blocks_one_flooding_address(packaged):
    parameter = packaged["Parameters"][template.WAF_RATE_PARAMETER]
    assert parameter["Default"] == 0  # off unless the operator sets a limit
    acl = packaged["Resources"]["ApiWebAcl"]
    assert acl["Type"] == "AWS::WAFv2::WebACL" and acl["Condition"] == "UseWaf"
    (rule,) = acl["Properties"]["Rules"]
    assert rule["Action"] == {"Block": {}}
    assert rule["Statement"]["RateBasedStatement"] == {
        "Limit": {"Ref": template.WAF_RATE_PARAMETER},
        "AggregateKeyType": "IP",
    }
    association = packaged["Resources"]["ApiWebAclAssociation"]
    assert association["Condition"] == "UseWaf"
    assert "${RestAPI}/stages/${RestAPI.Stage}" in association["Properties"]["ResourceArn"]["Fn::Sub"]
    assert packaged["Conditions"]["UseWaf"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": template.WAF_RATE_PARAMETER}, 0]}]
    }
