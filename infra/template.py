"""CloudFormation for everything the app needs in AWS, and the IAM policy of each stage, from the code.

`make package` runs `python -m infra.template --stage prod --output out/infra-prod.json`, then
`chalice package --stage prod --merge-template out/infra-prod.json out`. Chalice deep-merges this
template into the SAM template it generates (functions, roles, API, schedules, SQS event sources), so:

- resources come from the same sources of truth as `infra/local/provision.py` (the local stack):
  one DynamoDB table per model in `chalicelib.models.all_models()` (keys, GSIs, LSIs, projections and
  TTL read from the PynamoDB classes), the photo bucket wired to the photo queue (with its dead-letter
  queue), the Cognito pool, client and staff groups, the SES templates of `chalicelib.emails`;
- every function Chalice generates (found by building Chalice's own template in-process, see
  `infra/chalice_sam.py`) gets a fixed name, a log group, and environment variables pointing at
  these resources; SQS event sources are pointed at the stack's queues and report partial batch
  failures (`FunctionResponseTypes: [ReportBatchItemFailures]`, which Chalice does not render);
- the stage policy files (`.chalice/policy-<stage>.json`, `autogen_policy: false`) are generated
  here too (`--write-policies`), and the packaged roles get them with region, account and the user
  pool pinned to the stack.

New models, handlers and templates are picked up without editing this file.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass
from typing import Any

from infra import chalice_sam, monitoring

# -- settings that exist only in AWS (the local stack has no equivalent) ----------------------------
QUARANTINE_PREFIX = "quarantine/"  # where ingestion moves rejected uploads (chalicelib/photos.py)
QUARANTINE_DAYS = 30  # after which S3 deletes them
PHOTO_ORIGINALS_PREFIX = "qc/"  # uploads (config.PHOTO_UPLOAD_PREFIX); thumbnails are thumbs/
PHOTO_ORIGINAL_TRANSITION_DAYS = 60  # originals to Glacier Instant Retrieval (stack parameter default)
# originals deleted this long after upload (0: never). Photos are taken on arrival; goods are stored up
# to 90 days and shipped within weeks, so 365 days is about 8 months after a typical delivery.
PHOTO_ORIGINAL_EXPIRATION_DAYS = 365
LOG_RETENTION_DAYS = 30  # unless .chalice/config.json sets log_retention_in_days
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the SQS maximum: time to look at a poisoned photo event
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600  # the SQS default, stated
# every queue and stream handler answers `{"batchItemFailures": [...]}`: only those records come back
BATCH_RESPONSE_TYPES = ("ReportBatchItemFailures",)
# a stream record is retried this long (the stream keeps records 24 hours): an SES outage up to a day
# delays emails; longer, the events wait in the outbox table (docs/operations.md)
STREAM_MAX_RECORD_AGE_SECONDS = 24 * 3600
VISIBILITY_TIMEOUT_FACTOR = 6  # AWS: queue visibility timeout >= 6 x the consuming function's timeout
WEBHOOK_SECRET_PARAMETER = "PaymentWebhookSecret"  # noqa: S105 - a parameter name, not a secret
CURSOR_SECRET_PARAMETER = "CursorSecret"  # noqa: S105 - a parameter name, not a secret
CORS_ORIGINS_PARAMETER = "CorsAllowedOrigins"
CORS_ORIGINS_PATTERN = r"^https://[^,*\s/]+(,https://[^,*\s/]+)*$"  # exact https origins; never *
RETAINED = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}  # data: tables, photos, users
DISPOSABLE = {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}  # queues, logs: said explicitly

# -- the staff console (console/): a private bucket behind CloudFront ---------------------------------
# AWS managed CloudFront cache policies
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
# AWS managed origin request policy: every viewer header (Authorization, Idempotency-Key...), cookie and
# query string, but not Host (API Gateway routes on its own host name); allowed to carry Authorization
# only with caching disabled (docs/deploy.md cites the pages)
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]
CONSOLE_CONFIG = "config.json"  # written at deploy time by infra/console_deploy.py (docs/deploy.md)
HSTS_SECONDS = 2 * 365 * 24 * 3600

# -- photos through CloudFront (issue 27; chalicelib/photo_urls.py signs the URLs) ----------------------
PHOTO_SIGNING_KEY_PARAMETER = "PhotoSigningPublicKey"
PHOTO_CDN_PREFIXES = ("views/", "thumbs/")  # photos.VIEW_PREFIX, photos.THUMB_PREFIX: JPEGs we made
# a signed URL is the same all day (photo_urls.expiry) and lives 1-2 days in answers: browsers keep the
# image that long; `private`: shared caches between CloudFront and the viewer keep nothing
PHOTO_VIEWER_CACHE_CONTROL = "private, max-age=172800, immutable"

# -- mirrored from infra/local/provision.py (tests/integration/test_deployable.py compares the two) --
PHOTO_CORS_RULE = {"AllowedMethods": ["POST", "GET"], "AllowedOrigins": ["*"], "AllowedHeaders": ["*"]}
PHOTO_DLQ_MAX_RECEIVES = 5
USER_POOL_PASSWORD_POLICY = {"MinimumLength": 10, "RequireNumbers": True, "RequireSymbols": False}
USER_POOL_CLIENT_NAME = "storefront"
USER_POOL_AUTH_FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]
# managed login (docs/storefront-auth.md): the storefront client's authorization code flow; a public
# client (no secret), so the storefront must send PKCE's code_challenge
STOREFRONT_OAUTH = {
    "AllowedOAuthFlowsUserPoolClient": True,
    "AllowedOAuthFlows": ["code"],
    "AllowedOAuthScopes": ["openid", "email"],
    "SupportedIdentityProviders": ["COGNITO"],
}
CALLBACK_URLS_PARAMETER = "StorefrontCallbackUrls"
LOGOUT_URLS_PARAMETER = "StorefrontLogoutUrls"
MANAGED_LOGIN_VERSION = 1  # the classic hosted UI: version 2 also needs a ManagedLoginBranding per client
# Cognito's feature plan, set because a pool that names none is ESSENTIALS ($0.015 per MAU past the free
# 10,000, Lite $0.0055: docs/cost.md); Lite has what we use: passwords, the classic hosted UI, groups
USER_POOL_TIER = "LITE"

# What the code does with each AWS service (the IAM actions of every stage policy). PynamoDB 6 builds
# table metadata from the model classes, so request paths never call DescribeTable (only
# Model.exists()/describe_table()/count() without a key do, which the test forbids outside
# provisioning); TransactWriteItems is authorised per item (Put/Update/Delete/ConditionCheckItem).
TABLE_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
]
INDEX_ACTIONS = ["dynamodb:Query"]
# presigned POST uploads are signed with the function's role (PutObject); ingestion reads a photo
# (GetObject, also needed for HeadObject) and moves a rejected one to quarantine/ (Put + Delete)
PHOTO_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
# what a Lambda SQS event source mapping needs from the function's role
QUEUE_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
# what a Lambda DynamoDB stream event source mapping needs from the function's role
STREAM_ACTIONS = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
]
EMAIL_ACTIONS = ["ses:SendTemplatedEmail"]
USER_ACTIONS = ["cognito-idp:ListUsers"]  # chalicelib/users.py: a user's email by sub
LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]  # the stack creates the log groups
# the marketplace API credentials: one secret per stage, read once per container (docs/sources.md)
SECRET_ACTIONS = ["secretsmanager:GetSecretValue"]
SOURCE_CREDENTIALS_SECRET = "{prefix}/marketplace-credentials"  # noqa: S105 - a name, not a secret
# the photo URL signing key (PEM): its own secret, so ingestion and the outbox read no payment or
# marketplace credentials (chalicelib/photo_urls.py)
PHOTO_KEY_SECRET = "{prefix}/photo-signing-key"  # noqa: S105 - a name, not a secret
# the console's origin, for the API's CORS: a parameter named from the stage (a reference would be a cycle)
SSM_ACTIONS = ["ssm:GetParameter"]
CONSOLE_ORIGIN_PARAMETER = "/{prefix}/console-origin"
# X-Ray has no resource-level permissions: the one statement whose Resource is "*" (stages with xray)
TRACING_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]

# What each function calls (statement Sids of _stage_statements), for stages whose `lambda_functions`
# give functions their own policy file (prod). tests/integration/test_deployable.py checks these against
# the AWS calls reachable from each handler's imports. A function missing here gets every statement.
FUNCTION_GRANTS: dict[str, tuple[str, ...]] = {
    # routes: tables, presigned photo uploads/GETs, users by email and sub (staff forms) and the
    # marketplace API credentials (chalicelib/catalog/credentials.py) for the product sources; emails
    # are outbox events, sent by outbox_events
    "api_handler": (
        "Logs",
        "Tables",
        "TableIndexes",
        "Photos",
        "Users",
        "SourceCredentials",
        "PhotoSigningKey",
        "ConsoleOrigin",
        "Tracing",
    ),
    # reads the upload, writes the thumbnail, quarantines; consumes the photo queue; sends nothing, but
    # the photos-ready notice it may claim carries the photos' signed links (PhotoSigningKey)
    "photo_events": (
        "Logs",
        "Tables",
        "TableIndexes",
        "Photos",
        "PhotoEvents",
        "PhotoSigningKey",
        "Tracing",
    ),
    # the outbox's stream: the recipient's address (Cognito), the email (SES), the event marked sent;
    # its tasks read items and parcels; the photos-ready email's presigned GETs (no CloudFront key)
    # need s3:GetObject
    "outbox_events": (
        "Logs",
        "Tables",
        "Email",
        "Users",
        "OutboxStream",
        "Photos",
        "PhotoSigningKey",  # the CloudFront links of the photos-ready emails
        "Tracing",
    ),
    # reminders and notices are outbox events written with their changes; no photos, no queue
    "storage_sweep": ("Logs", "Tables", "TableIndexes", "Tracing"),
    "auto_confirm_receipt": ("Logs", "Tables", "TableIndexes", "Tracing"),
    # staff replies due to be emailed: outbox events written in the threads' transactions
    "message_emails": ("Logs", "Tables", "TableIndexes", "Tracing"),
    # counts overdue reviews (one Query per queue shard)
    "heartbeat": ("Logs", "Tables", "TableIndexes", "Tracing"),
    # reads the rate source over HTTPS (no AWS call) and writes the exchange-rates table (no index)
    "exchange_rates": ("Logs", "Tables", "Tracing"),
}


@dataclass(frozen=True)
class Stage:
    """One Chalice stage: its resource names, all from .chalice/config.json."""

    name: str
    app_name: str
    env: dict[str, str]
    policy_file: str
    xray: bool = False
    function_policy_files: tuple[tuple[str, str], ...] = ()  # (function, file) from lambda_functions

    @classmethod
    def load(cls, name: str) -> Stage:
        config = chalice_sam.project_config()
        stage = config["stages"][name]
        functions = stage.get("lambda_functions") or {}
        return cls(
            name=name,
            app_name=config["app_name"],
            env=chalice_sam.stage_environment(name),
            policy_file=stage.get("iam_policy_file") or config.get("iam_policy_file") or "policy.json",
            xray=bool(stage.get("xray", config.get("xray", False))),
            function_policy_files=tuple(
                (function, settings["iam_policy_file"])
                for function, settings in sorted(functions.items())
                if settings.get("iam_policy_file")
            ),
        )

    @property
    def api_stage(self) -> str:
        return chalice_sam.project_config()["stages"][self.name].get("api_gateway_stage", "api")

    def policy_file_of(self, function: str) -> str:
        return dict(self.function_policy_files).get(function, self.policy_file)

    def functions_using(self, policy_file: str) -> list[str | None]:
        """The functions whose policy is `policy_file` (None: every function without a file of its own)."""
        own = [f for f, name in self.function_policy_files if name == policy_file]
        if policy_file != self.policy_file:
            return own
        if not self.function_policy_files:
            return [None]
        overridden = {f for f, _ in self.function_policy_files}
        return own + [f for f in FUNCTION_GRANTS if f not in overridden]

    @property
    def prefix(self) -> str:
        return self.env["TABLE_PREFIX"]

    @property
    def bucket(self) -> str:
        return self.env["PHOTO_BUCKET"]

    @property
    def queue(self) -> str:
        return self.env["PHOTO_QUEUE"]

    @property
    def dead_letter_queue(self) -> str:
        return self.queue + "-dlq"  # as provision.create_queues names it

    @property
    def sender(self) -> str:
        return self.env["EMAIL_SENDER"]

    @property
    def user_pool_name(self) -> str:
        return self.prefix + "-users"  # as provision.create_user_pool names it

    @property
    def configuration_set(self) -> str:
        return self.prefix + "-email"

    @property
    def function_prefix(self) -> str:
        return f"{self.app_name}-{self.name}"

    def table_name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def template_name(self, name: str) -> str:
        return f"{self.prefix}-{name}"  # as chalicelib.emails.template_name names it


def cfn_name(*parts: str) -> str:
    from chalice.utils import to_cfn_resource_name

    return to_cfn_resource_name("-".join(parts))


# -- DynamoDB -------------------------------------------------------------------------------------


def table_suffix(model: type) -> str:
    """`orders` for the table `<TABLE_PREFIX>-orders` (models are named by base.table_meta)."""
    from chalicelib import config

    prefix = config.get("TABLE_PREFIX") + "-"
    name = model.Meta.table_name
    if not name.startswith(prefix):
        raise ValueError(f"{model.__name__}: table {name!r} is not named '{prefix}<suffix>' (use table_meta)")
    return name[len(prefix) :]


def _loaded_models() -> list[type]:
    from pynamodb.models import Model

    found, pending = [], list(Model.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("chalicelib.") and getattr(
            getattr(cls, "Meta", None), "table_name", None
        ):
            found.append(cls)
    return found


def _keys(key_schema: list[dict]) -> list[dict]:
    return sorted(
        ({"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in key_schema),
        key=lambda k: k["KeyType"] != "HASH",
    )


def _index(schema: dict) -> dict:
    projection = {"ProjectionType": schema["projection"]["ProjectionType"]}
    if schema["projection"].get("NonKeyAttributes"):
        projection["NonKeyAttributes"] = list(schema["projection"]["NonKeyAttributes"])
    return {
        "IndexName": schema["index_name"],
        "KeySchema": _keys(schema["key_schema"]),
        "Projection": projection,
    }


def table_resource(stage: Stage, model: type, sharing: list[type] = ()) -> dict:
    """The AWS::DynamoDB::Table of `model` (and of models sharing its table: their indexes too)."""
    if getattr(model.Meta, "billing_mode", "PAY_PER_REQUEST") != "PAY_PER_REQUEST":
        raise ValueError(f"{model.__name__}: tables are on-demand (PAY_PER_REQUEST)")
    schema = model._get_schema()
    attributes: dict[str, str] = {}
    indexes: dict[str, dict[str, dict]] = {"global_secondary_indexes": {}, "local_secondary_indexes": {}}
    ttl_names = set()
    for each in [model, *sharing]:
        each_schema = each._get_schema()
        if _keys(each_schema["key_schema"]) != _keys(schema["key_schema"]):
            raise ValueError(f"{each.__name__} and {model.__name__} share a table but not its keys")
        for attr in each_schema["attribute_definitions"]:
            known = attributes.setdefault(attr["AttributeName"], attr["AttributeType"])
            if known != attr["AttributeType"]:
                raise ValueError(
                    f"{model.Meta.table_name}: {attr['AttributeName']} is both {known} and "
                    f"{attr['AttributeType']}"
                )
        for kind, found in indexes.items():
            for index_schema in each_schema[kind]:
                index = _index(index_schema)
                if found.setdefault(index["IndexName"], index) != index:
                    raise ValueError(f"{model.Meta.table_name}: index {index['IndexName']} is defined twice")
        ttl = each._ttl_attribute()
        if ttl is not None:
            ttl_names.add(ttl.attr_name)
    if len(ttl_names) > 1:
        raise ValueError(f"{model.Meta.table_name}: more than one TTL attribute: {sorted(ttl_names)}")

    properties: dict[str, Any] = {
        "TableName": stage.table_name(table_suffix(model)),
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()],
        "KeySchema": _keys(schema["key_schema"]),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
        "DeletionProtectionEnabled": True,
    }
    if indexes["global_secondary_indexes"]:
        properties["GlobalSecondaryIndexes"] = list(indexes["global_secondary_indexes"].values())
    if indexes["local_secondary_indexes"]:
        properties["LocalSecondaryIndexes"] = list(indexes["local_secondary_indexes"].values())
    if ttl_names:
        properties["TimeToLiveSpecification"] = {"AttributeName": ttl_names.pop(), "Enabled": True}
    stream = getattr(model.Meta, "stream_view_type", None)
    if stream:
        properties["StreamSpecification"] = {"StreamViewType": stream}
    return {
        "Type": "AWS::DynamoDB::Table",
        **RETAINED,
        "Properties": properties,
    }


def tables(stage: Stage, models: list[type] | None = None) -> dict[str, dict]:
    """{logical id: table} for every model of all_models(); one table per model."""
    from chalicelib.models import all_models

    everything = models is None
    models = all_models() if models is None else models
    listed = {m.Meta.table_name: m for m in models}
    if len(listed) != len(models):
        raise ValueError("all_models() lists a table twice: list one model per table")
    for other in _loaded_models() if everything else []:
        if other.Meta.table_name not in listed:
            raise ValueError(
                f"{other.__module__}.{other.__name__} uses table {other.Meta.table_name!r}, which "
                "all_models() does not list: it would exist neither locally nor in AWS"
            )
    resources = {}
    for name, model in listed.items():
        sharing = [m for m in _loaded_models() if m.Meta.table_name == name and m is not model]
        resources[cfn_name(table_suffix(model), "table")] = table_resource(stage, model, sharing)
    return resources


# -- photos: bucket -> queue (+ dead letters) -----------------------------------------------------


# what every bucket of ours is: encrypted at rest, never public, objects owned by the bucket owner
PRIVATE_BUCKET = {
    "BucketEncryption": {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    },
    "PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    },
    "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
}


def photo_resources(stage: Stage, visibility_timeout: int) -> dict[str, dict]:
    from chalicelib.config import IDEMPOTENCY_PREFIX, PHOTO_UPLOAD_PREFIX

    bucket_arn = {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{stage.bucket}"}
    return {
        "PhotoDeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            **DISPOSABLE,
            "Properties": {
                "QueueName": stage.dead_letter_queue,
                "MessageRetentionPeriod": DLQ_RETENTION_SECONDS,
                "SqsManagedSseEnabled": True,
            },
        },
        "PhotoQueue": {
            "Type": "AWS::SQS::Queue",
            **DISPOSABLE,
            "Properties": {
                "QueueName": stage.queue,
                "VisibilityTimeout": visibility_timeout,
                "MessageRetentionPeriod": QUEUE_RETENTION_SECONDS,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["PhotoDeadLetterQueue", "Arn"]},
                    "maxReceiveCount": PHOTO_DLQ_MAX_RECEIVES,
                },
            },
        },
        "PhotoQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": "PhotoQueue"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "PhotoBucketNotifications",
                            "Effect": "Allow",
                            "Principal": {"Service": "s3.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": ["PhotoQueue", "Arn"]},
                            "Condition": {
                                "ArnEquals": {"aws:SourceArn": bucket_arn},
                                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                            },
                        }
                    ],
                },
            },
        },
        "PhotoBucket": {
            "Type": "AWS::S3::Bucket",
            # S3 checks it may send to the queue when the notification is configured
            "DependsOn": ["PhotoQueuePolicy"],
            **RETAINED,
            "Properties": {
                "BucketName": stage.bucket,
                **copy.deepcopy(PRIVATE_BUCKET),
                "CorsConfiguration": {"CorsRules": [{**copy.deepcopy(PHOTO_CORS_RULE), "MaxAge": 3000}]},
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Id": "expire-quarantine",
                            "Status": "Enabled",
                            "Prefix": QUARANTINE_PREFIX,
                            "ExpirationInDays": QUARANTINE_DAYS,
                        },
                        {
                            "Id": "expire-idempotency-responses",
                            "Status": "Enabled",
                            "Prefix": IDEMPOTENCY_PREFIX,
                            "ExpirationInDays": 2,
                        },
                        {
                            # originals are looked at while the goods are in the warehouse; thumbnails
                            # (thumbs/) stay in S3 Standard for as long as the item exists (docs/cost.md)
                            "Id": "photo-originals-to-glacier-ir",
                            "Status": "Enabled",
                            "Prefix": PHOTO_ORIGINALS_PREFIX,
                            "Transitions": [
                                {
                                    "StorageClass": "GLACIER_IR",
                                    "TransitionInDays": {"Ref": "PhotoOriginalTransitionDays"},
                                }
                            ],
                        },
                        {
                            "Id": "photo-originals-expire",
                            "Status": {"Fn::If": ["ExpirePhotoOriginals", "Enabled", "Disabled"]},
                            "Prefix": PHOTO_ORIGINALS_PREFIX,
                            "ExpirationInDays": {
                                "Fn::If": [
                                    "ExpirePhotoOriginals",
                                    {"Ref": "PhotoOriginalExpirationDays"},
                                    36500,
                                ]
                            },
                        },
                        {
                            "Id": "abort-incomplete-uploads",
                            "Status": "Enabled",
                            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                        },
                    ]
                },
                "NotificationConfiguration": {
                    "QueueConfigurations": [
                        {
                            "Event": "s3:ObjectCreated:*",
                            "Queue": {"Fn::GetAtt": ["PhotoQueue", "Arn"]},
                            "Filter": {
                                "S3Key": {"Rules": [{"Name": "prefix", "Value": PHOTO_UPLOAD_PREFIX}]}
                            },
                        }
                    ]
                },
            },
        },
        "PhotoBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "PhotoBucket"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [
                                {"Fn::GetAtt": ["PhotoBucket", "Arn"]},
                                {"Fn::Sub": "${PhotoBucket.Arn}/*"},
                            ],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                        {
                            "Sid": "CloudFrontReadsViewsAndThumbnails",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudfront.amazonaws.com"},
                            "Action": "s3:GetObject",
                            "Resource": [
                                {"Fn::Sub": f"${{PhotoBucket.Arn}}/{prefix}*"}
                                for prefix in PHOTO_CDN_PREFIXES
                            ],
                            "Condition": {
                                "StringEquals": {
                                    "AWS:SourceArn": {
                                        "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:"
                                        "distribution/${PhotoDistribution}"
                                    }
                                }
                            },
                        },
                    ],
                },
            },
        },
    }


def photo_cdn_resources(stage: Stage) -> dict[str, dict]:
    """The photo bucket's view copies and thumbnails through CloudFront: origin access control (CloudFront
    may read only views/ and thumbs/, see photo_bucket_statements), and only URLs signed with the key
    group's key (the private half is in PhotoSigningKeySecret). Nothing of the
    originals, quarantine or idempotency/ is reachable through it."""

    def behaviour(path: str | None) -> dict:
        return {
            **({"PathPattern": f"{path}*"} if path else {}),
            "TargetOriginId": "photo-bucket",
            "ViewerProtocolPolicy": "https-only",
            "AllowedMethods": ["GET", "HEAD"],
            "CachedMethods": ["GET", "HEAD"],
            "Compress": False,  # JPEGs
            # the cache key leaves the query string (the signature) out: one edge copy for every URL
            "CachePolicyId": CACHING_OPTIMIZED,
            "TrustedKeyGroups": [{"Ref": "PhotoKeyGroup"}],
            "ResponseHeadersPolicyId": {"Ref": "PhotoViewerHeaders"},
        }

    return {
        # created empty: operators put the private key's PEM with put-secret-value (docs/deploy.md)
        "PhotoSigningKeySecret": {
            "Type": "AWS::SecretsManager::Secret",
            **RETAINED,
            "Properties": {
                "Name": PHOTO_KEY_SECRET.format(prefix=stage.prefix),
                "Description": "PEM private key signing the photo URLs (PhotoSigningPublicKey's pair)",
            },
        },
        "PhotoSigningKey": {
            "Type": "AWS::CloudFront::PublicKey",
            "Properties": {
                "PublicKeyConfig": {
                    "Name": {"Fn::Sub": "${AWS::StackName}-photo-signing"},
                    "CallerReference": {"Fn::Sub": "${AWS::StackName}-photo-signing"},
                    "EncodedKey": {"Ref": PHOTO_SIGNING_KEY_PARAMETER},
                    "Comment": "Verifies the photo URLs the API signs (chalicelib/photo_urls.py)",
                }
            },
        },
        "PhotoKeyGroup": {
            "Type": "AWS::CloudFront::KeyGroup",
            "Properties": {
                "KeyGroupConfig": {
                    "Name": {"Fn::Sub": "${AWS::StackName}-photos"},
                    "Items": [{"Ref": "PhotoSigningKey"}],
                    "Comment": "The keys whose signed URLs the photo distribution accepts",
                }
            },
        },
        "PhotoOriginAccessControl": {
            "Type": "AWS::CloudFront::OriginAccessControl",
            "Properties": {
                "OriginAccessControlConfig": {
                    "Name": {"Fn::Sub": "${AWS::StackName}-photos"},
                    "Description": "CloudFront signs its requests to the private photo bucket",
                    "OriginAccessControlOriginType": "s3",
                    "SigningBehavior": "always",
                    "SigningProtocol": "sigv4",
                }
            },
        },
        "PhotoViewerHeaders": {
            "Type": "AWS::CloudFront::ResponseHeadersPolicy",
            "Properties": {
                "ResponseHeadersPolicyConfig": {
                    "Name": {"Fn::Sub": "${AWS::StackName}-photos"},
                    "Comment": "Photos: cached by the browser for as long as their URL lives",
                    "SecurityHeadersConfig": {"ContentTypeOptions": {"Override": True}},
                    "CustomHeadersConfig": {
                        "Items": [
                            {"Header": "Cache-Control", "Value": PHOTO_VIEWER_CACHE_CONTROL, "Override": True}
                        ]
                    },
                }
            },
        },
        "PhotoDistribution": {
            "Type": "AWS::CloudFront::Distribution",
            "Properties": {
                "DistributionConfig": {
                    "Comment": f"{stage.app_name} {stage.name} photo views and thumbnails",
                    "Enabled": True,
                    "HttpVersion": "http2and3",
                    "IPV6Enabled": True,
                    "PriceClass": "PriceClass_All",  # customers are abroad, everywhere
                    "Origins": [
                        {
                            "Id": "photo-bucket",
                            "DomainName": {"Fn::GetAtt": ["PhotoBucket", "RegionalDomainName"]},
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                            "OriginAccessControlId": {"Fn::GetAtt": ["PhotoOriginAccessControl", "Id"]},
                        }
                    ],
                    # anything else: signed URLs only too, and the bucket policy lets CloudFront read
                    # nothing outside PHOTO_CDN_PREFIXES
                    "DefaultCacheBehavior": behaviour(None),
                    "CacheBehaviors": [behaviour(prefix) for prefix in PHOTO_CDN_PREFIXES],
                    "ViewerCertificate": {"CloudFrontDefaultCertificate": True},
                }
            },
        },
    }


def photo_cdn_parameters() -> dict[str, dict]:
    return {
        PHOTO_SIGNING_KEY_PARAMETER: {
            "Type": "String",
            "MinLength": 100,
            "Description": "PEM public key (RSA 2048) of the photo URL signing key pair; its private key "
            "goes into the secret <prefix>/photo-signing-key (docs/deploy.md)",
        }
    }


# -- identity and email ---------------------------------------------------------------------------


def cognito_resources(stage: Stage) -> dict[str, dict]:
    from chalicelib.auth import STAFF_GROUPS

    resources: dict[str, dict] = {
        "UserPool": {
            "Type": "AWS::Cognito::UserPool",
            **RETAINED,
            "Properties": {
                "UserPoolName": stage.user_pool_name,
                "UsernameAttributes": ["email"],
                "AutoVerifiedAttributes": ["email"],
                # a user's new email address takes effect only once verified: notifications and the staff's
                # parcel assignment use it (chalicelib/users.py)
                "UserAttributeUpdateSettings": {"AttributesRequireVerificationBeforeUpdate": ["email"]},
                "Policies": {"PasswordPolicy": dict(USER_POOL_PASSWORD_POLICY)},
                "AccountRecoverySetting": {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]},
                "DeletionProtection": "ACTIVE",
                "UserPoolTier": USER_POOL_TIER,
            },
        },
        "UserPoolClient": {
            "Type": "AWS::Cognito::UserPoolClient",
            "Properties": {
                "UserPoolId": {"Ref": "UserPool"},
                "ClientName": USER_POOL_CLIENT_NAME,
                "ExplicitAuthFlows": list(USER_POOL_AUTH_FLOWS),
                "GenerateSecret": False,
                "PreventUserExistenceErrors": "ENABLED",
                "EnableTokenRevocation": True,
                **STOREFRONT_OAUTH,
                "CallbackURLs": {"Ref": CALLBACK_URLS_PARAMETER},
                "LogoutURLs": {"Ref": LOGOUT_URLS_PARAMETER},
            },
        },
        # managed login's pages at https://<prefix>-<account>.auth.<region>.amazoncognito.com (a prefix
        # domain is unique per region across accounts: the account id keeps it ours)
        "UserPoolDomain": {
            "Type": "AWS::Cognito::UserPoolDomain",
            "Properties": {
                "UserPoolId": {"Ref": "UserPool"},
                "Domain": {"Fn::Sub": f"{stage.prefix}-${{AWS::AccountId}}"},
                "ManagedLoginVersion": MANAGED_LOGIN_VERSION,
            },
        },
    }
    for group in STAFF_GROUPS:
        resources[cfn_name("user-pool-group", group)] = {
            "Type": "AWS::Cognito::UserPoolGroup",
            "Properties": {
                "UserPoolId": {"Ref": "UserPool"},
                "GroupName": group,
                "Description": f"Staff role '{group}' (the app reads it from the ID token's cognito:groups)",
            },
        }
    return resources


def storefront_auth_parameters() -> dict[str, dict]:
    """Where managed login may send a customer back to: the storefront's own pages, per deployment."""
    return {
        CALLBACK_URLS_PARAMETER: {
            "Type": "CommaDelimitedList",
            "Description": "Managed login's redirect_uri values after sign-in, "
            "e.g. https://shop.example/callback (https; http only for localhost)",
        },
        LOGOUT_URLS_PARAMETER: {
            "Type": "CommaDelimitedList",
            "Description": "Managed login's logout_uri values, e.g. https://shop.example/",
        },
    }


