"""Customer notifications: an email after a committed change. A failure is logged, never undoes it."""

from __future__ import annotations

from chalicelib import emails
from chalicelib.logs import get_logger

log = get_logger("notify")


def notify(user_id: str, template: str, data: dict) -> bool:
    from chalicelib import users

    address = users.email_of(user_id)
    if not address:
        log.warning("no email address for user", extra={"user_id": user_id, "template": template})
        return False
    try:
        emails.send(template, address, data)
        return True
    except Exception:
        log.exception("email failed", extra={"user_id": user_id, "template": template})
        return False
