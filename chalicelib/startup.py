"""The garbage collector on a cold start: paused in a Lambda from `import app` to the end of the first
invocation, then the objects of that start frozen out of every later collection.

A cold start imports ~600 modules and creates a few hundred thousand objects (classes, functions, botocore's
service models, pydantic's schemas); CPython's cyclic collector runs every 700 net allocations and, every
hundredth time, walks all of them (a full collection, 10-25 ms on the bench's machine each). None of those
objects is garbage: measured with `make bench-cold-start`, collections were 40-55 ms of a public search's
first request. So, only where `AWS_LAMBDA_FUNCTION_NAME` is set (a Lambda; never locally or in tests):

- app.py calls `pause()` before its first import: `gc.disable()`;
- after the first invocation (the middleware below, outermost of all), `gc.freeze()` moves every object
  alive then to the permanent generation, which later collections skip (what the Python documentation
  advises for objects that live as long as the process: docs.python.org/3/library/gc.html#gc.freeze), and
  `gc.enable()` turns the collector on with its default thresholds. Cyclic garbage of the first request
  is frozen with the rest: it is kept (a one-off few hundred KB at most), never collected wrongly.

Reference counting frees everything that is not in a cycle all along; only cycles wait.
"""

from __future__ import annotations

import gc
import os
from typing import Any

_paused = False


def pause() -> None:
    """Stop the cyclic collector until the first invocation ends; only in a Lambda."""
    global _paused
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Freeze what the cold start created and turn the collector back on (once; a no-op otherwise)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def middleware(event: Any, get_response: Any) -> Any:
    """Chalice middleware (every handler kind): the collector resumes when the first invocation ends."""
    try:
        return get_response(event)
    finally:
        resume()
