"""A sync's `schedule` and `jitter` from the manifest, as an APScheduler trigger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from syncd.cron import cron_trigger, is_cron
from syncd.durations import format_duration, parse_duration
from syncd.manifest import Manifest


@dataclass(frozen=True)
class Schedule:
    """When one sync runs: every `interval` seconds, or on a cron line (UTC); each run up to `jitter` seconds late."""

    text: str
    jitter: float

    @property
    def is_cron(self) -> bool:
        return is_cron(self.text)

    def trigger(self, start: datetime | None = None) -> BaseTrigger:
        """The trigger; an interval's first tick is one interval after `start` (the first run at start is the
        daemon's full run, not each job's)."""
        jitter = self.jitter or None
        if self.is_cron:
            return cron_trigger(self.text, jitter)
        interval = parse_duration(self.text)
        first = (start or datetime.now(UTC)) + timedelta(seconds=interval)
        return IntervalTrigger(seconds=interval, start_date=first, timezone=UTC, jitter=jitter)

    def describe(self) -> str:
        every = f"cron {self.text!r} (UTC)" if self.is_cron else f"every {format_duration(parse_duration(self.text))}"
        return every + (f", up to {format_duration(self.jitter)} late" if self.jitter else "")


def schedules(manifest: Manifest) -> dict[str, Schedule]:
    """Each sync's schedule: its own `schedule` and `jitter`, else the manifest's defaults."""
    defaults = manifest.spec.defaults
    out = {}
    for sync in manifest.syncs:
        text = sync.spec.schedule or defaults.schedule
        jitter = sync.spec.jitter if sync.spec.jitter is not None else defaults.jitter
        out[sync.name] = Schedule(text, jitter)
    return out
