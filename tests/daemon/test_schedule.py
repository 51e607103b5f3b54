"""Each sync's schedule from the manifest: its own, else the defaults; intervals, cron lines and jitter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd.daemon.schedule import Schedule, schedules
from syncd.manifest import ManifestError, load_manifest
from syncd.registry import default_registry

MANIFEST = """\
version: 1
instance: s
defaults: {{schedule: {default}, jitter: 10s}}
source: {{type: file, path: secrets.yaml}}
targets: {{env: {{type: dotenv, path: out.env}}}}
syncs:
  - {{name: a, from: x, to: [{{target: env}}]}}
  - {{name: b, from: x, to: [{{target: env}}], schedule: "*/15 * * * *", jitter: 0s}}
"""


def _manifest(tmp_path: Path, default: str) -> Path:
    (tmp_path / "secrets.yaml").write_text("x: {k: v}\n")
    path = tmp_path / "syncd.yaml"
    path.write_text(MANIFEST.format(default=default))
    return path


def test_a_sync_takes_its_own_schedule_else_the_defaults(tmp_path: Path) -> None:
    """`a` runs every 2 minutes with the default jitter; `b` on its cron line without jitter."""
    found = schedules(load_manifest(_manifest(tmp_path, "2m"), default_registry()))
    assert found == {"a": Schedule("2m", 10.0), "b": Schedule("*/15 * * * *", 0.0)}
    assert found["a"].describe() == "every 2m, up to 10s late"
    assert found["b"].describe() == "cron '*/15 * * * *' (UTC)"


def test_an_interval_first_fires_one_interval_after_start_and_a_cron_line_on_its_minutes() -> None:
    """The first run at start is the daemon's full run, so an interval job starts one interval later."""
    start = datetime(2026, 12, 1, 10, 7, tzinfo=UTC)
    interval = Schedule("2m", 0.0).trigger(start)
    assert interval.get_next_fire_time(None, start) == start + timedelta(minutes=2)
    cron = Schedule("*/15 * * * *", 0.0).trigger(start)
    assert cron.get_next_fire_time(None, start) == datetime(2026, 12, 1, 10, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("default", "message"),
    [
        ("hourly", "neither an interval"),
        ("500ms", "shorter than one second"),
        ('"61 * * * *"', "not a valid cron line"),
        ('"0 0 1 * 1"', "restricts both the day of the month and the day of the week"),
    ],
)
def test_a_bad_schedule_is_a_manifest_error_naming_the_field(tmp_path: Path, default: str, message: str) -> None:
    """`syncd validate` refuses a schedule it could not run, with the field's place."""
    with pytest.raises(ManifestError) as refused:
        load_manifest(_manifest(tmp_path, default), default_registry())
    assert message in str(refused.value) and "defaults.schedule" in str(refused.value)


@pytest.mark.parametrize(
    ("line", "after", "fires"),
    [
        # 2026-12-05 is a Saturday.
        ("0 3 * * 1-5", datetime(2026, 12, 5, tzinfo=UTC), datetime(2026, 12, 7, 3, tzinfo=UTC)),  # Monday
        ("0 3 * * 0", datetime(2026, 12, 5, tzinfo=UTC), datetime(2026, 12, 6, 3, tzinfo=UTC)),  # Sunday
        ("0 3 * * 7", datetime(2026, 12, 5, tzinfo=UTC), datetime(2026, 12, 6, 3, tzinfo=UTC)),  # Sunday too
        ("0 3 * * 6", datetime(2026, 12, 4, tzinfo=UTC), datetime(2026, 12, 5, 3, tzinfo=UTC)),  # Saturday
        ("30 2 * * mon-fri", datetime(2026, 12, 5, tzinfo=UTC), datetime(2026, 12, 7, 2, 30, tzinfo=UTC)),
        ("0 0 * * 5-7", datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 4, tzinfo=UTC)),  # Friday
    ],
)
def test_a_cron_lines_days_of_week_count_from_sunday_as_crontab_does(
    line: str, after: datetime, fires: datetime
) -> None:
    """0 and 7 are Sunday, 1-5 Monday to Friday, as in crontab(5) (APScheduler's own numbering starts on Monday)."""
    assert Schedule(line, 0.0).trigger().get_next_fire_time(None, after) == fires


def test_a_cron_schedule_keeps_its_jitter() -> None:
    """A cron line's runs are spread by the jitter as an interval's are."""
    assert Schedule("*/5 * * * *", 30.0).trigger().jitter == 30
    assert Schedule("5m", 30.0).trigger().jitter == 30
