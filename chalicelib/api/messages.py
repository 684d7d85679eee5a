"""Messages on orders and packages: the owner's routes, staff's (reviewer or warehouse), and the staff
queue of threads waiting for an answer (chalicelib/messages.py)."""

from __future__ import annotations

from typing import Annotated

from chalice import Blueprint

from chalicelib import config, messages
from chalicelib.errors import ValidationError
from chalicelib.lifecycle import ThreadStatus
from chalicelib.responses.messages import StaffThreadPage, ThreadMessage, ThreadMessagePage
from chalicelib.schemas import Body, Id, example
from chalicelib.typed import Field
from chalicelib.web import Req, decode_cursor, encode_cursor, page_limit, performs, route

bp = Blueprint(__name__)

STAFF = ("reviewer", "warehouse")
# plain text: no control characters but tab and newline (the service says which rule a body broke)
MessageText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=config.get_int("MESSAGE_MAX_CHARS"),
        pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$",
        description="Plain text (newlines kept), shown as text and never as HTML.",
    ),
]


class MessageBody(Body):
    """A message on an order's or package's thread, optionally about one of its items."""

    model_config = example(
        {
            "body": "Which colour did the shop send? I ordered the navy one.",
            "item_id": "itm_01JD3Q8Y6Z5N7B2K4M9P0R1S2T",
        }
    )

    body: MessageText
    item_id: Id | None = Field(None, description="An item of this order or package.")


def _page(req: Req, about: messages.Subject) -> ThreadMessagePage:
    found, last = messages.page(about, page_limit(req), decode_cursor(req))
    return ThreadMessagePage.of(found, encode_cursor(last))


def _post(req: Req, about: messages.Subject, author: str) -> messages.Message:
    b = req.body
    return messages.post(about, author, req.user.user_id, b.body, b.item_id)


# --- the owner ------------------------------------------------------------------------------------------


@route(bp, "/orders/{order_id}/messages", query=("limit", "cursor"), response=ThreadMessagePage)
def order_messages(req: Req, order_id: str) -> ThreadMessagePage:
    """The order's message thread, oldest first."""
    return _page(req, messages.subject("order", order_id, req.user.user_id))


@route(
    bp,
    "/orders/{order_id}/messages",
    "POST",
    body=MessageBody,
    status=201,
    idempotent=True,
    response=ThreadMessage,
)
@performs("thread.ask")
def post_order_message(req: Req, order_id: str):
    """Write to staff about the order (or one of its items): the thread joins the staff queue."""
    return _post(req, messages.subject("order", order_id, req.user.user_id), messages.CUSTOMER)


@route(bp, "/packages/{package_id}/messages", query=("limit", "cursor"), response=ThreadMessagePage)
def package_messages(req: Req, package_id: str) -> ThreadMessagePage:
    """The package's message thread, oldest first."""
    return _page(req, messages.subject("package", package_id, req.user.user_id))


@route(
    bp,
    "/packages/{package_id}/messages",
    "POST",
    body=MessageBody,
    status=201,
    idempotent=True,
    response=ThreadMessage,
)
@performs("thread.ask")
def post_package_message(req: Req, package_id: str):
    """Write to staff about the package (or one of its items): the thread joins the staff queue."""
    return _post(req, messages.subject("package", package_id, req.user.user_id), messages.CUSTOMER)


# --- staff ----------------------------------------------------------------------------------------------


@route(bp, "/staff/messages", groups=STAFF, query=("status", "limit", "cursor"), response=StaffThreadPage)
def message_queue(req: Req) -> StaffThreadPage:
    """Threads whose last message is the customer's, longest waiting first, with the waiting time."""
    if req.query.get("status", ThreadStatus.UNANSWERED) != ThreadStatus.UNANSWERED:
        raise ValidationError("status must be unanswered.")
    threads, last = messages.unanswered(page_limit(req), decode_cursor(req))
    return StaffThreadPage.of([(t, messages.waiting_minutes(t)) for t in threads], encode_cursor(last))


@route(
    bp,
    "/staff/orders/{order_id}/messages",
    groups=STAFF,
    query=("limit", "cursor"),
    response=ThreadMessagePage,
)
def staff_order_messages(req: Req, order_id: str) -> ThreadMessagePage:
    """Any order's message thread, oldest first."""
    return _page(req, messages.subject("order", order_id))


@route(
    bp,
    "/staff/orders/{order_id}/messages",
    "POST",
    groups=STAFF,
    body=MessageBody,
    status=201,
    idempotent=True,
    response=ThreadMessage,
)
@performs("thread.answer")
def answer_order_message(req: Req, order_id: str):
    """Answer on an order's thread: off the staff queue; the customer is emailed (replies batched)."""
    return _post(req, messages.subject("order", order_id), messages.STAFF)


@route(
    bp,
    "/staff/packages/{package_id}/messages",
    groups=STAFF,
    query=("limit", "cursor"),
    response=ThreadMessagePage,
)
def staff_package_messages(req: Req, package_id: str) -> ThreadMessagePage:
    """Any package's message thread, oldest first."""
    return _page(req, messages.subject("package", package_id))


@route(
    bp,
    "/staff/packages/{package_id}/messages",
    "POST",
    groups=STAFF,
    body=MessageBody,
    status=201,
    idempotent=True,
    response=ThreadMessage,
)
@performs("thread.answer")
def answer_package_message(req: Req, package_id: str):
    """Answer on a package's thread: off the staff queue; the customer is emailed (replies batched)."""
    return _post(req, messages.subject("package", package_id), messages.STAFF)