def html_part(text: str) -> str:
    """The HTML body chalicelib.emails.ensure_templates uploads for a text body."""
    return "<pre>" + text.replace("&", "&amp;").replace("<", "&lt;") + "</pre>"


def email_resources(stage: Stage) -> dict[str, dict]:
    """The configuration set and every template of chalicelib.emails (identities are verified by hand)."""
    from chalicelib.emails import TEMPLATES

    resources: dict[str, dict] = {
        "EmailConfigurationSet": {
            "Type": "AWS::SES::ConfigurationSet",
            "Properties": {
                "Name": stage.configuration_set,
                "ReputationOptions": {"ReputationMetricsEnabled": True},
                "SuppressionOptions": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
            },
        }
    }
    for name, (subject, text) in TEMPLATES.items():
        resources[cfn_name("email-template", name)] = {
            "Type": "AWS::SES::Template",
            "Properties": {
                "Template": {
                    "TemplateName": stage.template_name(name),
                    "SubjectPart": subject,
                    "TextPart": text,
                    "HtmlPart": html_part(text),
                }
            },
        }
    return resources


# -- Chalice's functions --------------------------------------------------------------------------

_SUB_QUEUE = re.compile(r"^arn:\$\{AWS::Partition\}:sqs:\$\{AWS::Region\}:\$\{AWS::AccountId\}:(?P<name>.+)$")


