"""Structured JSON logs: one JSON object a line on stdout, with the standard library only.

`get_logger(name)` keeps its callers' plain `logging` API (`log.info("...", extra={...})`); the
records go to the `procure` logger and are written by `JsonFormatter` with the keys of the current
invocation (request_id, function_request_id, route, correlation_id, caller_id: chalicelib/observability.py
adds them with `append_keys` and takes them off with `remove_keys`) and any `extra=` fields. The level
is LOG_LEVEL (stage configuration; INFO unless set). Never log emails or tokens: `caller_id` is the
Cognito `sub`.

The lines keep the keys and value shapes AWS Lambda Powertools' Logger wrote before (its
LambdaPowertoolsFormatter, 3.37.0, which this module replaced to keep its imports out of the cold
start): `level`, `location` (`function:line`), `message` (a string that is JSON is written decoded),
`timestamp` (`2026-12-07 03:00:00,250+0000`, local time: UTC in Lambda), `service` (`procure`),
`sampling_rate` when POWERTOOLS_LOGGER_SAMPLE_RATE is set (at that rate a cold start logs at DEBUG),
the invocation keys, the `extra=` fields (values JSON cannot hold are written as `str(value)`),
`exception` (the traceback), `exception_name`, `exception_notes` and `stack_trace` (type, value,
module, frames) when the record carries an exception, and `xray_trace_id` from `_X_AMZN_TRACE_ID`.
Keys whose value is None are left out. Lambda's advanced logging controls (AWS_LAMBDA_LOG_LEVEL), when
set, take precedence over LOG_LEVEL.

Chalice's app logger has the same name (`procure`): Chalice sees the stdout handler installed here
and leaves the logger's handlers and level alone, so its own records are JSON lines too.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback

TYPE_CHECKING = False  # typing stays out of the import (mypy reads the block below)
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

SERVICE_LOGGER = "procure"

# LogRecord attributes that are not `extra=` fields (Powertools' RESERVED_LOG_ATTRS)
_RESERVED = frozenset(
    (
        "name", "msg", "args", "level", "levelname", "levelno", "pathname", "filename", "module",
        "exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs",
        "relativeCreated", "thread", "threadName", "processName", "process", "asctime", "location",
        "timestamp",
    )
)  # fmt: skip
# Lambda's advanced logging controls level (AWS_LAMBDA_LOG_LEVEL) -> logging's
_LAMBDA_LEVELS = {
    "TRACE": "DEBUG",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "CRITICAL",
}
SAMPLE_RATE_ENV = "POWERTOOLS_LOGGER_SAMPLE_RATE"
TRACE_ID_ENV = "_X_AMZN_TRACE_ID"

_formatter: JsonFormatter | None = None  # the formatter of the `procure` handler, once configured


class _StdoutHandler(logging.StreamHandler):
    """A handler writing to sys.stdout as it is at each write (pytest's capture replaces it per test).

    Chalice sees a stdout handler on the `procure` logger (its app logger has the same name) and leaves
    the logger's handlers and level alone.
    """

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.setStream; stdout stays stdout
        pass


def _serialize(line: dict[str, Any]) -> str:
    return json.dumps(line, default=str, separators=(",", ":"), ensure_ascii=False)


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: level, location, message, timestamp, then `keys` (given here or
    appended later), the record's `extra=` fields, its exception and the X-Ray trace id."""

    def __init__(self, **keys: Any) -> None:
        super().__init__()
        self.keys: dict[str, Any] = dict(keys)

    def append_keys(self, **keys: Any) -> None:
        self.keys.update(keys)

    def remove_keys(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.keys.pop(key, None)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # 2026-12-07 03:00:00,250+0000 (time.strftime has no milliseconds directive)
        return time.strftime(f"%Y-%m-%d %H:%M:%S,{int(record.msecs):03d}%z", self.converter(record.created))

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": None,
            "timestamp": self.formatTime(record),
        }
        line.update(self.keys)
        line.update((k, v) for k, v in record.__dict__.items() if k not in _RESERVED)
        line["message"] = _message(record)
        exc_info = record.exc_info
        if isinstance(exc_info, tuple) and hasattr(exc_info[0], "__name__"):
            exc_type, exc, tb = exc_info
            line.setdefault("exception", self.formatException(exc_info))
            line.setdefault("exception_name", exc_type.__name__)  # type: ignore[union-attr]
            line.setdefault("exception_notes", getattr(exc, "__notes__", None))
            line["stack_trace"] = {
                "type": exc_type.__name__,  # type: ignore[union-attr]
                "value": exc,
                "module": type(exc).__module__,
                "frames": [
                    {"file": f.filename, "line": f.lineno, "function": f.name, "statement": f.line}
                    for f in traceback.extract_tb(tb)
                ],
            }
        else:
            line["stack_trace"] = None
        trace = os.environ.get(TRACE_ID_ENV)
        line["xray_trace_id"] = trace.split(";")[0].replace("Root=", "") if trace else None
        return _serialize({k: v for k, v in line.items() if v is not None})


def _message(record: logging.LogRecord) -> Any:
    """The record's message: a dict as is, `%` arguments applied, a string holding JSON decoded."""
    message = record.msg
    if isinstance(message, dict):
        return message
    if record.args:
        return record.getMessage()
    if isinstance(message, str):
        try:
            return json.loads(message)
        except ValueError:
            pass
    return message


def _level(level: str | None = None) -> str:
    """AWS_LAMBDA_LOG_LEVEL when Lambda's logging controls set it, else `level`, LOG_LEVEL, INFO."""
    controlled = _LAMBDA_LEVELS.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper())
    if controlled:
        return controlled
    if level is None:
        from chalicelib import config

        level = config.get("LOG_LEVEL")
    return (level or "INFO").upper()


def formatter() -> JsonFormatter:
    """The formatter of every `procure` line, with its handler installed on first use."""
    global _formatter
    if _formatter is None:
        logger = logging.getLogger(SERVICE_LOGGER)
        for handler in logger.handlers:  # installed before (this module reloaded)
            if isinstance(handler.formatter, JsonFormatter) and getattr(handler, "procure_json", False):
                _formatter = handler.formatter
                return _formatter
        keys: dict[str, Any] = {"service": SERVICE_LOGGER}
        level = _level()
        rate = os.environ.get(SAMPLE_RATE_ENV)
        if rate:
            import random

            keys["sampling_rate"] = rate
            if random.random() <= float(rate):
                level = "DEBUG"
        handler = _StdoutHandler()
        handler.procure_json = True  # type: ignore[attr-defined]
        handler.setFormatter(JsonFormatter(**keys))
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
        _formatter = handler.formatter  # type: ignore[assignment]
    return _formatter  # type: ignore[return-value]


def append_keys(**keys: Any) -> None:
    """Write these keys on every following line (until removed)."""
    formatter().append_keys(**keys)


def remove_keys(keys: Iterable[str]) -> None:
    formatter().remove_keys(keys)


def get_logger(name: str) -> logging.Logger:
    """A logger under `procure` whose records are JSON lines on stdout (CloudWatch in AWS)."""
    formatter()
    return logging.getLogger(SERVICE_LOGGER).getChild(name)


def set_level(level: str) -> None:
    formatter()
    logging.getLogger(SERVICE_LOGGER).setLevel(_level(level))
