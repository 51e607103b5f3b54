"""Logging: structlog over the standard library, JSON lines or console, always redacted.

Redaction is the second line of defence: nothing in syncd logs a value, and
this processor still scrubs every known secret from every event, including
events from the SDKs' own loggers, before anything is rendered. It works on
the event's values one by one, so a JSON line is always the event's own
structure.

The run's context (its `run_id`) is process-wide, added to every event by a
processor: events logged on worker threads (apply's pools, connectors'
threads, an SDK's own) carry it too, which context variables would not.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, WrappedLogger

from syncd.secret import REDACTOR

LogFormat = Literal["json", "console"]
# SDK loggers print request bodies at debug level; they stay at WARNING whatever --log-level says.
QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "hvac", "kubernetes", "gitlab", "werkzeug", "apscheduler")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return REDACTOR.redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return (
            type(value)(_scrub(v) for v in value)
            if not isinstance(value, set | frozenset)
            else [_scrub(v) for v in value]
        )
    if isinstance(value, int | float | bool) or value is None:
        return value
    return REDACTOR.redact(repr(value)) if not isinstance(value, BaseException) else REDACTOR.redact(str(value))


_run_context: Mapping[str, Any] = MappingProxyType({})


def start_run(**context: Any) -> None:
    """Fields every event logged from now on carries, from any thread (the CLI sets `run_id`)."""
    global _run_context
    _run_context = MappingProxyType(dict(context))


def add_run_context(logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    """A structlog processor that adds the run's fields to an event that does not set them itself."""
    for key, value in _run_context.items():
        event_dict.setdefault(key, value)
    return event_dict


def redact(logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    """A structlog processor that removes every known secret value from an event."""
    return {key: _scrub(value) for key, value in event_dict.items()}


def _no_foreign_tracebacks(record: logging.LogRecord) -> bool:
    """SDKs log failures they recover from with a traceback (botocore's credential refresh does, at WARNING), and
    syncd reports the error itself in one line: an SDK's record keeps its message and the exception's type only."""
    # Events logged through structlog (syncd's own) carry their event dict as the message; the rest are the SDKs'.
    if record.exc_info and not isinstance(record.msg, dict):
        exc_type = record.exc_info[0]
        record.msg = f"{record.getMessage()} ({exc_type.__name__ if exc_type else 'error'})"
        record.args = None
        record.exc_info = None
        record.exc_text = None
    return True


def configure(level: str = "warning", fmt: LogFormat = "console", stream: TextIO | None = None) -> None:
    """Set up logging for a run; may be called again (tests do)."""
    stream = stream or sys.stderr
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_run_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=stream.isatty(), exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact, renderer],
            foreign_pre_chain=shared,
        )
    )
    handler.addFilter(_no_foreign_tracebacks)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
