"""Create every AWS resource the app uses. The local stack and the tests both call this, so they
cannot drift; infra/template.py describes the same resources for CloudFormation. Local only: the
function zip (app.py + chalicelib/) carries neither this nor the demo users' password.
"""

from __future__ import annotations

import contextlib
import json

from chalicelib import aws, config, emails
from chalicelib.auth import STAFF_GROUPS
from chalicelib.logs import get_logger
from chalicelib.models import all_models

log = get_logger("provision")

DEMO_PASSWORD = "Demo-pass-2026!"  # noqa: S105 - demo users of the local stack only
DEMO_USERS = [
    {"username": "alice@example.com", "groups": []},
    {"username": "bob@example.com", "groups": []},
    {"username": "reviewer@procure.example", "groups": ["reviewer"]},
    {"username": "warehouse@procure.example", "groups": ["warehouse"]},
    {"username": "admin@procure.example", "groups": ["admin"]},
]


def create_tables() -> None:
    for model in all_models():
        if not model.exists():
            model.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
            log.info("table created", extra={"table": model.Meta.table_name})


def create_queues() -> dict:
    sqs = aws.client("sqs")
    dlq_url = sqs.create_queue(QueueName=config.get("PHOTO_QUEUE") + "-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=config.get("PHOTO_QUEUE"),
        Attributes={
            "VisibilityTimeout": "60",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return {"photo_queue_url": queue_url, "photo_queue_arn": queue_arn, "photo_dlq_url": dlq_url}


def create_bucket(queue_arn: str) -> str:
    s3 = aws.client("s3")
    bucket = config.get("PHOTO_BUCKET")
    kwargs: dict = {"Bucket": bucket}
    if config.region() != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": config.region()}
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        s3.create_bucket(**kwargs)
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {"AllowedMethods": ["POST", "GET"], "AllowedOrigins": ["*"], "AllowedHeaders": ["*"]}
            ]
        },
    )
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {"FilterRules": [{"Name": "prefix", "Value": config.PHOTO_UPLOAD_PREFIX}]}
                    },
                }
            ]
        },
    )
    return bucket


def create_email() -> None:
    aws.client("ses").verify_email_identity(EmailAddress=config.get("EMAIL_SENDER"))
    emails.ensure_templates()


def create_user_pool() -> dict:
    idp = aws.client("cognito-idp")
    pool_id = idp.create_user_pool(
        PoolName=config.get("TABLE_PREFIX") + "-users",
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        # a new email address takes effect only once the user has verified it (the template's too)
        UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]},
        Policies={"PasswordPolicy": {"MinimumLength": 10, "RequireNumbers": True, "RequireSymbols": False}},
    )["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="storefront",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"],
        GenerateSecret=False,
    )["UserPoolClient"]["ClientId"]
    for group in STAFF_GROUPS:
        idp.create_group(UserPoolId=pool_id, GroupName=group)
    return {"user_pool_id": pool_id, "client_id": client_id}


def create_user(pool_id: str, username: str, password: str, groups: list[str]) -> str:
    """A confirmed user with a permanent password; returns their `sub` (our user_id)."""
    idp = aws.client("cognito-idp")
    user = idp.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        UserAttributes=[{"Name": "email", "Value": username}, {"Name": "email_verified", "Value": "true"}],
        MessageAction="SUPPRESS",
    )["User"]
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
    for group in groups:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
    return next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")


def sign_up_customer(pool_id: str, client_id: str, email: str, password: str) -> str:
    """A customer the storefront's way: SignUp on the public client, then confirmed (the operator's
    AdminConfirmSignUp stands in for the emailed code); returns their `sub`."""
    idp = aws.client("cognito-idp")
    sub = idp.sign_up(
        ClientId=client_id,
        Username=email,
        Password=password,
        UserAttributes=[{"Name": "email", "Value": email}],
    )["UserSub"]
    idp.admin_confirm_sign_up(UserPoolId=pool_id, Username=email)
    # the emailed code would also have verified the address; the app only uses verified addresses
    idp.admin_update_user_attributes(
        UserPoolId=pool_id, Username=email, UserAttributes=[{"Name": "email_verified", "Value": "true"}]
    )
    return sub


def sign_in(client_id: str, username: str, password: str) -> str:
    """The real Cognito sign-in (USER_PASSWORD_AUTH); returns the ID token."""
    result = aws.client("cognito-idp").initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return result["AuthenticationResult"]["IdToken"]


def provision(*, demo_users: bool = True) -> dict:
    """Create everything; returns the stack description (ids the app's environment needs)."""
    create_tables()
    queues = create_queues()
    bucket = create_bucket(queues["photo_queue_arn"])
    create_email()
    pool = create_user_pool()
    users = []
    if demo_users:
        for demo in DEMO_USERS:
            user_id = create_user(pool["user_pool_id"], demo["username"], DEMO_PASSWORD, demo["groups"])
            users.append({**demo, "password": DEMO_PASSWORD, "user_id": user_id})
    return {"bucket": bucket, **queues, **pool, "users": users}
