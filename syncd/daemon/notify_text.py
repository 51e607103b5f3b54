"""The words of a notification: one finished run of one sync as the text of a Slack-compatible message. Pure.

A message names the instance, the sync, its targets, counts, error classes, the run id and the manifest commit or
digest. It never holds a value, nor an item's address or a source path: a chat channel has more readers than the
logs, and the run id finds every item in the audit log and the logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from syncd.daemon.outcome import RunOutcome, RunResult, TargetOutcome
from syncd.model import Action

# A run over hundreds of targets still gives a message a person reads: the first ones, then how many more.
MAX_TARGET_LINES = 20
MAX_ERROR_LENGTH = 500
_ACTION_ORDER = [action.value for action in Action if action is not Action.NOOP]
_ACTION_WORDS = {"create": "to create", "update": "to update", "delete": "to delete", "conflict": "conflict"}


class Event(StrEnum):
    DRIFT = "drift found"
    FAILED = "apply failed"
    RECOVERED = "recovered"


@dataclass(frozen=True)
class Suppressed:
    """Messages of the same sync and event held back by the rate limit since the last one that went out."""

    count: int
    since: datetime


@dataclass(frozen=True)
class Streak:
    """The failed runs a recovery ends."""

    runs: int
    since: datetime


def escape(text: str) -> str:
    """Slack's three control characters, so a name or an error sentence can never become a mention or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def when(moment: datetime) -> str:
    """A time as people on call read it, in UTC (a naive time is taken as UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def drift_text(outcome: RunOutcome, instance: str, suppressed: Suppressed | None = None) -> str:
    """A run's drift per target, found and not applied (a dry run). An applying run's conflicts come as a failure:
    apply fails each conflict (error class `conflict`)."""
    why = "dry run, nothing written" if outcome.dry_run else "not applied"
    head = f"drift found in sync {_name(outcome.sync)} ({why})"
    lines = [f"target {_name(t.target)}: {_counts(t.drift)}" for t in outcome.targets if _total(t.drift)]
    return _message(instance, head, lines, outcome, suppressed)


def failed_text(outcome: RunOutcome, instance: str, suppressed: Suppressed | None = None) -> str:
    """Which targets failed and how (counts and error classes), the source's unreadable secrets, and the run's error
    sentence."""
    if outcome.result is RunResult.ERROR:
        head = f"apply failed in sync {_name(outcome.sync)}: the run could not plan"
    else:
        head = f"apply failed in sync {_name(outcome.sync)}"
    failing = [t for t in outcome.targets if _is_failing(t)]
    lines = [_failed_target(t) for t in failing]
    healthy = len(outcome.targets) - len(failing)
    if failing and healthy:
        lines.append(f"{_plural(healthy, 'other target')} ok")
    if outcome.source_errors:
        lines.append(f"source: {_plural(outcome.source_errors, 'secret')} could not be read")
    if outcome.error:
        error = outcome.error if len(outcome.error) <= MAX_ERROR_LENGTH else outcome.error[:MAX_ERROR_LENGTH] + "…"
        lines.append(f"error: {escape(error)}")
    return _message(instance, head, lines, outcome, suppressed, truncate_from=len(failing))


def recovered_text(outcome: RunOutcome, instance: str, streak: Streak) -> str:
    head = f"sync {_name(outcome.sync)} recovered after {_plural(streak.runs, 'failed run')} since {when(streak.since)}"
    if outcome.result is RunResult.DRIFT:
        head += " (it has drift, not applied)"
    return _message(instance, head, [], outcome, None)


def _message(
    instance: str,
    head: str,
    lines: list[str],
    outcome: RunOutcome,
    suppressed: Suppressed | None,
    truncate_from: int | None = None,
) -> str:
    shown = _truncated(lines, len(lines) if truncate_from is None else truncate_from)
    manifest = (
        f"manifest commit {escape(outcome.manifest_commit)}"
        if outcome.manifest_commit
        else f"manifest {escape(outcome.manifest_digest)}"
        if outcome.manifest_digest
        else "manifest unknown"
    )
    parts = [f"syncd {_name(instance)}: {head}", *(f"• {line}" for line in shown)]
    parts.append(f"run {escape(outcome.run_id)} · {manifest} · {when(outcome.finished_at)}")
    if suppressed is not None and suppressed.count:
        parts.append(f"({suppressed.count} more since {when(suppressed.since)})")
    return "\n".join(parts)


def _truncated(lines: list[str], targets: int) -> list[str]:
    """At most MAX_TARGET_LINES of the first `targets` lines (one per target), then the lines after them."""
    if targets <= MAX_TARGET_LINES:
        return lines
    hidden = targets - MAX_TARGET_LINES
    return [*lines[:MAX_TARGET_LINES], f"… and {_plural(hidden, 'more target')}", *lines[targets:]]


def _is_failing(target: TargetOutcome) -> bool:
    return target.result in (RunResult.FAILED, RunResult.ERROR) or bool(target.failed or target.problems)


def _failed_target(target: TargetOutcome) -> str:
    parts = []
    if target.failed or target.applied:
        parts.append(f"{target.failed} of {_plural(target.failed + target.applied, 'change')} failed")
    if target.problems:
        parts.append(_plural(target.problems, "problem"))
    if not parts:
        parts.append("could not be planned" if target.result is RunResult.ERROR else "failed")
    text = f"target {_name(target.target)}: " + ", ".join(parts)
    if target.error_classes:
        text += f" ({', '.join(escape(c) for c in _unique(target.error_classes))})"
    return text


def _counts(drift: Mapping[str, int]) -> str:
    known = [a for a in _ACTION_ORDER if drift.get(a)]
    others = sorted(a for a in drift if a not in _ACTION_ORDER and a != Action.NOOP.value and drift[a])
    words = []
    for action in [*known, *others]:
        count = drift[action]
        word = _ACTION_WORDS.get(action, escape(action))
        words.append(f"{count} {word}{'s' if action == 'conflict' and count != 1 else ''}")
    return ", ".join(words)


def _total(drift: Mapping[str, int]) -> int:
    return sum(count for action, count in drift.items() if action != Action.NOOP.value)


def _unique(items: Iterable[str]) -> list[str]:
    return sorted(set(items))


def _name(name: str) -> str:
    return f"'{escape(name)}'"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
