"""Durations as written in manifests and flags."""

from __future__ import annotations

import pytest

from syncd.durations import format_duration, parse_duration
from syncd.state_dir import default_state_dir


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("250ms", 0.25), ("0", 0), ("1.5", 1.5), (45, 45)],
)
def test_durations_read_as_seconds(text: str | int, seconds: float) -> None:
    """Each unit and a bare number read as the seconds they say, and format back to the same seconds."""
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m5", "5m 3s", "-1", "1h-5m", "five"])
def test_a_bad_duration_is_one_sentence_quoting_it(text: str) -> None:
    """Anything else is refused with the text quoted and the rule."""
    with pytest.raises(ValueError, match=r"duration such as|negative") as error:
        parse_duration(text)
    assert repr(text) in str(error.value)


def test_the_state_dir_follows_syncd_then_systemd_then_xdg() -> None:
    """SYNCD_STATE_DIR wins; systemd's STATE_DIRECTORY next (its first entry); then XDG_STATE_HOME."""
    assert str(default_state_dir({"SYNCD_STATE_DIR": "/a", "STATE_DIRECTORY": "/b"})) == "/a"
    assert str(default_state_dir({"STATE_DIRECTORY": "/b:/c"})) == "/b"
    assert str(default_state_dir({"XDG_STATE_HOME": "/x"})) == "/x/syncd"
    assert default_state_dir({}).name == "syncd"