def queue_name(queue: Any) -> str | None:
    """The queue name in a Chalice SQS event's Queue (an Fn::Sub of the name, or a literal ARN)."""
    if isinstance(queue, dict) and isinstance(queue.get("Fn::Sub"), str):
        match = _SUB_QUEUE.match(queue["Fn::Sub"])
        return match.group("name") if match else None
    if isinstance(queue, str) and queue.startswith("arn:"):
        return queue.rsplit(":", 1)[-1]
    return None


def stack_queues(stage: Stage) -> dict[str, str]:
    """{queue name: logical id} for the queues this stack creates that handlers may consume."""
    from chalicelib import config

    # app.py registers `photo_events` with the PHOTO_QUEUE of the environment it was imported in:
    # the stage's (chalice package) or the test stage's (tests build this template in-process)
    return {stage.queue: "PhotoQueue", config.get("PHOTO_QUEUE"): "PhotoQueue"}


def stack_streams(stage: Stage) -> dict[str, str]:
    """{table name: logical id} for the tables with a stream that handlers may consume."""
    from chalicelib import config

    # app.py names the outbox stream by the table of the environment it was imported in (see stack_queues)
    return {stage.table_name("outbox"): "OutboxTable", config.table_name("outbox"): "OutboxTable"}


def stream_event(stage: Stage, handler: str, stream: Any) -> dict:
    """A DynamoDB stream event's properties: the stack table's stream, partial batch responses, retries.

    Lambda retries a failed record (and the ones after it in its shard) until it succeeds or is
    STREAM_MAX_RECORD_AGE_SECONDS old; the event stays `pending` in the table either way (its `unsent`
    index), so what a stream gave up on is never lost (chalicelib/events/outbox.py).
    """
    table = stream.split(":table/", 1)[-1].split("/", 1)[0] if isinstance(stream, str) else None
    streams = stack_streams(stage)
    if table not in streams:
        raise ValueError(
            f"{handler} consumes the stream of {table!r}, which infra/template.py does not create "
            f"(it creates {sorted(set(streams))}); add the table's stream there"
        )
    return {
        "Stream": {"Fn::GetAtt": [streams[table], "StreamArn"]},
        "FunctionResponseTypes": list(BATCH_RESPONSE_TYPES),
        "MaximumRetryAttempts": -1,  # bounded by the record's age instead
        "MaximumRecordAgeInSeconds": STREAM_MAX_RECORD_AGE_SECONDS,
    }


