"""`make demo` against the running stack: the whole journey runs green, prints every step with its
figures, and can run again on the same stack (fresh ids each time)."""

from __future__ import annotations

import os
import re
import subprocess

from tests.conftest import ROOT

STEPS = (
    "search",
    "add to cart",
    "quote",
    "order",
    "top up through the signed webhook",
    "pay from the wallet",
    "review",
    "purchase at the merchant",
    "domestic shipment",
    "inbound scan",
    "inspection with a QC photo",
    "photos-ready email",
    "customer decision",
    "storage",
    "package quote",
    "package",
    "pay the package",
    "pack",
    "pay the packing difference",
    "ship",
    "confirm receipt",
    "rate",
    "storage sweep at",
    "exception: another order, paid and approved",
    "exception: the shop is out of stock, the reviewer marks the item unavailable",
    "exception: the customer's email",
)


def make_demo() -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TABLE_", "PHOTO_", "USER_POOL"))}
    done = subprocess.run(
        ["make", "-s", "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_make_demo_walks_the_whole_journey_and_reruns(local_stack):
    first = make_demo()
    titles = re.findall(r"^\s*\d+\. (.+)$", first, re.MULTILINE)
    assert len(titles) == len(STEPS), first
    for title, expected in zip(titles, STEPS, strict=True):
        assert title.startswith(expected), (title, expected)
    assert "difference ¥3.00 charged" in first
    # the consent round trip (issue 24): packed over the threshold, the customer pays the difference
    assert "awaiting_confirmation" in first and "awaiting_difference" in first
    assert re.search(r"pay the packing difference\n\s+¥\d+\.\d\d from the wallet: packed, charged", first), (
        first
    )
    assert "ingested in" in first and "days left" in first
    # issue 25: the package paid through the local PayPal, settled by PayPal's own signed webhooks
    pay = re.search(r"pay the package\n((?:\s{6}.+\n)+)", first)
    assert pay and "through PayPal: order " in pay.group(1) and "capture on return: succeeded" in pay.group(1)
    assert "CHECKOUT.ORDER.APPROVED 200" in pay.group(1) and "PAYMENT.CAPTURE.COMPLETED 200" in pay.group(1)
    assert "package paid" in pay.group(1), first
    # issue 23: one email for the parcel, listing both items with their result and photo links
    notice = re.search(r"photos-ready email[^\n]*\n((?:\s{6}.*\n)+)", first)
    assert notice and "Subject: Parcel YT" in notice.group(1), first
    assert notice.group(1).count("passed inspection") == 1 and "X-Amz-" in notice.group(1)
    assert "inspection found an issue: A small stain on the left cuff." in notice.group(1)
    # the customer's decision: the issue accepted, its 90 days from the decision
    assert "inspection_issue (A small stain on the left cuff.)" in first
    assert re.search(r"accepted as it is: in_warehouse, 90 storage days from now", first)
    quote_lines = re.search(r"package quote[^\n]*\n((?:\s{6}.+\n){2})", first)
    assert quote_lines and quote_lines.group(1).count("chargeable") == 2
    # issue 22: the exception journey after the normal one: the unavailable item refunded in full
    gone = re.search(r"marks the item unavailable\n\s+(\S+) cancelled: goods (¥[\d,.]+) \+ domestic", first)
    assert gone and "refunded; order cancelled" in first, first
    assert "Subject: Item " + gone.group(1) + " could not be bought" in first
    assert first.rstrip().splitlines()[-1].startswith("Done in")

    second = make_demo()
    ids = re.compile(r"\b(?:ord|pkg|itm)_[0-9A-Za-z]+")
    assert set(ids.findall(first)).isdisjoint(ids.findall(second))
