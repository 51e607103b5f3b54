"""`syncd audit`: the audit log's records, filtered, as a table or as the JSON lines stored. Needs no manifest."""

from __future__ import annotations

import enum
import io
import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from syncd.cli.invocation import setup_logging
from syncd.cli.options import EXIT_ERROR, EXIT_OK, LogFormat, LogFormatOpt, LogLevel, LogLevelOpt, StateDirOpt
from syncd.cli.output import print_error, print_json_lines, print_text, use_color
from syncd.errors import ConfigError


class AuditFormat(enum.StrEnum):
    table = "table"
    json = "json"


_STYLE = {"create": "green", "update": "yellow", "delete": "red", "conflict": "bold magenta"}


def audit(
    state_dir: StateDirOpt = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="An audit log file to read instead of <state-dir>/audit.jsonl.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help='Only records from then on: "1h", "2d", "2026-11-30" or "2026-11-30T10:00:00Z" (UTC).'
        ),
    ] = None,
    sync: Annotated[str | None, typer.Option("--sync", help="Only this sync's records.", show_default=False)] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Only this target's records.", show_default=False)
    ] = None,
    fmt: Annotated[
        AuditFormat, typer.Option("--format", "-f", help="A table, or JSON Lines as stored.")
    ] = AuditFormat.table,
    log_format: LogFormatOpt = LogFormat.console,
    log_level: LogLevelOpt = LogLevel.warning,
) -> None:
    """Show the audit log: every change apply and the daemon made or tried, oldest first. Reads no manifest."""
    import structlog

    from syncd.audit import parse_since, read_audit
    from syncd.state_dir import AUDIT_FILE, default_state_dir

    setup_logging(log_level, log_format)
    try:
        start = parse_since(since) if since is not None else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    path = file if file is not None else (state_dir or default_state_dir()) / AUDIT_FILE
    if not path.exists() and not any(path.parent.glob(path.name + ".[0-9]*")):
        print_error(f"no audit log at {str(path)!r}")
        raise typer.Exit(EXIT_ERROR)
    records = read_audit(path, since=start, sync=sync, target=target)
    try:
        if fmt is AuditFormat.json:
            print_json_lines(records)
        else:
            print_text(render_audit_table(records, color=use_color()))
    except BrokenPipeError:
        # The reader stopped (`syncd audit -f json | head`): what it read is what it wanted.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(EXIT_OK) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the audit log {str(path)!r}: {exc.strerror or exc}") from None
    if records.skipped:
        structlog.get_logger("syncd").warning(
            "audit lines skipped",
            path=str(path),
            skipped=records.skipped,
            why="not a record: a line torn by a crash mid-write, or not written by syncd",
        )


COLUMNS = ("TIME", "RUN", "SYNC", "TARGET", "ADDRESS", "ACTION", "RESULT", "ATTEMPTS")
# Above this many rows the table is laid out by plain padding: rich lays out a table in memory, whole, and takes
# minutes over the hundreds of thousands of records a full log with its rotated files holds.
RICH_ROWS = 2000


def _row(record: dict[str, Any]) -> tuple[str, ...]:
    outcome = str(record["result"])
    if record.get("error_class"):
        outcome += f" ({record['error_class']})"
    return (
        str(record["time"]),
        str(record["run_id"]),
        str(record.get("sync") or "-"),
        str(record["target"]),
        str(record["address"]),
        str(record["action"]),
        outcome,
        str(record.get("attempts", "")),
    )


def render_audit_table(records: Iterable[dict[str, Any]], *, color: bool = False) -> str:
    """The records as a table for people, one row each; "No audit records match." when there are none."""
    rows = [_row(record) for record in records]
    if not rows:
        return "No audit records match.\n"
    if len(rows) > RICH_ROWS:
        widths = [max(len(column), *(len(row[i]) for row in rows)) for i, column in enumerate(COLUMNS)]
        lines = [" ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                 for row in (COLUMNS, *rows)]  # fmt: skip
        return "\n".join(lines) + "\n"
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    buffer = io.StringIO()
    # On a terminal its width (long cells fold); elsewhere lines as long as the records need, for grep and cut.
    width = max(shutil.get_terminal_size().columns, 100) if sys.stdout.isatty() else 10_000
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width, highlight=False)
    table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold")
    for column in COLUMNS:
        table.add_column(column, overflow="fold")
    for row in rows:
        *first, action, outcome, attempts = (escape(cell) for cell in row)
        style = _STYLE.get(row[5], "")
        table.add_row(
            *first,
            f"[{style}]{action}[/]" if style else action,
            outcome if row[6].startswith("applied") else f"[red]{outcome}[/]",
            attempts,
        )
    console.print(table)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"
