"""Faults injected into the money's DynamoDB transaction, after DynamoDB applied it (issue 21, item 1).

`TransactWrite._commit` is where pynamodb sends a transaction. An armed fault lets the next transaction
that writes the wallet table (or the table named by `arm(..., table=)`) through (or, with `apply=False`,
holds it back to send later) and then:
- `ambiguous`: fails as a read timeout does (pynamodb's TransactWriteError around botocore's
  ReadTimeoutError): DynamoDB applied it, the caller saw an error;
- `killed`: raises FunctionKilled, a BaseException no `except Exception` of ours catches: Lambda's
  timeout right after the commit, after which nothing of the request runs.
"""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import ReadTimeoutError
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

OUTAGE = "DynamoDB failing under the request: an undocumented 500 (internal_error)"


class FunctionKilled(BaseException):
    """Lambda's timeout: the process stops where it is; no handler of ours runs after it."""


def ambiguous() -> BaseException:
    return TransactWriteError(
        "Failed to write transaction items", ReadTimeoutError(endpoint_url="https://dynamodb.local")
    )


def _writes(tx: TransactWrite, table: str | None) -> bool:
    """Whether `tx` writes `table` (None: the wallet's, i.e. it moves money)."""
    from chalicelib.models.commerce import WalletAccount

    table = table or WalletAccount.Meta.table_name
    items = [*tx._put_items, *tx._update_items, *tx._delete_items, *tx._condition_check_items]
    return any(item.get("TableName") == table for item in items)


class Faults:
    """`arm(make_error, apply=True, table=None)`: the next money transaction (or the next one writing
    `table`) is applied (or held back in `pending`) and then raises `make_error()`; `fired` counts the
    faults that went off."""

    def __init__(self) -> None:
        self.error: Callable[[], BaseException] | None = None
        self.apply = True
        self.table: str | None = None
        self.pending: list[Callable[[], object]] = []
        self.fired = 0

    def arm(self, error: Callable[[], BaseException], apply: bool = True, table: str | None = None) -> None:
        self.error, self.apply, self.table = error, apply, table

    def disarm(self) -> None:
        self.error = None


def install(monkeypatch) -> Faults:
    faults = Faults()
    original = TransactWrite._commit

    def commit(tx: TransactWrite):
        if faults.error is None or not _writes(tx, faults.table):
            return original(tx)
        error, faults.error = faults.error, None
        faults.fired += 1
        if faults.apply:
            original(tx)
        else:
            faults.pending.append(lambda: original(tx))
        raise error()

    monkeypatch.setattr(TransactWrite, "_commit", commit)
    return faults
