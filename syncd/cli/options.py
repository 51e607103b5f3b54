"""The exit codes, and the options and choices several commands share."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

EXIT_OK, EXIT_ERROR, EXIT_DRIFT = 0, 1, 2


class Format(enum.StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


class LogFormat(enum.StrEnum):
    console = "console"
    json = "json"


class LogLevel(enum.StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Manifest file. Default: $SYNCD_CONFIG, then ./syncd.yaml.", show_default=False
    ),
]
SyncOpt = Annotated[list[str] | None, typer.Option("--sync", help="Only this sync (repeatable).", show_default=False)]
TargetOpt = Annotated[
    list[str] | None, typer.Option("--target", help="Only this target (repeatable).", show_default=False)
]
LogFormatOpt = Annotated[
    LogFormat, typer.Option("--log-format", envvar="SYNCD_LOG_FORMAT", help="Log lines on stderr.")
]
LogLevelOpt = Annotated[
    LogLevel, typer.Option("--log-level", envvar="SYNCD_LOG_LEVEL", help="Least severe level logged.")
]
MassDeleteOpt = Annotated[
    bool,
    typer.Option("--allow-mass-delete", help="Let a target's deletes exceed the delete guard's limits."),
]
StateDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Where the audit log (audit.jsonl) and the instance lock live. Default: $SYNCD_STATE_DIR, then "
        "$STATE_DIRECTORY (systemd), then $XDG_STATE_HOME/syncd, then ~/.local/state/syncd.",
        show_default=False,
    ),
]
LockWaitOpt = Annotated[
    str,
    typer.Option(
        "--lock-wait",
        help="How long to wait while another syncd of this instance writes: a duration, or 'forever'. 0 exits at once.",
    ),
]


def duration_option(flag: str, text: str) -> float:
    """A duration flag's seconds; a ConfigError naming the flag otherwise."""
    from syncd.durations import parse_duration
    from syncd.errors import ConfigError

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"{flag}: {exc}") from None


def lock_wait_seconds(text: str) -> float | None:
    """--lock-wait's seconds; None for 'forever'."""
    return None if text.strip().lower() == "forever" else duration_option("--lock-wait", text)
