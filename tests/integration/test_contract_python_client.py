"""A storefront's first move: generate a typed Python client from docs/openapi.json with
openapi-python-client (pinned in requirements-dev.txt), and buy something through it.

The generator must run clean (no warning, no endpoint dropped: every operationId of the document
becomes a module with `sync_detailed`), and the generated client must complete the storefront's
journey against the app in-process: search, add to cart, create an order, top up (settled by the
provider's signed webhook), pay from the wallet, and a reviewer approves the order. httpx's WSGI
transport drives `infra.local.wsgi.ChaliceWSGI`, the app `make run` serves, so every answer also goes
through the contract check of tests/contract.py.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from infra.local.wsgi import ChaliceWSGI, stage_config
from tests.conftest import ROOT
from tests.integration.conftest import ALICE, REVIEWER, send_webhook

DOCUMENT = ROOT / "docs" / "openapi.json"
PACKAGE = "procure_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


def operation_ids(doc: dict) -> set[str]:
    return {op["operationId"] for item in doc["paths"].values() for op in item.values()}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[ModuleType, str]:
    """(the generated package, the generator's output)."""
    out = tmp_path_factory.mktemp("client")
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # its ruff
    done = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(DOCUMENT),
            "--output-path",
            str(out / PACKAGE),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE), output
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        shutil.rmtree(out, ignore_errors=True)


def endpoints(package: ModuleType) -> dict[str, ModuleType]:
    """operation module name -> module, for every generated endpoint."""
    api = importlib.import_module(f"{package.__name__}.api")
    found = {}
    for info in pkgutil.walk_packages(api.__path__, api.__name__ + "."):
        module = importlib.import_module(info.name)
        if hasattr(module, "sync_detailed"):
            found[info.name.rsplit(".", 1)[-1]] = module
    return found


def test_openapi_python_client_generates_the_client_without_a_warning(generated):
    _, output = generated
    noisy = [
        line
        for line in output.splitlines()
        if any(word in line.lower() for word in ("warning", "error", "unable", "could not", "skipping"))
    ]
    assert not noisy, output


def test_the_generated_client_drops_no_endpoint(generated):
    package, _ = generated
    doc = json.loads(DOCUMENT.read_text())
    generated_ops = set(endpoints(package))
    assert sorted(operation_ids(doc) - generated_ops) == []
    assert sorted(generated_ops - operation_ids(doc)) == []


def field(obj, name: str):
    """A field of a parsed answer: an attribute of a typed model, else an additional property."""
    if isinstance(obj, dict):
        return obj[name]
    value = getattr(obj, name, None)
    if value is not None and not callable(value):
        return value
    return obj[name]


def test_a_storefront_buys_through_the_generated_client(generated, api, app_module):
    from infra.local import demo_catalog as demo

    demo.seed(api.stack)
    package, _ = generated
    ops = endpoints(package)
    models = importlib.import_module(f"{PACKAGE}.models")
    wsgi = ChaliceWSGI(app_module.app, stage_config(app_module.app, "test", str(ROOT)))
    transport = httpx.WSGITransport(app=wsgi)
    base = "http://testserver"
    public = package.Client(
        base_url=base, raise_on_unexpected_status=True, httpx_args={"transport": transport}
    )

    def signed_in(user: str):
        return package.AuthenticatedClient(
            base_url=base,
            token=api.token(user),
            raise_on_unexpected_status=True,
            httpx_args={"transport": transport},
        )

    alice, reviewer = signed_in(ALICE), signed_in(REVIEWER)

    found = ops["search_products"].sync_detailed(client=public, q="hoodie")
    assert found.status_code == 200, found.content
    product_id = field(field(found.parsed, "items")[0], "product_id")
    product = ops["get_product"].sync_detailed(product_id, client=public)
    assert product.status_code == 200, product.content
    sku_id = field(field(product.parsed, "skus")[0], "sku_id")

    added = ops["add_cart_item"].sync_detailed(
        client=alice, body=models.CartItemBody(product_id=product_id, sku_id=sku_id, quantity=1)
    )
    assert added.status_code == 201, added.content
    cart_item_id = field(added.parsed, "cart_item_id")

    created = ops["create_order"].sync_detailed(
        client=alice,
        body=models.OrderBody.from_dict({"cart_item_ids": [cart_item_id], "payment_channel": "balance"}),
    )
    assert created.status_code == 201, created.content
    order_id = field(created.parsed, "order_id")
    total_fen = field(field(created.parsed, "charges"), "total_fen")

    top_up = ops["create_top_up"].sync_detailed(
        client=alice, body=models.TopUpBody.from_dict({"amount_fen": total_fen, "channel": "alipay"})
    )
    assert top_up.status_code == 201, top_up.content
    settled = send_webhook(api, field(top_up.parsed, "payment_id"), field(top_up.parsed, "charge_fen"))
    assert settled.status == 200, settled.body  # the provider's call, not the storefront's
    wallet = ops["get_wallet"].sync_detailed(client=alice)
    assert field(wallet.parsed, "balance_fen") == total_fen

    paid = ops["pay_order"].sync_detailed(order_id, client=alice, idempotency_key=str(uuid.uuid4()))
    assert paid.status_code == 200, paid.content
    assert field(ops["get_wallet"].sync_detailed(client=alice).parsed, "balance_fen") == 0

    queue = ops["review_queue"].sync_detailed(
        client=reviewer, status=models.ReviewQueueStatus("pending_review")
    )
    assert order_id in [field(order, "order_id") for order in field(queue.parsed, "items")]
    approved = ops["approve_order"].sync_detailed(order_id, client=reviewer)
    assert approved.status_code == 200, approved.content
    order = ops["get_order"].sync_detailed(order_id, client=alice)
    assert field(order.parsed, "status") == "approved"
