"""The wallet: a ledger whose balance never goes negative, written with the state change that moved it.

A unit of work reads what it needs, builds one DynamoDB transaction (account balance + ledger entries +
the state changes, each conditional), and commits it. If any condition fails because something changed
underneath, the whole unit is re-run from fresh reads; its own checks then turn a lost race into a 409.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import clock, db, ids, metrics
from chalicelib.errors import Conflict, InsufficientFunds
from chalicelib.logs import get_logger
from chalicelib.models.commerce import LedgerEntry, WalletAccount

log = get_logger("wallet")

ACCOUNT_SK = "account"
MAX_ATTEMPTS = 12


@dataclass(frozen=True)
class Leg:
    """One ledger movement: positive credits the wallet, negative debits it."""

    amount_fen: int
    kind: str
    ref: str


@dataclass
class Unit:
    """What a unit of work wants committed: ledger legs per user, plus any other conditional writes."""

    legs: dict[str, list[Leg]] = field(default_factory=dict)
    writes: list[Callable[[TransactWrite], None]] = field(default_factory=list)
    result: Any = None

    def move(self, user_id: str, amount_fen: int, kind: str, ref: str) -> None:
        if amount_fen:
            self.legs.setdefault(user_id, []).append(Leg(int(amount_fen), kind, ref))

    def write(self, op: Callable[[TransactWrite], None]) -> None:
        self.writes.append(op)


def account(user_id: str) -> WalletAccount:
    """The user's account, created (balance 0) on first use."""
    try:
        return WalletAccount.get(user_id, ACCOUNT_SK, consistent_read=True)
    except WalletAccount.DoesNotExist:
        fresh = WalletAccount(user_id, ACCOUNT_SK, balance_fen=0)
        with contextlib.suppress(PutError):  # someone else created it first
            fresh.save(condition=WalletAccount.user_id.does_not_exist())
        return WalletAccount.get(user_id, ACCOUNT_SK, consistent_read=True)


def balance_fen(user_id: str) -> int:
    return int(account(user_id).balance_fen)


def run(build: Callable[[], Unit]) -> Any:
    """Run a unit of work until it commits or its own checks refuse it; returns `unit.result`."""
    for attempt in range(MAX_ATTEMPTS):
        unit = build()
        if not unit.legs and not unit.writes:
            return unit.result
        try:
            _commit(unit)
            metrics.ledger(unit.legs)
            return unit.result
        except TransactWriteError as exc:
            if exc.cause_response_code not in (
                "TransactionCanceledException",
                "TransactionConflictException",
            ):
                raise
            log.info("transaction lost a race; re-reading", extra={"attempt": attempt + 1})
    raise Conflict("The resource is busy; try again.")


def _commit(unit: Unit) -> None:
    now = clock.now_iso()
    with TransactWrite(connection=db.connection()) as tx:
        for user_id, legs in unit.legs.items():
            acct = account(user_id)
            balance = int(acct.balance_fen)
            for leg in legs:
                balance += leg.amount_fen
                if balance < 0:
                    raise InsufficientFunds(
                        f"The wallet balance is short by {-balance} fen; top up and try again."
                    )
                entry_id = ids.new_id("led")
                tx.save(
                    LedgerEntry(
                        user_id,
                        f"entry#{entry_id}",
                        entry_id=entry_id,
                        kind=leg.kind,
                        amount_fen=leg.amount_fen,
                        balance_after_fen=balance,
                        ref=leg.ref,
                        created_at=now,
                    ),
                    condition=LedgerEntry.sk.does_not_exist(),
                )
            # the version condition makes a concurrent movement on this account restart the unit
            tx.update(acct, actions=[WalletAccount.balance_fen.set(balance)])
        for write in unit.writes:
            write(tx)


def entries(user_id: str, limit: int, last_key: dict | None = None) -> tuple[list[LedgerEntry], dict | None]:
    """Ledger entries newest first (entry ids are time-ordered ULIDs)."""
    result = LedgerEntry.query(
        user_id,
        LedgerEntry.sk.startswith("entry#"),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=last_key,
    )
    items = list(result)
    return items, result.last_evaluated_key


def entry_json(entry: LedgerEntry) -> dict:
    return {
        "entry_id": entry.entry_id,
        "kind": entry.kind,
        "amount_fen": int(entry.amount_fen),
        "balance_after_fen": int(entry.balance_after_fen),
        "created_at": entry.created_at,
        "ref": entry.ref,
    }