# the functions that write photo URLs (the API's answers; ingestion and the outbox: the photo links of the
# emails they write), as Chalice names them: they sign with the key in PhotoSigningKeySecret
PHOTO_SIGNERS = ("APIHandler", "PhotoEvents", "OutboxEvents")


def functions(template: dict) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def function_patches(stage: Stage, chalice: dict, app: Any) -> tuple[dict[str, dict], int]:
    """Name, log group and environment of every function Chalice generates; its SQS queues.

    Returns the resources to merge and the longest timeout of a function consuming the photo queue.
    """
    config = chalice_sam.chalice_config(stage.name, app)
    retention = config.log_retention_in_days or LOG_RETENTION_DAYS
    models = chalice_sam.lambda_functions(stage.name, app)
    queues = stack_queues(stage)
    resources: dict[str, dict] = {}
    photo_timeout = 0
    for logical_id, function in functions(chalice).items():
        properties = function["Properties"]
        model = models[properties["Handler"]]
        name = model.function_name
        if len(name) > 64:
            raise ValueError(f"Lambda function name {name!r} is longer than 64 characters")
        log_group = cfn_name(model.resource_name, "log-group")  # Chalice's id when it makes one itself
        resources[log_group] = {
            "Type": "AWS::Logs::LogGroup",
            **DISPOSABLE,
            "Properties": {"LogGroupName": f"/aws/lambda/{name}", "RetentionInDays": retention},
        }
        variables: dict[str, Any] = {
            "TABLE_PREFIX": stage.prefix,
            "PHOTO_BUCKET": {"Ref": "PhotoBucket"},
            "PHOTO_QUEUE": {"Fn::GetAtt": ["PhotoQueue", "QueueName"]},
            "USER_POOL_ID": {"Ref": "UserPool"},
            "USER_POOL_CLIENT_ID": {"Ref": "UserPoolClient"},
        }
        if logical_id in PHOTO_SIGNERS:
            # photo view copies and thumbnails as CloudFront signed URLs (chalicelib/photo_urls.py)
            variables["PHOTO_URLS"] = "cloudfront"
            variables["PHOTO_CDN_DOMAIN"] = {"Fn::GetAtt": ["PhotoDistribution", "DomainName"]}
            variables["PHOTO_CDN_KEY_ID"] = {"Ref": "PhotoSigningKey"}
            variables["PHOTO_CDN_KEY_SECRET"] = {"Ref": "PhotoSigningKeySecret"}
        if logical_id == "APIHandler":
            variables["PAYMENT_WEBHOOK_SECRET"] = {"Ref": WEBHOOK_SECRET_PARAMETER}
            variables["CURSOR_SECRET"] = {"Ref": CURSOR_SECRET_PARAMETER}
            variables["CORS_ALLOWED_ORIGINS"] = {"Ref": CORS_ORIGINS_PARAMETER}
            # the staff console's origin, for the API's allowed CORS origins: read from SSM at runtime, as
            # the distribution's CSP names this API (a reference here would be a cycle)
            variables["CONSOLE_ORIGIN_PARAMETER"] = CONSOLE_ORIGIN_PARAMETER.format(prefix=stage.prefix)
            # the product sources' credentials (read lazily); PRODUCT_SOURCE_1688/_TAOBAO pick the sources
            variables["SOURCE_CREDENTIALS_SECRET"] = {"Ref": "MarketplaceCredentials"}
        patch: dict[str, Any] = {
            "FunctionName": name,
            "Environment": {"Variables": variables},
        }
        for event_id, event in (properties.get("Events") or {}).items():
            if event["Type"] == "DynamoDB":
                patch.setdefault("Events", {})[event_id] = {
                    "Properties": stream_event(stage, properties["Handler"], event["Properties"]["Stream"])
                }
                continue
            if event["Type"] != "SQS":
                continue
            queue = queue_name(event["Properties"]["Queue"])
            if queue not in queues:
                raise ValueError(
                    f"{properties['Handler']} consumes the SQS queue {queue!r}, which infra/template.py "
                    f"does not create (it creates {sorted(set(queues))}); add the queue there"
                )
            # a deep merge cannot drop Chalice's Fn::Sub key, so the Fn::Sub itself is replaced;
            # Chalice renders no FunctionResponseTypes: without it Lambda would ignore the handler's
            # batchItemFailures and delete the failed messages with the good ones
            patch.setdefault("Events", {})[event_id] = {
                "Properties": {
                    "Queue": {"Fn::Sub": f"${{{queues[queue]}.Arn}}"},
                    "FunctionResponseTypes": list(BATCH_RESPONSE_TYPES),
                }
            }
            photo_timeout = max(photo_timeout, int(properties["Timeout"]))
        resources[logical_id] = {"DependsOn": [log_group], "Properties": patch}
    return resources, photo_timeout


def source_resources(stage: Stage) -> dict[str, dict]:
    """The marketplace API credentials' secret, created empty: operators put its JSON value
    ({"ALIBABA_APP_KEY": ..., "ONEBOUND_KEY": ...}, docs/sources.md) with put-secret-value."""
    return {
        "MarketplaceCredentials": {
            "Type": "AWS::SecretsManager::Secret",
            **RETAINED,
            "Properties": {
                "Name": SOURCE_CREDENTIALS_SECRET.format(prefix=stage.prefix),
                "Description": "1688 and Taobao API credentials for the product sources (docs/sources.md)",
            },
        }
    }


def pin(document: dict) -> dict:
    """The stage policy with region, account and partition of the stack, and the stack's user pool."""

    def resource(arn: str) -> Any:
        if arn == "*":
            return arn
        if "${" in arn:
            raise ValueError(f"policy resource {arn!r} uses a policy variable; pin() cannot rewrite it")
        if arn == "arn:aws:cognito-idp:*:*:userpool/*":
            return {"Fn::GetAtt": ["UserPool", "Arn"]}
        match = re.match(r"^arn:aws:([a-z0-9-]+):\*:\*:(.+)$", arn)
        if match:
            service, rest = match.groups()
            return {
                "Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{rest}"
            }
        if arn.startswith("arn:aws:s3:::"):
            return {"Fn::Sub": "arn:${AWS::Partition}:s3:::" + arn[len("arn:aws:s3:::") :]}
        return arn

    pinned = copy.deepcopy(document)
    for statement in pinned["Statement"]:
        resources = statement["Resource"]
        statement["Resource"] = (
            [resource(r) for r in resources] if isinstance(resources, list) else resource(resources)
        )
    return pinned


