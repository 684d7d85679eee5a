"""Order and package messages, and the staff queue of unanswered threads."""

from __future__ import annotations

from typing import Literal, Self

from chalicelib.lifecycle import ThreadStatus
from chalicelib.models import messages as stored
from chalicelib.responses.base import Out, Timestamp
from chalicelib.typed import ConfigDict, Field

_MESSAGE_EXAMPLE = {
    "message_id": "msg_01JD3Q8Y6Z5N7B2K4M9P0R1S2T",
    "author": "customer",
    "body": "Which colour did the shop send? I ordered the navy one.",
    "item_id": "itm_01JD3Q8Y6Z5N7B2K4M9P0R1S2T",
    "created_at": "2026-12-06T08:00:00Z",
}


class ThreadMessage(Out):
    """One message of an order's or package's thread. `body` is plain text: show it as text, never as HTML."""

    model_config = ConfigDict(json_schema_extra={"examples": [_MESSAGE_EXAMPLE]})

    message_id: str
    author: Literal["customer", "staff"]
    body: str = Field(description="Plain text as written (newlines kept); never HTML.")
    item_id: str | None = Field(description="The item of the order or package the message is about.")
    created_at: Timestamp

    @classmethod
    def of(cls, message: stored.Message) -> Self:
        return cls.build(
            message_id=message.message_id,
            author=message.author,
            body=message.body,
            item_id=message.item_id,
            created_at=message.created_at,
        )

    @classmethod
    def of_result(cls, result: stored.Message) -> Self:
        """A post's answer, as its unit of work committed it (recorded for Idempotency-Key replays)."""
        return cls.of(result)


class ThreadMessagePage(Out):
    """A page of a thread, oldest first."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_MESSAGE_EXAMPLE], "next_cursor": None}]}
    )

    items: list[ThreadMessage]
    next_cursor: str | None

    @classmethod
    def of(cls, messages: list[stored.Message], next_cursor: str | None) -> Self:
        return cls.build(items=[ThreadMessage.of(m) for m in messages], next_cursor=next_cursor)


_THREAD_EXAMPLE = {
    "thread_id": "order:ord_01JD3Q8Y6Z5N7B2K4M9P0R1S2T",
    "kind": "order",
    "subject_id": "ord_01JD3Q8Y6Z5N7B2K4M9P0R1S2T",
    "user_id": "user-alice",
    "status": ThreadStatus.UNANSWERED,
    "message_count": 2,
    "last_author": "customer",
    "last_message_at": "2026-12-06T08:05:00Z",
    "last_preview": "Which colour did the shop send?",
    "waiting_since": "2026-12-06T08:00:00Z",
    "waiting_minutes": 42,
}


class StaffThread(Out):
    """A thread waiting on staff: whose, about what, and how long the customer has waited."""

    model_config = ConfigDict(json_schema_extra={"examples": [_THREAD_EXAMPLE]})

    thread_id: str
    kind: Literal["order", "package"]
    subject_id: str = Field(description="The order's or package's id (its staff messages route).")
    user_id: str = Field(description="The customer's id (Cognito sub).")
    status: ThreadStatus
    message_count: int
    last_author: Literal["customer", "staff"]
    last_message_at: Timestamp
    last_preview: str = Field(description="The start of the last message, plain text.")
    waiting_since: Timestamp | None = Field(
        description="When the customer's first message staff have not answered was written."
    )
    waiting_minutes: int | None = Field(description="Minutes since `waiting_since`.")

    @classmethod
    def of(cls, thread: stored.MessageThread, waiting_minutes: int | None) -> Self:
        return cls.build(
            thread_id=thread.thread_id,
            kind=thread.kind,
            subject_id=thread.subject_id,
            user_id=thread.user_id,
            status=thread.status,
            message_count=int(thread.message_count),
            last_author=thread.last_author,
            last_message_at=thread.last_message_at,
            last_preview=thread.last_preview,
            waiting_since=thread.queue_at,
            waiting_minutes=waiting_minutes,
        )


class StaffThreadPage(Out):
    """Unanswered threads, longest waiting first."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_THREAD_EXAMPLE], "next_cursor": None}]}
    )

    items: list[StaffThread]
    next_cursor: str | None

    @classmethod
    def of(cls, threads: list[tuple[stored.MessageThread, int | None]], next_cursor: str | None) -> Self:
        return cls.build(items=[StaffThread.of(t, w) for t, w in threads], next_cursor=next_cursor)
