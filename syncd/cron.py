"""Cron lines as crontab(5) reads them, turned into APScheduler 3.x triggers.

APScheduler's own `CronTrigger.from_crontab` numbers the days of the week from Monday (0) where crontab numbers
them from Sunday (0 or 7), and takes no jitter: "0 3 * * 1-5" would run on Tuesday to Saturday. Here the day-of-week
field is read as crontab reads it and handed to APScheduler by name.
"""

from __future__ import annotations

from typing import Any

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def is_cron(text: str) -> bool:
    return len(text.split()) == 5


def _day(token: str) -> int:
    name = token.lower()[:3]
    if name in DAY_NAMES:
        return DAY_NAMES.index(name)
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token) % 7
    raise ValueError(f"day of week {token!r} is not 0-7 or a day's name")


def crontab_days(field: str) -> str:
    """A crontab day-of-week field ("1-5", "0,6", "*/2", "mon-fri", "*") as APScheduler day names."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ValueError(f"day of week step {step_text!r} is not a positive number")
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            start, _, end = base.partition("-")
            first, last = _day(start), _day(end)
            if end.strip() == "7":
                last = 7  # "5-7": Friday to Sunday
            if last < first:
                raise ValueError(f"day of week range {base!r} runs backwards")
        else:
            first = last = _day(base)
            if step is not None:
                last = 6  # "1/2": from Monday, every second day
        days.update(day % 7 for day in range(first, last + 1, step or 1))
    return ",".join(DAY_NAMES[day] for day in sorted(days))


def cron_trigger(text: str, jitter: float | None = None) -> Any:
    """The trigger of a five-field cron line (minute hour day month day-of-week) in UTC; ValueError when it is not
    one."""
    from apscheduler.triggers.cron import CronTrigger

    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"{text!r} is not a five-field cron line")
    minute, hour, day, month, day_of_week = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=crontab_days(day_of_week),
        timezone="UTC",
        jitter=jitter or None,
    )