def role_policy_files(stage: Stage, chalice: dict, app: Any) -> dict[str, str]:
    """{role logical id: the policy file of the function(s) using it}."""
    models = chalice_sam.lambda_functions(stage.name, app)
    files: dict[str, str] = {}
    for function in functions(chalice).values():
        properties = function["Properties"]
        name = models[properties["Handler"]].resource_name
        role = properties.get("Role", {}).get("Fn::GetAtt", [None])[0]
        if role is not None:
            files[role] = stage.policy_file_of(name)
    return files


def role_patches(stage: Stage, chalice: dict, app: Any = None) -> dict[str, dict]:
    """Chalice's roles carry their function's policy file; the packaged one is pinned to the stack."""
    app = app if app is not None else chalice_sam.load_app()
    by_role = role_policy_files(stage, chalice, app)
    patches = {}
    for logical_id, resource in chalice["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        policy_file = by_role.get(logical_id, stage.policy_file)
        document = policy(policy_file)
        policies = resource["Properties"].get("Policies") or []
        if [p["PolicyDocument"] for p in policies] != [document]:
            raise ValueError(
                f"role {logical_id} does not carry .chalice/{policy_file} as generated: run "
                "`.venv/bin/python -m infra.template --write-policies`"
            )
        patches[logical_id] = {
            "Properties": {
                "Policies": [{"PolicyName": policies[0]["PolicyName"], "PolicyDocument": pin(document)}]
            }
        }
    return patches


# -- the template ---------------------------------------------------------------------------------


# -- API Gateway's own answers in the contract's shape ------------------------------------------------
# Requests API Gateway answers without calling the function get the API's `{"error": {"code", "message"}}`
# instead of its `{"message": ...}`: (response type, status, code, message). The app verifies tokens itself
# (no authorizer, no IAM auth), so MISSING_AUTHENTICATION_TOKEN means "no such route or method" here.
GATEWAY_RESPONSES: tuple[tuple[str, int | None, str, str], ...] = (
    ("MISSING_AUTHENTICATION_TOKEN", 404, "not_found", "No such route."),
    ("RESOURCE_NOT_FOUND", 404, "not_found", "No such route."),
    ("UNAUTHORIZED", 401, "unauthorized", "Sign in first."),
    ("EXPIRED_TOKEN", 401, "unauthorized", "The token has expired; sign in again."),
    ("INVALID_SIGNATURE", 401, "unauthorized", "The token is not valid."),
    ("AUTHORIZER_FAILURE", 401, "unauthorized", "The token is not valid."),
    ("ACCESS_DENIED", 403, "forbidden", "Not allowed."),
    ("WAF_FILTERED", 403, "forbidden", "Not allowed."),
    ("THROTTLED", 429, "too_many_requests", "Too many requests; retry after a short wait."),
    ("QUOTA_EXCEEDED", 429, "too_many_requests", "Too many requests; retry after a short wait."),
    ("REQUEST_TOO_LARGE", 413, "payload_too_large", "The request body is too large (10 MB at most)."),
    (
        "UNSUPPORTED_MEDIA_TYPE",
        415,
        "unsupported_media_type",
        "Send JSON bodies with Content-Type: application/json.",
    ),
    ("BAD_REQUEST_BODY", 400, "validation_error", "The request body is not valid."),
    ("BAD_REQUEST_PARAMETERS", 400, "validation_error", "The request parameters are not valid."),
    (
        "INTEGRATION_TIMEOUT",
        504,
        "timeout",
        "The request took too long; retry it (with the same Idempotency-Key).",
    ),
    ("INTEGRATION_FAILURE", 502, "internal_error", "Something went wrong on our side."),
    ("DEFAULT_4XX", None, "bad_request", "The request was refused."),
    ("DEFAULT_5XX", None, "internal_error", "Something went wrong on our side."),
)


def _error_template(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}})


def gateway_responses() -> dict:
    """The REST API's `x-amazon-apigateway-gateway-responses`: every answer API Gateway gives itself."""
    responses = {}
    for response_type, status, code, message in GATEWAY_RESPONSES:
        response: dict[str, Any] = {
            "responseParameters": {
                "gatewayresponse.header.Content-Type": "'application/json'",
                # a storefront on its own origin can read these errors too; they are the same for every
                # caller and carry no credentials, so echoing the request's Origin reveals nothing
                "gatewayresponse.header.Access-Control-Allow-Origin": "method.request.header.Origin",
                "gatewayresponse.header.Vary": "'Origin'",
            },
            "responseTemplates": {"application/json": _error_template(code, message)},
        }
        if status is not None:
            response["statusCode"] = status
        responses[response_type] = response
    return responses


HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head")

# A mock integration's response cannot map a request header (only integration response data), so its
# template echoes Origin through $context.responseOverride, as the gateway responses do (a browser on a
# storefront's origin reads the 405's JSON instead of a CORS error); Velocity lines, then the JSON body.
ECHO_ORIGIN = (
    "#set($origin = $input.params().header.get('Origin'))\n"
    '#if("$!origin" == "")#set($origin = $input.params().header.get(\'origin\'))#end\n'
    '#if("$!origin" != "")'
    "#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)#end\n"
    "#set($context.responseOverride.header.Vary = 'Origin')\n"
)


def method_not_allowed(methods: list[str]) -> dict:
    """An `x-amazon-apigateway-any-method` answering 405 + Allow itself (a MOCK integration, no Lambda).

    API Gateway picks a resource's own methods (and Chalice's OPTIONS preflight) before ANY, so only the
    methods the route does not have reach it."""
    allow = ", ".join(sorted({*methods, "OPTIONS"}))
    return {
        "produces": ["application/json"],
        "responses": {
            "405": {
                "description": "Method not allowed",
                "headers": {
                    name: {"type": "string"} for name in ("Allow", "Access-Control-Allow-Origin", "Vary")
                },
            }
        },
        "x-amazon-apigateway-integration": {
            "type": "mock",
            "passthroughBehavior": "when_no_match",
            "requestTemplates": {"application/json": '{"statusCode": 405}'},
            "responses": {
                "default": {
                    "statusCode": "405",
                    "responseParameters": {"method.response.header.Allow": f"'{allow}'"},
                    "responseTemplates": {
                        "application/json": ECHO_ORIGIN
                        + _error_template(
                            "method_not_allowed", f"This method is not allowed here; use {allow}."
                        )
                    },
                }
            },
        },
    }


# The CORS preflight answered by API Gateway (a MOCK integration, no Lambda): the same headers as the app's
# own OPTIONS view (chalicelib/web.py, which answers locally), for an Origin in the stack's
# CorsAllowedOrigins only; Fn::Sub puts the list in the template, the commas around it make the test exact.
PREFLIGHT_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
    "Allow",
    "Vary",
)


def preflight_template(allow: str) -> str:
    """The mock's response template (for Fn::Sub): allowed origin -> the CORS headers, always Vary."""
    from chalicelib.web import CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, CORS_MAX_AGE_SECONDS

    granted = {
        "Access-Control-Allow-Origin": "$origin",
        "Access-Control-Allow-Methods": f"'{allow}'",
        "Access-Control-Allow-Headers": f"'{', '.join(CORS_ALLOW_HEADERS)}'",
        "Access-Control-Expose-Headers": f"'{', '.join(CORS_EXPOSE_HEADERS)}'",
        "Access-Control-Max-Age": f"'{CORS_MAX_AGE_SECONDS}'",
    }
    return (
        "#set($origin = $input.params().header.get('Origin'))\n"
        '#if("$!origin" == "")#set($origin = $input.params().header.get(\'origin\'))#end\n'
        f'#set($allowed = ",${{{CORS_ORIGINS_PARAMETER}}},")\n'
        '#if("$!origin" != "" && !$origin.contains(",") && $allowed.contains(",$origin,"))\n'
        + "".join(
            f"#set($context.responseOverride.header.{name} = {value})\n" for name, value in granted.items()
        )
        + "#end\n"
        "#set($context.responseOverride.header.Vary = 'Origin')\n"
    )


def preflight(methods: list[str]) -> dict:
    """A path's `options` operation: the CORS preflight as a MOCK integration (204, no Lambda call)."""
    allow = ", ".join(sorted({*methods, "OPTIONS"}))
    return {
        "responses": {
            "204": {
                "description": "CORS preflight",
                "headers": {name: {"type": "string"} for name in PREFLIGHT_HEADERS},
            }
        },
        "x-amazon-apigateway-integration": {
            "type": "mock",
            "passthroughBehavior": "when_no_match",
            "requestTemplates": {"application/json": '{"statusCode": 204}'},
            "responses": {
                "default": {
                    "statusCode": "204",
                    "responseParameters": {"method.response.header.Allow": f"'{allow}'"},
                    "responseTemplates": {"application/json": {"Fn::Sub": preflight_template(allow)}},
                }
            },
        },
    }


# what Chalice's Lambda proxy integration has and a mock must not: a deep merge cannot drop keys, so
# finalize() removes them from every mock after the merge (`make package` runs it on out/sam.json)
PROXY_ONLY_KEYS = ("uri", "httpMethod")


def finalize(packaged_template: dict) -> dict:
    """The merged template with every mock integration stripped of the proxy keys Chalice left in it."""
    body = packaged_template["Resources"].get("RestAPI", {}).get("Properties", {}).get("DefinitionBody", {})
    for operations in body.get("paths", {}).values():
        for operation in operations.values():
            integration = operation.get("x-amazon-apigateway-integration") or {}
            if integration.get("type") == "mock":
                for key in PROXY_ONLY_KEYS:
                    integration.pop(key, None)
                # and Chalice's precanned 200, which the mock never answers
                answered = {r["statusCode"] for r in integration.get("responses", {}).values()}
                responses = operation.get("responses", {})
                for status in [s for s in responses if s not in answered]:
                    del responses[status]
    return packaged_template


