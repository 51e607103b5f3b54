"""Durations as people write them in a manifest or on the command line: "30s", "5m", "1h30m", "2d", "0"."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
DURATION_RULE = 'a duration such as "30s", "5m", "1h30m" or "2d" (units ms, s, m, h, d)'


def parse_duration(text: str | float | int) -> float:
    """Seconds in `text`; a bare number is seconds. ValueError (one sentence, quoting `text`) otherwise."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not {DURATION_RULE}")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"{text!r} is negative; give {DURATION_RULE}")
        return float(text)
    written = text.strip()
    try:
        seconds = float(written)
    except ValueError:
        pass
    else:
        if seconds < 0:
            raise ValueError(f"{text!r} is negative; give {DURATION_RULE}")
        return seconds
    position, total = 0, 0.0
    for match in _PART.finditer(written):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not written or position != len(written):
        raise ValueError(f"{text!r} is not {DURATION_RULE}")
    return total


def format_duration(seconds: float) -> str:
    """The shortest way `parse_duration` reads back: 90 → "1m30s", 0.25 → "250ms"."""
    if seconds != int(seconds):
        return f"{round(seconds * 1000)}ms" if seconds < 1 else f"{seconds:g}s"
    whole = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(parts) or "0s"
