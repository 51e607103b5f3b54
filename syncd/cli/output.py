"""Everything the command line prints goes through here, and through the redactor: free text and JSON documents on
stdout, errors on stderr (or as JSON log events)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from syncd.cli.invocation import Invocation, setup_logging
from syncd.cli.options import LogFormat, LogLevel
from syncd.planfile import dump
from syncd.secret import REDACTOR


def printable(text: str) -> str:
    """`text` with what UTF-8 cannot encode (a lone surrogate in a name a source gave) as a backslash escape, so
    the output stays valid UTF-8 whatever the terminal's error handler."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def print_text(text: str) -> None:
    """Free text on stdout; the redactor replaces only whole tokens, so words and names are never cut."""
    sys.stdout.write(printable(REDACTOR.redact(text)))
    sys.stdout.flush()


def print_json(data: Any) -> None:
    """A JSON document on stdout, redacted on its string values before it is serialised (never the JSON text), and
    written as it is encoded."""
    dump(REDACTOR.redact_tree(data), sys.stdout)
    sys.stdout.flush()


def print_json_lines(documents: Iterable[Any]) -> None:
    """JSON Lines on stdout, compact and ASCII as the audit log stores them: one document a line, redacted on its
    string values before it is serialised."""
    for document in documents:
        sys.stdout.write(json.dumps(REDACTOR.redact_tree(document), separators=(",", ":")) + "\n")
    sys.stdout.flush()


def log_error(event: str, **fields: Any) -> None:
    """One error-level event through syncd's logging: a JSON line with the run's run_id under --log-format json."""
    import structlog  # here, so that a command that logs nothing never loads it

    structlog.get_logger("syncd").error(event, **fields)


def use_color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def json_logs() -> bool:
    """Whether errors go out as JSON log events: --log-format json, or SYNCD_LOG_FORMAT=json."""
    if Invocation.log_format is not None:
        return Invocation.log_format is LogFormat.json
    argv = list(Invocation.argv)
    given = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--log-format"]
    given += [arg.partition("=")[2] for arg in argv if arg.startswith("--log-format=")]
    return (given[-1] if given else os.environ.get("SYNCD_LOG_FORMAT")) == LogFormat.json.value


def print_error(message: str, issues: Sequence[Any] = ()) -> None:
    """An error on stderr: `error: ...` lines, or with JSON logs one `error` event per line (per manifest issue,
    with its `where` and `field`)."""
    if json_logs():
        if Invocation.log_format is None:
            setup_logging(LogLevel.error, LogFormat.json)
        if issues:
            for issue in issues:
                where, field = getattr(issue, "where", None), getattr(issue, "field", None) or None
                log_error("error", message=getattr(issue, "message", str(issue)), where=where, field=field)
        else:
            for line in message.splitlines() or [""]:
                log_error("error", message=line)
        return
    for line in printable(REDACTOR.redact(message)).splitlines() or [""]:
        sys.stderr.write(f"error: {line}\n")
    sys.stderr.flush()
