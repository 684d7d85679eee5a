"""`make topup USER=<username> AMOUNT_FEN=<n> [CHANNEL=alipay]`: top up a demo wallet the way a provider
would: start a top-up over HTTP, then settle it in the provider's own format.

- `CHANNEL=paypal`: the payment is an order at the local stack's PayPal (infra/local/paypal_sim.py); the
  customer approves it there (what its approve link's button does), PayPal delivers
  `CHECKOUT.ORDER.APPROVED` (the API captures the order) and `PAYMENT.CAPTURE.COMPLETED`, signed and
  verified PayPal's way; the helper waits until the API acknowledged both.
- any other channel: play Stripe's part for the local stack's simulated provider: its
  `payment_intent.succeeded` event, signed as Stripe signs (`Stripe-Signature`, the stack's
  `stripe_webhook_secret`), delivered to `POST /payments/stripe/webhook`."""

from __future__ import annotations

import json
import sys
import urllib.request

from infra.local.env import use_running_stack


def call(url: str, method: str, body: bytes | None, headers: dict) -> dict:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own loopback API
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{method} {url} -> {exc.code}: {exc.read().decode()}") from None


def main(username: str, amount: str, channel: str) -> None:
    stack = use_running_stack()
    if not amount.isdigit():
        raise SystemExit("AMOUNT_FEN must be a whole number of fen, e.g. AMOUNT_FEN=50000 for ¥500.00")
    users = {u["username"]: u for u in stack["users"]}
    if username not in users:
        raise SystemExit(f"Unknown user {username!r}; demo users: {', '.join(users)}")
    from chalicelib.providers import simulated
    from infra.local.provision import sign_in

    token = sign_in(stack["client_id"], username, users[username]["password"])
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    api = stack["api_url"]
    body = json.dumps({"amount_fen": int(amount), "channel": channel}).encode()
    payment = call(f"{api}/wallet/top-ups", "POST", body, auth)
    if payment.get("provider") == "paypal":
        settled_by = settle_at_paypal(stack, payment)
    else:
        event = simulated.event("payment_intent.succeeded", simulated.payment_intent(payment))
        signature = simulated.sign_stripe(event, stack["stripe_webhook_secret"])
        call(
            f"{api}/payments/stripe/webhook",
            "POST",
            event,
            {"Stripe-Signature": signature, "Content-Type": "application/json"},
        )
        settled_by = ["payment_intent.succeeded"]
    wallet = call(f"{api}/wallet", "GET", None, auth)
    answer = {"payment": payment, "settled_by": settled_by, "balance_fen": wallet["balance_fen"]}
    print(json.dumps(answer, indent=2))


def settle_at_paypal(stack: dict, payment: dict) -> list[str]:
    """The customer approves the PayPal order at the local PayPal; its webhooks settle the payment."""
    from infra.local import paypal_sim

    if not stack.get("paypal_url"):
        raise SystemExit("This stack has no local PayPal (restart `make run`).")
    paypal = paypal_sim.Simulator(stack["paypal_url"])
    paypal.approve(payment["provider_ref"])
    try:
        events = paypal.wait(payment["provider_ref"], "CHECKOUT.ORDER.APPROVED", "PAYMENT.CAPTURE.COMPLETED")
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None
    return [e["event_type"] for e in events]


if __name__ == "__main__":
    args = [*sys.argv[1:], "", "", ""]
    main(args[0], args[1], args[2] or "alipay")
