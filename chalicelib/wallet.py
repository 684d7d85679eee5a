"""The wallet: a ledger whose balance never goes negative, written with the state change that moved it.

The wallet does not own transactions: a unit of work (chalicelib/uow.py) carries ledger legs per user,
and `write_legs` adds them to its transaction as ledger entries plus the account's new balance, whose
version condition makes a concurrent movement on the same account re-run the whole unit from fresh reads.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from pynamodb.exceptions import PutError
from pynamodb.transactions import TransactWrite

from chalicelib import clock, ids
from chalicelib.errors import InsufficientFunds
from chalicelib.models.commerce import LedgerEntry, WalletAccount

ACCOUNT_SK = "account"


@dataclass(frozen=True)
class Leg:
    """One ledger movement: positive credits the wallet, negative debits it (units of work carry them)."""

    amount_fen: int
    kind: str
    ref: str
    fx: dict | None = None  # the rate snapshot the ledger entry keeps (chalicelib/currency.py)


def account(user_id: str) -> WalletAccount:
    """The user's account, created (balance 0) on first use."""
    try:
        return WalletAccount.get(user_id, ACCOUNT_SK, consistent_read=True)
    except WalletAccount.DoesNotExist:
        fresh = WalletAccount(user_id, ACCOUNT_SK, balance_fen=0)
        with contextlib.suppress(PutError):  # someone else created it first
            fresh.save(condition=WalletAccount.user_id.does_not_exist())
        return WalletAccount.get(user_id, ACCOUNT_SK, consistent_read=True)


def account_key(user_id: str) -> tuple[str, str]:
    return (user_id, ACCOUNT_SK)


def new_account(user_id: str) -> WalletAccount:
    """An account not stored yet: the transaction that first moves money creates it (version 1)."""
    return WalletAccount(user_id, ACCOUNT_SK, balance_fen=0)


def balance_fen(user_id: str) -> int:
    return int(account(user_id).balance_fen)


def write_legs(tx: TransactWrite, user_id: str, legs: list[Leg], acct: WalletAccount | None) -> None:
    """Within `tx`: one ledger entry per leg and the account's new balance (never below zero)."""
    if acct is None:
        try:
            acct = WalletAccount.get(user_id, ACCOUNT_SK, consistent_read=True)
        except WalletAccount.DoesNotExist:
            acct = new_account(user_id)
    now = clock.now_iso()
    balance = int(acct.balance_fen or 0)
    for leg in legs:
        balance += leg.amount_fen
        if balance < 0:
            raise InsufficientFunds(f"The wallet balance is short by {-balance} fen; top up and try again.")
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
                fx=leg.fx,
            ),
            condition=LedgerEntry.sk.does_not_exist(),
        )
    # the version condition (or "does not exist yet") makes a concurrent movement restart the unit
    tx.update(acct, actions=[WalletAccount.balance_fen.set(balance)])


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
