"""In-process moto with every resource provisioned, and an HTTP client acting as signed-in users.

Provisioned once per process (each xdist worker): each test starts from a restored snapshot of that
provisioning (tests/moto_snapshot.py), the same state a fresh provisioning gives, in milliseconds.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from chalice.test import Client
from moto import mock_aws

import tests.stack_env  # noqa: F401  (moto, the app and the contract check, before anything below)
from chalicelib import auth, aws, clock
from infra.local import provision
from infra.local.streams import StreamDriver
from tests.conftest import ROOT
from tests.moto_snapshot import Snapshot


@dataclass
class Result:
    status: int
    body: object
    headers: dict

    @property
    def json(self):
        return self.body


class Api:
    """Calls the app as API Gateway would, signing in through the real (moto) Cognito API."""

    def __init__(self, client: Client, stack: dict):
        self._client = client
        self.stack = stack
        self._tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        """A fresh ID token whenever the (test) clock has moved past the cached one's expiry."""
        import jwt

        cached = self._tokens.get(username)
        if (
            cached
            and jwt.decode(cached, options={"verify_signature": False})["exp"] > clock.now().timestamp() + 60
        ):
            return cached
        user = next(u for u in self.stack["users"] if u["username"] == username)
        self._tokens[username] = provision.sign_in(self.stack["client_id"], username, user["password"])
        return self._tokens[username]

    def user_id(self, username: str) -> str:
        return next(u["user_id"] for u in self.stack["users"] if u["username"] == username)

    def add_user(self, username: str, groups: list[str] | None = None) -> str:
        user_id = provision.create_user(
            self.stack["user_pool_id"], username, provision.DEMO_PASSWORD, groups or []
        )
        self.stack["users"].append(
            {
                "username": username,
                "password": provision.DEMO_PASSWORD,
                "groups": groups or [],
                "user_id": user_id,
            }
        )
        return user_id

    def call(self, method: str, path: str, *, user: str | None = None, body=None, headers=None, raw=None):
        all_headers = {"Content-Type": "application/json"}
        if user is not None:
            all_headers["Authorization"] = f"Bearer {self.token(user)}"
        all_headers.update(headers or {})
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = self._client.http.request(method, path, headers=all_headers, body=payload)
        text = response.body.decode() if isinstance(response.body, bytes) else response.body
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Result(response.status_code, parsed, dict(response.headers))

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


class _CognitoTime:
    """moto stamps tokens with time.time(); in tests it follows our injectable clock instead."""

    @staticmethod
    def time() -> float:
        return clock.now().timestamp()


# the outbox table's stream, driven in-process as Lambda would (infra/local/streams.py)
_outbox: list[StreamDriver] = []


def outbox() -> StreamDriver:
    """The current test's outbox stream driver, invoking app.outbox_events."""
    return _outbox[-1]


@pytest.fixture(scope="session")
def _provisioned() -> tuple[dict, Snapshot]:
    """Every resource and the demo users, provisioned once per process, and moto's state right after."""
    mock = mock_aws()
    mock.start()
    try:
        aws.reset()
        described = provision.provision(demo_users=True)
        return described, Snapshot()
    finally:
        mock.stop(remove_data=False)  # moto patches boto only while a test holds `stack`, as before
        aws.reset()


@pytest.fixture
def stack(monkeypatch, _provisioned) -> Iterator[dict]:
    """A freshly provisioned stack: moto restored to what provisioning left, nothing of the tests before."""
    import moto.cognitoidp.models

    import app as application
    from chalicelib import config

    described, snapshot = _provisioned
    monkeypatch.setattr(moto.cognitoidp.models, "time", _CognitoTime)
    with mock_aws():
        snapshot.restore()
        aws.reset()
        auth.jwks.clear()
        os.environ["USER_POOL_ID"] = described["user_pool_id"]
        os.environ["USER_POOL_CLIENT_ID"] = described["client_id"]
        _outbox.append(StreamDriver(config.table_name("outbox"), application.outbox_events))
        yield copy.deepcopy(described)  # tests add users to their copy
        _outbox.clear()
        aws.reset()
        auth.jwks.clear()


@pytest.fixture
def app_module(stack):
    import app as application

    return application


@pytest.fixture
def api(stack, app_module) -> Iterator[Api]:
    with Client(app_module.app, stage_name="test", project_dir=str(ROOT)) as client:
        yield Api(client, stack)


ALICE = "alice@example.com"
BOB = "bob@example.com"
REVIEWER = "reviewer@procure.example"
WAREHOUSE = "warehouse@procure.example"
ADMIN = "admin@procure.example"


# --- a small, explicit catalog for money tests (prices chosen so every figure can be checked by hand) ---


class FakeSource:
    def __init__(self, products):
        self.products = {p.product_id: p for p in products}

    def get(self, product_id):
        return self.products.get(product_id)

    def get_many(self, product_ids):
        return [self.products[p] for p in product_ids if p in self.products]


