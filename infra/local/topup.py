"""`make topup USER=<username> AMOUNT_FEN=<n> [CHANNEL=alipay]`: top up a demo wallet the way a provider
would: start a top-up over HTTP, then play Stripe's part for the local stack's simulated provider: its
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
    event = simulated.event("payment_intent.succeeded", simulated.payment_intent(payment))
    signature = simulated.sign_stripe(event, stack["stripe_webhook_secret"])
    call(
        f"{api}/payments/stripe/webhook",
        "POST",
        event,
        {"Stripe-Signature": signature, "Content-Type": "application/json"},
    )
    wallet = call(f"{api}/wallet", "GET", None, auth)
    print(json.dumps({"payment": payment, "balance_fen": wallet["balance_fen"]}, indent=2))


if __name__ == "__main__":
    args = [*sys.argv[1:], "", "", ""]
    main(args[0], args[1], args[2] or "alipay")
