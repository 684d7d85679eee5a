"""Structured JSON logs through AWS Lambda Powertools' Logger: one JSON object a line on stdout.

`get_logger(name)` keeps its callers' plain `logging` API (`log.info("...", extra={...})`); the
records go to the `procure` logger, formatted by Powertools with the keys of the current invocation
(request_id, route, caller_id, correlation_id, see chalicelib/observability.py) and any `extra=`
fields. The level is LOG_LEVEL (stage configuration; INFO unless set). Never log emails or tokens:
`caller_id` is the Cognito `sub`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

SERVICE_LOGGER = "procure"

_logger: Any = None  # the Powertools Logger behind every get_logger() child


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


def _formatter_class():
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    return LambdaPowertoolsFormatter


def JsonFormatter(**options: Any) -> logging.Formatter:
    """The formatter of every line (Powertools' LambdaPowertoolsFormatter)."""
    return _formatter_class()(**options)


def powertools_logger() -> Any:
    """The one Powertools Logger (service `procure`), configured on first use."""
    global _logger
    if _logger is None:
        from aws_lambda_powertools import Logger

        from chalicelib import config

        _logger = Logger(
            service=SERVICE_LOGGER,
            level=(config.get("LOG_LEVEL") or "INFO").upper(),
            logger_handler=_StdoutHandler(),
            log_uncaught_exceptions=False,
        )
        _logger._logger.propagate = False
    return _logger


def get_logger(name: str) -> logging.Logger:
    """A logger under `procure` whose records are JSON lines on stdout (CloudWatch in AWS)."""
    powertools_logger()
    return logging.getLogger(SERVICE_LOGGER).getChild(name)


def set_level(level: str) -> None:
    powertools_logger().setLevel(level.upper())