def lambda_preflights(packaged_template: dict) -> list[str]:
    """The paths whose OPTIONS still reaches a function ([] when API Gateway answers every preflight)."""
    body = packaged_template["Resources"].get("RestAPI", {}).get("Properties", {}).get("DefinitionBody", {})
    found = []
    for path, operations in body.get("paths", {}).items():
        integration = (operations.get("options") or {}).get("x-amazon-apigateway-integration") or {}
        if integration.get("type") != "mock" or "uri" in integration:
            found.append(path)
    return sorted(found)


def console_csp() -> dict:
    """The console's Content-Security-Policy: its own files and API ('self': the API is under /api on the
    console's origin), Cognito and the photo bucket only."""
    cognito = "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}"
    photos = "https://${PhotoBucket}.s3.${AWS::URLSuffix} https://${PhotoBucket}.s3.${AWS::Region}.${AWS::URLSuffix}"
    cdn = "https://${PhotoDistribution.DomainName}"  # view copies and thumbnails
    return {
        "Fn::Sub": (
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: blob: {cdn} {photos}; connect-src 'self' {cognito} {photos}; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
        )
    }


def console_api_path(stage: Stage) -> str:
    """Where the console reaches the API on its own origin: the API stage's name, so CloudFront passes the
    path through unchanged (`/api/orders` is stage `api`, route `/orders`): no origin path, no function."""
    return f"/{stage.api_stage}"


def console_api_behaviour(stage: Stage) -> dict:
    """`/<stage>/*` on the console's distribution -> the REST API: same-origin calls, so no preflight;
    nothing cached; every viewer header but Host (Authorization, Idempotency-Key) and the query string."""
    return {
        "PathPattern": f"{console_api_path(stage)}/*",
        "TargetOriginId": "api",
        "ViewerProtocolPolicy": "https-only",
        "AllowedMethods": list(ALL_METHODS),
        "CachedMethods": ["GET", "HEAD"],
        "Compress": False,
        "CachePolicyId": CACHING_DISABLED,
        "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST_HEADER,
    }


def console_resources(stage: Stage) -> dict[str, dict]:
    """The staff console: a private S3 bucket (all public access blocked) served only through CloudFront
    with origin access control, HTTPS only, and security headers on every response; its API calls go
    through the same distribution (`/api/*`) to the REST API."""
    bucket_arn = {"Fn::GetAtt": ["ConsoleBucket", "Arn"]}
    return {
        "ConsoleBucket": {
            "Type": "AWS::S3::Bucket",
            **DISPOSABLE,  # static files, uploaded again by every deploy
            "Properties": {
                **copy.deepcopy(PRIVATE_BUCKET),
                "VersioningConfiguration": {"Status": "Enabled"},
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Id": "old-console-versions",
                            "Status": "Enabled",
                            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                        }
                    ]
                },
            },
        },
        "ConsoleBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "ConsoleBucket"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "CloudFrontReadsThroughOriginAccessControl",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudfront.amazonaws.com"},
                            "Action": "s3:GetObject",
                            "Resource": {"Fn::Sub": "${ConsoleBucket.Arn}/*"},
                            "Condition": {
                                "StringEquals": {
                                    "AWS:SourceArn": {
                                        "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:"
                                        "distribution/${ConsoleDistribution}"
                                    }
                                }
                            },
                        },
                        {
                            "Sid": "TlsOnly",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [bucket_arn, {"Fn::Sub": "${ConsoleBucket.Arn}/*"}],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        },
                    ],
                },
            },
        },
        "ConsoleOriginParameter": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Name": CONSOLE_ORIGIN_PARAMETER.format(prefix=stage.prefix),
                "Type": "String",
                "Value": {"Fn::Sub": "https://${ConsoleDistribution.DomainName}"},
                "Description": "The staff console's origin, allowed by the API's CORS",
            },
        },
        "ConsoleOriginAccessControl": {
            "Type": "AWS::CloudFront::OriginAccessControl",
            "Properties": {
                "OriginAccessControlConfig": {
                    "Name": {"Fn::Sub": "${AWS::StackName}-console"},
                    "Description": "CloudFront signs its requests to the private console bucket",
                    "OriginAccessControlOriginType": "s3",
                    "SigningBehavior": "always",
                    "SigningProtocol": "sigv4",
                }
            },
        },
        "ConsoleSecurityHeaders": {
            "Type": "AWS::CloudFront::ResponseHeadersPolicy",
            "Properties": {
                "ResponseHeadersPolicyConfig": {
                    "Name": {"Fn::Sub": "${AWS::StackName}-console-security"},
                    "Comment": "Security headers of the staff console",
                    "SecurityHeadersConfig": {
                        "StrictTransportSecurity": {
                            "AccessControlMaxAgeSec": HSTS_SECONDS,
                            "IncludeSubdomains": True,
                            "Preload": False,
                            "Override": True,
                        },
                        "ContentTypeOptions": {"Override": True},
                        "FrameOptions": {"FrameOption": "DENY", "Override": True},
                        "ReferrerPolicy": {"ReferrerPolicy": "same-origin", "Override": True},
                        "XSSProtection": {"Protection": True, "ModeBlock": True, "Override": True},
                        "ContentSecurityPolicy": {"ContentSecurityPolicy": console_csp(), "Override": True},
                    },
                    "CustomHeadersConfig": {
                        "Items": [
                            {
                                "Header": "Permissions-Policy",
                                "Value": "camera=(self), microphone=(), geolocation=()",
                                "Override": True,
                            }
                        ]
                    },
                }
            },
        },
        "ConsoleDistribution": {
            "Type": "AWS::CloudFront::Distribution",
            "Properties": {
                "DistributionConfig": {
                    "Comment": f"{stage.app_name} {stage.name} staff console",
                    "Enabled": True,
                    "HttpVersion": "http2and3",
                    "IPV6Enabled": True,
                    "PriceClass": "PriceClass_All",
                    "DefaultRootObject": "index.html",
                    "Origins": [
                        {
                            "Id": "console-bucket",
                            "DomainName": {"Fn::GetAtt": ["ConsoleBucket", "RegionalDomainName"]},
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                            "OriginAccessControlId": {"Fn::GetAtt": ["ConsoleOriginAccessControl", "Id"]},
                        },
                        {
                            "Id": "api",
                            "DomainName": {
                                "Fn::Sub": "${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
                            },
                            "CustomOriginConfig": {
                                "OriginProtocolPolicy": "https-only",
                                "OriginSSLProtocols": ["TLSv1.2"],
                                "HTTPSPort": 443,
                                "HTTPPort": 80,
                            },
                        },
                    ],
                    "DefaultCacheBehavior": {
                        "TargetOriginId": "console-bucket",
                        "ViewerProtocolPolicy": "redirect-to-https",
                        "AllowedMethods": ["GET", "HEAD"],
                        "CachedMethods": ["GET", "HEAD"],
                        "Compress": True,
                        "CachePolicyId": CACHING_OPTIMIZED,
                        "ResponseHeadersPolicyId": {"Ref": "ConsoleSecurityHeaders"},
                    },
                    "CacheBehaviors": [
                        {
                            "PathPattern": CONSOLE_CONFIG,
                            "TargetOriginId": "console-bucket",
                            "ViewerProtocolPolicy": "https-only",
                            "AllowedMethods": ["GET", "HEAD"],
                            "CachedMethods": ["GET", "HEAD"],
                            "Compress": True,
                            "CachePolicyId": CACHING_DISABLED,
                            "ResponseHeadersPolicyId": {"Ref": "ConsoleSecurityHeaders"},
                        },
                        console_api_behaviour(stage),
                    ],
                    "ViewerCertificate": {"CloudFrontDefaultCertificate": True},
                }
            },
        },
    }


# -- throttling the public API -----------------------------------------------------------------------
# API Gateway's stage throttling bounds the whole API (every caller together), tighter on the public
# routes that can reach a paid marketplace API; chalicelib/catalog/budget.py bounds each caller's
# marketplace calls. A WAF rate-based rule (per source IP, optional: WAF is billed per web ACL) blocks
# one address that floods the API before it costs a Lambda invocation.
API_THROTTLE = {"rate": 200, "burst": 400}  # requests per second, the stage's default for every method
# the public routes that may call a marketplace (docs/sources.md): a lower rate each
MARKETPLACE_ROUTES = (
    ("/products/search", "GET"),
    ("/products/resolve", "POST"),
    ("/products/image-search", "POST"),
    ("/products/{product_id}", "GET"),
)
MARKETPLACE_THROTTLE = {"rate": 20, "burst": 40}
WAF_RATE_PARAMETER = "WafRateLimitPer5Minutes"


def resource_path(path: str) -> str:
    """A MethodSetting's ResourcePath: every '/' of the path encoded as '~1' after the leading one."""
    return "/" + path.replace("/", "~1")


def api_throttling() -> tuple[dict[str, dict], dict[str, dict]]:
    """(parameters, the RestAPI properties patch): stage-wide and per-route throttling, by parameter."""
    parameters = {
        "ApiThrottleRate": {
            "Type": "Number",
            "Default": API_THROTTLE["rate"],
            "MinValue": 1,
            "Description": "Requests per second the whole API serves (every caller together)",
        },
        "ApiThrottleBurst": {
            "Type": "Number",
            "Default": API_THROTTLE["burst"],
            "MinValue": 1,
            "Description": "Burst of requests above ApiThrottleRate the API absorbs",
        },
        "MarketplaceThrottleRate": {
            "Type": "Number",
            "Default": MARKETPLACE_THROTTLE["rate"],
            "MinValue": 1,
            "Description": "Requests per second of each public route that may call a marketplace API",
        },
        "MarketplaceThrottleBurst": {
            "Type": "Number",
            "Default": MARKETPLACE_THROTTLE["burst"],
            "MinValue": 1,
            "Description": "Burst of each public route that may call a marketplace API",
        },
    }
    settings = [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": {"Ref": "ApiThrottleRate"},
            "ThrottlingBurstLimit": {"Ref": "ApiThrottleBurst"},
        }
    ] + [
        {
            "ResourcePath": resource_path(path),
            "HttpMethod": method,
            "ThrottlingRateLimit": {"Ref": "MarketplaceThrottleRate"},
            "ThrottlingBurstLimit": {"Ref": "MarketplaceThrottleBurst"},
        }
        for path, method in MARKETPLACE_ROUTES
    ]
    return parameters, {"RestAPI": {"Properties": {"MethodSettings": settings}}}


