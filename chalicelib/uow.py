"""The one unit of work for every write that touches more than one item, money moving or not.

A build function reads what it needs and returns a `Unit`: conditional writes (each a callable adding
itself to the transaction), ledger legs per user (the wallet turns them into ledger entries and a
version-checked balance), and the result to answer with. `run()` commits it as one DynamoDB transaction.
When a condition fails because something changed underneath (a lost race), the build is run again from
fresh reads, whose own checks then refuse what the new state no longer allows (a 409); a unit that must
not be re-run (`retry=False`) turns the lost race straight into a 409 naming what changed. Either way a
lost race is never a 500, and nothing is half-written.

Inside a request holding an Idempotency-Key (chalicelib/idempotency.py), every transaction also writes
the key's record, done, with the answer the unit's result makes: put on the condition that the key has
no record yet (or, for a route that claimed the key first, conditioned on the claim's attempt). The
answer a retry replays commits with the money or not at all (one more action in the transaction), and
a transaction lost on the key's condition turns into the recorded answer (`idempotency.Replayed`)
instead of a re-run.

Side effects leave through the outbox: `notify()` adds an email event (chalicelib/models/outbox.py) to
the same transaction, so a committed change always has its email and a lost race or a refused change
has none; chalicelib/events/outbox.py sends it after the request, at least once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

# the wallet (ledger legs), the outbox (notify, task) and idempotency (a request's claim) are imported
# where they are used: a unit with none of them (a warehouse scan) does not load them
from chalicelib import clock, db, ids
from chalicelib.errors import Conflict
from chalicelib.logs import get_logger

if TYPE_CHECKING:
    from chalicelib import wallet

log = get_logger("uow")

MAX_ATTEMPTS = 12
TRANSACTION_LIMIT = 100  # DynamoDB's limit of actions in one transaction


@dataclass
class Unit:
    """What a unit of work wants committed."""

    legs: dict[str, list[wallet.Leg]] = field(default_factory=dict)
    writes: list[Callable[[TransactWrite], None]] = field(default_factory=list)
    result: Any = None
    # wallet accounts the build already read (e.g. in the same batch as its items): saves a read
    accounts: dict[str, Any] = field(default_factory=dict)

    def move(self, user_id: str, amount_fen: int, kind: str, ref: str, fx: dict | None = None) -> None:
        if amount_fen:
            from chalicelib import wallet

            self.legs.setdefault(user_id, []).append(wallet.Leg(int(amount_fen), kind, ref, fx or None))

    def write(self, op: Callable[[TransactWrite], None]) -> None:
        self.writes.append(op)

    def update(self, obj, actions: list, condition=None) -> None:
        self.writes.append(lambda tx: tx.update(obj, actions=actions, condition=condition))

    def save(self, obj, condition=None) -> None:
        self.writes.append(lambda tx: tx.save(obj, condition=condition))

    def delete(self, obj, condition=None) -> None:
        self.writes.append(lambda tx: tx.delete(obj, condition=condition))

    def notify(self, user_id: str, template: str, data: dict) -> None:
        """Email `user_id` with `template` once this unit commits (an outbox event in its transaction)."""
        self._outbox(user_id=user_id, template=template, data=data)

    def task(self, kind: str, user_id: str, data: dict) -> None:
        """Run the outbox task `kind` (chalicelib/events/outbox.py TASKS) with `data` once this unit
        commits: follow-up work that must not cost the request its latency, nor be lost."""
        self._outbox(kind=kind, user_id=user_id, template=kind, data=data)

    def _outbox(self, **fields: Any) -> None:
        """A pending outbox event of `fields`, saved by this unit's transaction."""
        from chalicelib.lifecycle import OUTBOX, OutboxStatus
        from chalicelib.models.outbox import UNSENT, OutboxEvent

        now = clock.now_iso()
        event = OUTBOX.start(
            OutboxEvent(ids.new_id("evt"), created_at=now, **fields), OutboxStatus.PENDING, now=now
        )
        event.unsent = UNSENT
        self.writes.append(lambda tx: tx.save(event, condition=OutboxEvent.event_id.does_not_exist()))

    def check(self, model, hash_key, condition) -> None:
        self.writes.append(lambda tx: tx.condition_check(model, hash_key, condition=condition))

    @property
    def empty(self) -> bool:
        return not self.legs and not self.writes


def run(
    build: Callable[[], Unit],
    *,
    retry: bool = True,
    conflict: str = "The resource was changed by another request meanwhile; reload it and try again.",
) -> Any:
    """Commit what `build()` returns; re-build on a lost race (or 409 with `conflict` if `retry` is off)."""
    for attempt in range(MAX_ATTEMPTS if retry else 1):
        unit = build()
        if unit.empty:
            return unit.result
        try:
            commit(unit)
            if unit.legs:
                from chalicelib import metrics

                metrics.ledger(unit.legs)  # money moved, per ledger kind
            return unit.result
        except TransactWriteError as exc:
            if not db.lost_race(exc):
                raise
            claim = _claim()
            if claim is not None:
                from chalicelib import idempotency

                idempotency.cancelled(claim)  # cancelled: nothing applied; 409 if the claim was taken over
            log.info("unit of work lost a race", extra={"attempt": attempt + 1, "retry": retry})
    raise Conflict(conflict if not retry else "The resource is busy; try again.")


def _claim() -> Any:
    """The running request's Idempotency-Key claim, or None. A claim exists only once
    idempotency.begin has run, so a process that never imported the module has none (and does not
    pay that import)."""
    idempotency = sys.modules.get("chalicelib.idempotency")
    return idempotency.current() if idempotency is not None else None


def commit(unit: Unit) -> None:
    claim = _claim()
    answer = None
    with TransactWrite(connection=db.connection()) as tx:
        if unit.legs:
            from chalicelib import wallet

            for user_id, legs in unit.legs.items():
                wallet.write_legs(tx, user_id, legs, unit.accounts.get(user_id))
        for write in unit.writes:
            write(tx)
        if claim is not None:
            from chalicelib import idempotency

            answer = idempotency.complete_in(tx, claim, unit.result)
            claim.in_doubt = True  # from here until the answer arrives, the commit may or may not apply
    if claim is not None:
        claim.in_doubt, claim.answer = False, answer
