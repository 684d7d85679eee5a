"""`make token USER=<username>`: print that demo user's ID token from the local Cognito."""

from __future__ import annotations

import sys

from infra.local.env import use_running_stack


def main(username: str) -> None:
    stack = use_running_stack()
    users = {u["username"]: u for u in stack["users"]}
    if username not in users:
        raise SystemExit(f"Unknown user {username!r}; demo users: {', '.join(users)}")
    from infra.local.provision import sign_in

    print(sign_in(stack["client_id"], username, users[username]["password"]))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
