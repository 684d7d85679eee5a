"""`make user USER=<email> [PASSWORD=...]`: a confirmed customer on the running local stack, signed up
through the public app client as a storefront would (SignUp, then confirmed by the operator), and added
to .local/stack.json so `make token`/`make topup` know the password. Rerunnable: an existing user is
reported, not created twice."""

from __future__ import annotations

import json
import re
import sys

from infra.local.env import STACK_FILE, use_running_stack

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def main(email: str, password: str) -> None:
    stack = use_running_stack()
    if not _EMAIL.match(email):
        raise SystemExit("USER must be an email address, e.g. make user USER=someone@example.com")
    from infra.local.provision import DEMO_PASSWORD, sign_up_customer

    password = password or DEMO_PASSWORD
    if any(u["username"] == email for u in stack["users"]):
        print(f"{email} already exists; its token: make -s token USER={email}")
        return
    from chalicelib import aws

    idp = aws.client("cognito-idp")
    try:
        sub = sign_up_customer(stack["user_pool_id"], stack["client_id"], email, password)
    except idp.exceptions.UsernameExistsException:
        raise SystemExit(f"{email} exists in the pool but not in {STACK_FILE.name}; pick another") from None
    except idp.exceptions.InvalidPasswordException as exc:
        raise SystemExit(f"PASSWORD refused by the pool's policy: {exc}") from None
    stack["users"].append({"username": email, "password": password, "groups": []})
    STACK_FILE.write_text(json.dumps(stack, indent=2) + "\n")
    print(f"customer {email} signed up and confirmed (user_id {sub}); password {password}")
    print(f"its ID token: make -s token USER={email}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "", sys.argv[2] if len(sys.argv) > 2 else "")
