"""Structured JSON logs: one JSON object a line, with any `extra=` fields merged in."""

from __future__ import annotations

import json
import logging
import sys

from chalicelib import clock

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": clock.iso(clock.now()),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


_configured = False


def get_logger(name: str) -> logging.Logger:
    """A logger under `procure` whose records are JSON lines on stdout (CloudWatch in AWS)."""
    global _configured
    root = logging.getLogger("procure")
    if not _configured:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
        _configured = True
    return root.getChild(name)