def _products():
    from chalicelib.catalog.source import Product, Shop, Sku

    shop_a = Shop("shop_a", "Yiwu Good Goods")
    shop_b = Shop("shop_b", "Shenzhen Gadget Factory")
    return [
        Product(
            product_id="prd_tee",
            source="1688",
            source_item_id="610000000001",
            source_url="https://detail.1688.com/offer/610000000001.html",
            title="Cotton T-shirt",
            category="apparel",
            shop=shop_a,
            skus=(
                Sku("sku_tee_black_m", {"color": "black", "size": "M"}, 2500, 100),
                Sku("sku_tee_white_l", {"color": "white", "size": "L"}, 2700, 3),
            ),
            min_quantity=1,
            domestic_shipping_fen=800,
            weight_g=200,
        ),
        Product(
            product_id="prd_socks",
            source="taobao",
            source_item_id="700000000002",
            source_url="https://item.taobao.com/item.htm?id=700000000002",
            title="Wool socks 5 pairs",
            category="apparel",
            shop=shop_a,
            skus=(Sku("sku_socks", {"color": "grey", "size": "one"}, 1000, 500),),
            min_quantity=2,
            domestic_shipping_fen=600,
            weight_g=300,
        ),
        Product(
            product_id="prd_bank",
            source="tmall",
            source_item_id="800000000003",
            source_url="https://detail.tmall.com/item.htm?id=800000000003",
            title="Power bank 10000mAh",
            category="electronics",
            shop=shop_b,
            skus=(Sku("sku_bank", {"color": "white"}, 9900, 50),),
            domestic_shipping_fen=1000,
            weight_g=250,
            attributes=("battery",),
        ),
    ]


@pytest.fixture
def shop(stack):
    """Installs the explicit test catalog as the product source."""
    from chalicelib.catalog.configured import set_source

    set_source(FakeSource(_products()))
    yield
    set_source(None)


def top_up(api: Api, user: str, amount_fen: int, channel: str = "alipay") -> dict:
    """A top-up settled by Stripe's signed payment_intent.succeeded (what `make topup` does)."""
    created = api.post("/wallet/top-ups", {"amount_fen": amount_fen, "channel": channel}, user=user)
    assert created.status == 201, created.body
    result = settle(api, created.body)
    assert result.status == 200 and result.body.get("duplicate") is False, result.body
    return created.body


def settle(api: Api, payment: dict, event_type: str = "payment_intent.succeeded", **intent):
    """The simulated provider's payment settled as the local stack does: Stripe's event about its
    PaymentIntent, signed as Stripe signs with the endpoint secret, at Stripe's endpoint."""
    from chalicelib.providers import simulated

    status = {"payment_intent.succeeded": "succeeded", "payment_intent.canceled": "canceled"}
    obj = simulated.payment_intent(payment, status.get(event_type, "requires_payment_method"), **intent)
    body = simulated.event(event_type, obj)
    # the real time: the SDK's construct_event checks the tolerance against time.time(), not our clock
    signature = simulated.sign_stripe(body, os.environ["STRIPE_WEBHOOK_SECRET"])
    return api.call(
        "POST", "/payments/stripe/webhook", raw=body.decode(), headers={"Stripe-Signature": signature}
    )


def send_webhook(
    api: Api,
    payment_id: str,
    amount_fen: int,
    event_id: str | None = None,
    secret: str | None = None,
    timestamp: int | None = None,
    raw: bytes | None = None,
):
    """Deprecated: the X-Signature scheme of `POST /payments/webhook` (still served: the shared API
    document lists it)."""
    from chalicelib import clock, ids, payments

    body = (
        raw
        if raw is not None
        else json.dumps(
            {
                "id": event_id or ids.new_id("evt"),
                "type": "payment.succeeded",
                "data": {"payment_id": payment_id, "amount_fen": amount_fen},
            }
        ).encode()
    )
    signature = payments.sign(
        body,
        secret or os.environ["PAYMENT_WEBHOOK_SECRET"],
        int(clock.now().timestamp()) if timestamp is None else timestamp,
    )
    return api.call("POST", "/payments/webhook", raw=body.decode(), headers={"X-Signature": signature})


def sent_emails(to: str | None = None) -> list[dict]:
    """Templated emails moto's SES accepted: [{"to", "template", "data"}], once the outbox handler has
    been given every event written so far (what Lambda does within a second of the commit)."""
    if _outbox:
        outbox().drain()
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    backend = ses_backends[DEFAULT_ACCOUNT_ID]["ap-southeast-1"]
    found = []
    for message in backend.sent_messages:
        if not hasattr(message, "template"):
            continue
        recipients = message.destinations.get("ToAddresses", [])
        if to is None or to in recipients:
            name = message.template.removeprefix(os.environ["TABLE_PREFIX"] + "-")
            found.append({"to": recipients, "template": name, "data": json.loads(message.template_data)})
    return found


OPENAPI_TS = ROOT / "tools" / "openapi-typescript" / "node_modules" / ".bin" / "openapi-typescript"


@pytest.fixture(scope="session")
def contract_types(tmp_path_factory) -> Path:
    """docs/openapi.json as the TypeScript types openapi-typescript (default flags) generates, once per
    test session, in a scratch directory (the repository stays clean)."""
    assert OPENAPI_TS.exists(), (
        "openapi-typescript is not installed: `make contract-tools` (part of `make test`)"
    )
    out = tmp_path_factory.mktemp("contract-types") / "api.d.ts"
    done = subprocess.run(
        [str(OPENAPI_TS), str(ROOT / "docs" / "openapi.json"), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def attach_photo(item_id: str) -> str:
    """An arrival photo on the item as the S3-triggered ingestion records it (chalicelib/events/photos.py
    `_attach`), for inspections that need one: electronics pass only with a photo. Returns its id."""
    from chalicelib import clock, db, ids
    from chalicelib.models.commerce import Item

    photo_id = ids.new_id("pho")
    entry = {
        "key": f"qc/{item_id}/{photo_id}.jpg",
        "thumb_key": f"thumbs/{item_id}/{photo_id}.jpg",
        "content_type": "image/jpeg",
        "declared_type": "image/jpeg",
        "size": 9608,
        "width": 640,
        "height": 480,
        "etag": "0" * 32,
        "uploaded_at": clock.now_iso(),
    }
    item = Item.get(item_id, consistent_read=True)
    assert db.update_if(item, [Item.photos[photo_id].set(entry)], Item.item_id.exists())
    return photo_id