def waf_resources(stage: Stage) -> tuple[dict[str, dict], dict[str, dict], dict[str, dict]]:
    """(parameters, conditions, resources): an optional WAF web ACL on the API's stage whose
    rate-based rule blocks a source IP past WafRateLimitPer5Minutes requests (0: no WAF)."""
    parameters = {
        WAF_RATE_PARAMETER: {
            "Type": "Number",
            "Default": 0,
            "MinValue": 0,
            "Description": "Requests one source IP may make in 5 minutes before WAF blocks it "
            "(0: no web ACL; WAF is billed per web ACL and rule; at least 10 when set)",
        }
    }
    conditions = {"UseWaf": {"Fn::Not": [{"Fn::Equals": [{"Ref": WAF_RATE_PARAMETER}, 0]}]}}
    visibility = {
        "SampledRequestsEnabled": True,
        "CloudWatchMetricsEnabled": True,
        "MetricName": f"{stage.prefix}-api-rate",
    }
    resources = {
        "ApiWebAcl": {
            "Type": "AWS::WAFv2::WebACL",
            "Condition": "UseWaf",
            "Properties": {
                "Name": f"{stage.prefix}-api",
                "Scope": "REGIONAL",
                "DefaultAction": {"Allow": {}},
                "VisibilityConfig": visibility,
                "Rules": [
                    {
                        "Name": "rate-per-source-ip",
                        "Priority": 0,
                        "Action": {"Block": {}},
                        "Statement": {
                            "RateBasedStatement": {
                                "Limit": {"Ref": WAF_RATE_PARAMETER},
                                "AggregateKeyType": "IP",
                            }
                        },
                        "VisibilityConfig": {**visibility, "MetricName": f"{stage.prefix}-api-rate-per-ip"},
                    }
                ],
            },
        },
        "ApiWebAclAssociation": {
            "Type": "AWS::WAFv2::WebACLAssociation",
            "Condition": "UseWaf",
            "Properties": {
                # RestAPI.Stage: SAM's reference to the stage it creates (and an ordering on it)
                "ResourceArn": {
                    "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}"
                    "/stages/${RestAPI.Stage}"
                },
                "WebACLArn": {"Fn::GetAtt": ["ApiWebAcl", "Arn"]},
            },
        },
    }
    return parameters, conditions, resources


def _deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for key, value in b.items():
        out[key] = (
            _deep_merge(out[key], value)
            if isinstance(out.get(key), dict) and isinstance(value, dict)
            else value
        )
    return out


def api_patch(chalice: dict) -> dict[str, dict]:
    """What the merge adds to Chalice's REST API: gateway responses, a 405 for each path's other methods,
    each path's CORS preflight answered by API Gateway."""
    paths = chalice["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    any_methods = {
        path: {
            "x-amazon-apigateway-any-method": method_not_allowed(
                [m.upper() for m in operations if m in HTTP_METHODS]
            ),
            "options": preflight([m.upper() for m in operations if m in HTTP_METHODS]),
        }
        for path, operations in paths.items()
    }
    return {
        "RestAPI": {
            "Properties": {
                "DefinitionBody": {
                    "x-amazon-apigateway-gateway-responses": gateway_responses(),
                    "paths": any_methods,
                }
            }
        }
    }


def build(stage_name: str = "prod", *, app: Any = None, models: list[type] | None = None) -> dict:
    """The template to merge into `chalice package --stage <stage_name>`."""
    stage = Stage.load(stage_name)
    app = app if app is not None else chalice_sam.load_app()
    chalice = chalice_sam.chalice_template(stage_name, app)
    patches, photo_timeout = function_patches(stage, chalice, app)
    visibility_timeout = max(60, VISIBILITY_TIMEOUT_FACTOR * photo_timeout)
    owned: dict[str, dict] = {
        **tables(stage, models),
        **photo_resources(stage, visibility_timeout),
        **photo_cdn_resources(stage),
        **cognito_resources(stage),
        **email_resources(stage),
        **console_resources(stage),
        **source_resources(stage),
    }
    watching, alarm_parameters, conditions = monitoring.resources(stage, chalice)
    owned.update(watching)
    throttle_parameters, throttling = api_throttling() if app.routes else ({}, {})
    waf_parameters, waf_conditions, waf = waf_resources(stage) if app.routes else ({}, {}, {})
    owned.update(waf)
    clash = sorted(set(owned) & set(chalice["Resources"]))
    if clash:
        raise ValueError(f"logical ids used both by Chalice and infra/template.py: {clash}")
    return {
        "Description": f"{stage.app_name} ({stage_name}): Chalice app + infra/template.py (generated)",
        "Parameters": {
            WEBHOOK_SECRET_PARAMETER: {
                "Type": "String",
                "NoEcho": True,
                "MinLength": 16,
                "Description": "Payment provider's webhook signing secret (PAYMENT_WEBHOOK_SECRET)",
            },
            CURSOR_SECRET_PARAMETER: {
                "Type": "String",
                "NoEcho": True,
                "MinLength": 32,
                "Description": "Key that signs list cursors (CURSOR_SECRET); random, not the webhook's",
            },
            CORS_ORIGINS_PARAMETER: {
                "Type": "String",
                "AllowedPattern": CORS_ORIGINS_PATTERN,
                "ConstraintDescription": "a comma list of https origins such as https://shop.example, no *",
                "Description": "Origins browsers may call the API from (CORS_ALLOWED_ORIGINS)",
            },
            **storefront_auth_parameters(),
            **photo_cdn_parameters(),
            **alarm_parameters,
            **throttle_parameters,
            **waf_parameters,
            "PhotoOriginalTransitionDays": {
                "Type": "Number",
                "Default": PHOTO_ORIGINAL_TRANSITION_DAYS,
                "MinValue": 1,
                "Description": "Days after upload when photo originals (qc/) go to Glacier Instant Retrieval",
            },
            "PhotoOriginalExpirationDays": {
                "Type": "Number",
                "Default": PHOTO_ORIGINAL_EXPIRATION_DAYS,
                "MinValue": 0,
                "Description": "Days after upload to delete photo originals (0: never; thumbnails stay)",
            },
        },
        "Conditions": {
            **conditions,
            **waf_conditions,
            "ExpirePhotoOriginals": {
                "Fn::Not": [{"Fn::Equals": [{"Ref": "PhotoOriginalExpirationDays"}, 0]}]
            },
        },
        "Resources": {
            **owned,
            **patches,
            **role_patches(stage, chalice, app),
            **(_deep_merge(api_patch(chalice), throttling) if app.routes else {}),
        },
        "Outputs": {
            "UserPoolId": {"Value": {"Ref": "UserPool"}},
            "UserPoolClientId": {"Value": {"Ref": "UserPoolClient"}},
            "ManagedLoginURL": {
                "Value": {"Fn::Sub": "https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com"}
            },
            "PhotoBucketName": {"Value": {"Ref": "PhotoBucket"}},
            "PhotoCdnDomain": {"Value": {"Fn::GetAtt": ["PhotoDistribution", "DomainName"]}},
            "PhotoQueueUrl": {"Value": {"Ref": "PhotoQueue"}},
            "PhotoDeadLetterQueueUrl": {"Value": {"Ref": "PhotoDeadLetterQueue"}},
            "EmailConfigurationSetName": {"Value": {"Ref": "EmailConfigurationSet"}},
            "ConsoleBucketName": {"Value": {"Ref": "ConsoleBucket"}},
            "ConsoleDistributionId": {"Value": {"Ref": "ConsoleDistribution"}},
            "ConsoleURL": {"Value": {"Fn::Sub": "https://${ConsoleDistribution.DomainName}"}},
            # the API on the console's own origin (infra/console_deploy.py puts it in the console's config)
            "ConsoleApiURL": {
                "Value": {"Fn::Sub": f"https://${{ConsoleDistribution.DomainName}}{console_api_path(stage)}"}
            },
            "AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}},
            "DashboardName": {"Value": {"Ref": "Dashboard"}},
        },
    }


def packaged(stage_name: str = "prod", *, app: Any = None) -> dict:
    """What `make package` writes to out/sam.json (minus the zip): Chalice's template merged with build()."""
    app = app if app is not None else chalice_sam.load_app()
    return finalize(
        chalice_sam.merge(build(stage_name, app=app), chalice_sam.chalice_template(stage_name, app))
    )


def _stack_queue(queue: Any, resources: dict) -> bool:
    """True if an SQS event's Queue is the ARN of a queue this template creates."""
    target = None
    if isinstance(queue, dict) and isinstance(queue.get("Fn::Sub"), str):
        match = re.fullmatch(r"\$\{(\w+)\.Arn\}", queue["Fn::Sub"])
        target = match.group(1) if match else None
    elif isinstance(queue, dict) and isinstance(queue.get("Fn::GetAtt"), list):
        target = queue["Fn::GetAtt"][0] if queue["Fn::GetAtt"][1:] == ["Arn"] else None
    return target is not None and resources.get(target, {}).get("Type") == "AWS::SQS::Queue"


def _stack_stream(stream: Any, resources: dict) -> bool:
    """True if a DynamoDB event's Stream is the stream of a table this template creates with one."""
    if not (isinstance(stream, dict) and isinstance(stream.get("Fn::GetAtt"), list)):
        return False
    target, attribute = (stream["Fn::GetAtt"] + [None])[:2]
    table = resources.get(target, {})
    return (
        attribute == "StreamArn"
        and table.get("Type") == "AWS::DynamoDB::Table"
        and "StreamSpecification" in table.get("Properties", {})
    )


def undeployed_handlers(app: Any, template: dict) -> list[str]:
    """What `app` handles that `template` does not deploy (routes, schedules, queues...); [] if none."""
    from chalice.app import CloudWatchEventConfig, DynamoDBEventConfig, ScheduledEventConfig, SQSEventConfig

    resources = template["Resources"]
    by_handler = {f["Properties"]["Handler"]: f for f in functions(template).values()}
    missing = []
    if app.routes:
        if "app.app" not in by_handler:
            missing.append("the API handler (app.app)")
        paths = resources.get("RestAPI", {}).get("Properties", {}).get("DefinitionBody", {}).get("paths", {})
        for path, methods in app.routes.items():
            for method in methods:
                if method == "OPTIONS":
                    continue  # the CORS preflight: API Gateway answers it (preflight(), lambda_preflights())
                operation = paths.get(path, {}).get(method.lower()) or {}
                uri = json.dumps(operation.get("x-amazon-apigateway-integration", {}).get("uri"))
                if "${APIHandler.Arn}" not in uri:
                    missing.append(f"route {method} {path}")
    for source in app.event_sources:
        kind = type(source).__name__
        function = by_handler.get(source.handler_string)
        events = list(((function or {}).get("Properties", {}).get("Events") or {}).values())
        if isinstance(source, ScheduledEventConfig):
            expression = source.schedule_expression
            expression = expression if isinstance(expression, str) else expression.to_string()
            ok = any(
                e["Type"] == "Schedule" and e["Properties"].get("Schedule") == expression for e in events
            )
        elif isinstance(source, CloudWatchEventConfig):
            ok = any(e["Type"] == "CloudWatchEvent" for e in events)
        elif isinstance(source, SQSEventConfig):
            # the handlers answer partial batch responses (only failed messages come back)
            ok = any(
                e["Type"] == "SQS"
                and _stack_queue(e["Properties"].get("Queue"), resources)
                and e["Properties"].get("FunctionResponseTypes") == list(BATCH_RESPONSE_TYPES)
                for e in events
            )
        elif isinstance(source, DynamoDBEventConfig):
            ok = any(
                e["Type"] == "DynamoDB"
                and _stack_stream(e["Properties"].get("Stream"), resources)
                and e["Properties"].get("FunctionResponseTypes") == list(BATCH_RESPONSE_TYPES)
                for e in events
            )
        else:  # S3 (`chalice package` refuses it for a bucket the stack makes), SNS, Kinesis: not wired
            ok = False
        if not ok:
            missing.append(f"{kind} handler {source.handler_string}")
    for function in app.pure_lambda_functions:
        if function.handler_string not in by_handler:
            missing.append(f"lambda function {function.handler_string}")
    return missing


# -- IAM policies ---------------------------------------------------------------------------------


def _stage_statements(stage: Stage) -> list[dict]:
    # Tables by the stage's name prefix (every table is `<TABLE_PREFIX>-<suffix>`, see tables()):
    # a new model needs no policy change, and nothing outside the stage's tables is reachable.
    tables_arn = f"arn:aws:dynamodb:*:*:table/{stage.prefix}-*"
    return [
        {
            "Sid": "Logs",
            "Action": LOG_ACTIONS,
            "Resource": [
                f"arn:aws:logs:*:*:log-group:/aws/lambda/{stage.function_prefix}:*",
                f"arn:aws:logs:*:*:log-group:/aws/lambda/{stage.function_prefix}-*:*",
            ],
        },
        {"Sid": "Tables", "Action": TABLE_ACTIONS, "Resource": [tables_arn]},
        {"Sid": "TableIndexes", "Action": INDEX_ACTIONS, "Resource": [tables_arn + "/index/*"]},
        {"Sid": "Photos", "Action": PHOTO_ACTIONS, "Resource": [f"arn:aws:s3:::{stage.bucket}/*"]},
        {"Sid": "PhotoEvents", "Action": QUEUE_ACTIONS, "Resource": [f"arn:aws:sqs:*:*:{stage.queue}"]},
        {
            "Sid": "OutboxStream",
            "Action": STREAM_ACTIONS,
            "Resource": [f"arn:aws:dynamodb:*:*:table/{stage.table_name('outbox')}/stream/*"],
        },
        {
            "Sid": "Email",
            "Action": EMAIL_ACTIONS,
            # identity/*: in the SES sandbox the recipients' identities are authorised too; the
            # condition keeps the sender to the stage's address
            "Resource": [
                "arn:aws:ses:*:*:identity/*",
                f"arn:aws:ses:*:*:template/{stage.prefix}-*",
                f"arn:aws:ses:*:*:configuration-set/{stage.configuration_set}",
            ],
            "Condition": {"StringEquals": {"ses:FromAddress": [stage.sender]}},
        },
        {"Sid": "Users", "Action": USER_ACTIONS, "Resource": ["arn:aws:cognito-idp:*:*:userpool/*"]},
        {
            "Sid": "SourceCredentials",
            "Action": SECRET_ACTIONS,
            # Secrets Manager appends 6 random characters to a secret's ARN
            "Resource": [
                f"arn:aws:secretsmanager:*:*:secret:{SOURCE_CREDENTIALS_SECRET.format(prefix=stage.prefix)}-*"
            ],
        },
        {
            "Sid": "PhotoSigningKey",
            "Action": SECRET_ACTIONS,
            "Resource": [
                f"arn:aws:secretsmanager:*:*:secret:{PHOTO_KEY_SECRET.format(prefix=stage.prefix)}-*"
            ],
        },
        {
            "Sid": "ConsoleOrigin",
            "Action": SSM_ACTIONS,
            "Resource": [f"arn:aws:ssm:*:*:parameter{CONSOLE_ORIGIN_PARAMETER.format(prefix=stage.prefix)}"],
        },
        *([{"Sid": "Tracing", "Action": TRACING_ACTIONS, "Resource": ["*"]}] if stage.xray else []),
    ]


def _by_sid(sid: str) -> list[str]:
    """The actions of statement `sid` (any stage)."""
    (statement,) = [s for s in _stage_statements(Stage.load("prod")) if s["Sid"] == sid]
    return list(statement["Action"])


def _extend(into: list, values: list) -> None:
    into.extend(v for v in values if v not in into)


def policy(policy_file: str) -> dict:
    """The policy of every stage using `policy_file` (their statements merged by Sid)."""
    config = chalice_sam.project_config()
    stages = [Stage.load(name) for name in config["stages"]]
    users = [(stage, fn) for stage in stages for fn in stage.functions_using(policy_file)]
    if not users:
        raise ValueError(f"no stage uses .chalice/{policy_file}")
    merged: dict[str, dict] = {}
    for stage, function in users:
        grants = FUNCTION_GRANTS.get(function) if function else None
        for statement in _stage_statements(stage):
            if grants is not None and statement["Sid"] not in grants:
                continue
            into = merged.setdefault(statement["Sid"], copy.deepcopy(statement))
            _extend(into["Resource"], statement["Resource"])
            if "Condition" in statement:
                _extend(
                    into["Condition"]["StringEquals"]["ses:FromAddress"],
                    statement["Condition"]["StringEquals"]["ses:FromAddress"],
                )
    statements = []
    for statement in merged.values():
        statements.append({"Sid": statement.pop("Sid"), "Effect": "Allow", **statement})
    return {"Version": "2012-10-17", "Statement": statements}


def policy_files() -> dict[str, dict]:
    """{file name under .chalice/: policy} for every policy file a stage names."""
    names: set[str] = set()
    for name in chalice_sam.project_config()["stages"]:
        stage = Stage.load(name)
        names |= {stage.policy_file, *(f for _, f in stage.function_policy_files)}
    names = sorted(names)
    return {name: policy(name) for name in names}


def render(document: dict) -> str:
    return json.dumps(document, indent=2) + "\n"


def stale_policies() -> list[str]:
    stale = []
    for name, document in policy_files().items():
        path = chalice_sam.CHALICE_DIR / name
        if not path.exists() or path.read_text() != render(document):
            stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--output", help="write the merge template here (default: stdout)")
    parser.add_argument("--write-policies", action="store_true", help="regenerate .chalice/policy-*.json")
    parser.add_argument("--check-policies", action="store_true", help="fail if a policy file is stale")
    parser.add_argument(
        "--verify", metavar="SAM_JSON", help="fail if this packaged template misses a handler"
    )
    parser.add_argument(
        "--finalize", metavar="SAM_JSON", help="rewrite the packaged template's mocks without proxy keys"
    )
    args = parser.parse_args(argv)
    chalice_sam.apply_stage_environment(args.stage)  # before anything imports the models

    if args.write_policies:
        for name, document in policy_files().items():
            (chalice_sam.CHALICE_DIR / name).write_text(render(document))
            print(f"wrote .chalice/{name}", file=sys.stderr)
        return 0
    stale = stale_policies()
    if stale:
        print(
            f"stale: {', '.join('.chalice/' + s for s in stale)} (tables or resources changed); run "
            "`.venv/bin/python -m infra.template --write-policies` and commit the result",
            file=sys.stderr,
        )
        return 1
    from chalicelib import routing

    if routing.index_is_stale():
        print(
            "stale: chalicelib/route_index.py (routes changed); run `make openapi` and commit",
            file=sys.stderr,
        )
        return 1
    if args.check_policies:
        return 0
    if args.finalize:
        with open(args.finalize) as packaged_file:
            finalized = finalize(json.load(packaged_file))
        with open(args.finalize, "w") as packaged_file:
            packaged_file.write(json.dumps(finalized, indent=2) + "\n")
        return 0
    if args.verify:
        with open(args.verify) as packaged_file:
            packaged_template = json.load(packaged_file)
        missing = undeployed_handlers(chalice_sam.load_app(), packaged_template)
        missing += [
            f"the preflight of {path} without the Lambda" for path in lambda_preflights(packaged_template)
        ]
        for what in missing:
            print(f"{args.verify} does not deploy {what}", file=sys.stderr)
        return 1 if missing else 0
    app = chalice_sam.load_app()
    merge_template = build(args.stage, app=app)
    missing = undeployed_handlers(
        app, chalice_sam.merge(merge_template, chalice_sam.chalice_template(args.stage, app))
    )
    if missing:
        print(f"the package would not deploy: {'; '.join(missing)}", file=sys.stderr)
        return 1
    text = json.dumps(merge_template, indent=2) + "\n"
    if args.output:
        with open(args.output, "w") as out:
            out.write(text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
