"""The redaction processor scrubs known secret values from every log event, ours or an SDK's."""

from __future__ import annotations

import io
import json
import logging

import structlog

from syncd import logs
from syncd.secret import REDACTED, Secret


def test_structlog_events_are_scrubbed_in_json() -> None:
    """A value known to be secret is replaced in the message, in fields, nested fields and exceptions."""
    value = Secret("PLANTED-log-4411").reveal()
    stream = io.StringIO()
    logs.configure("debug", "json", stream)
    log = structlog.get_logger("test")
    try:
        raise ValueError(f"boom {value}")
    except ValueError:
        log.exception(f"event {value}", field=value, nested={"list": [value, 1]})
    text = stream.getvalue()
    assert "PLANTED-log-4411" not in text
    event = json.loads(text.splitlines()[0])
    assert event["field"] == REDACTED
    assert event["nested"] == {"list": [REDACTED, 1]}
    assert REDACTED in event["exception"]


def test_stdlib_and_sdk_loggers_are_scrubbed_and_quiet() -> None:
    """Records from the standard library are scrubbed too, and SDK loggers stay at WARNING under debug."""
    value = Secret("PLANTED-log-9922").reveal()
    stream = io.StringIO()
    logs.configure("debug", "console", stream)
    logging.getLogger("some.library").warning("sent %s", value)
    logging.getLogger("botocore.endpoint").debug("request body %s", value)
    text = stream.getvalue()
    assert "sent " + REDACTED in text
    assert "request body" not in text
    assert "PLANTED-log-9922" not in text


def test_short_values_are_not_scrubbed_from_text() -> None:
    """Values shorter than four characters are not replaced, so ordinary words survive."""
    Secret("on")
    stream = io.StringIO()
    logs.configure("info", "json", stream)
    structlog.get_logger("t").info("turned on")
    assert json.loads(stream.getvalue())["event"] == "turned on"


def test_redactor_replaces_overlapping_and_multiline_values() -> None:
    """The longest known value wins where two overlap, and each line of a multi-line value is scrubbed."""
    from syncd.secret import Redactor

    redactor = Redactor()
    redactor.add("abcd1234")
    redactor.add("abcd1234-longer")
    redactor.add("line-one-xx\nline-two-yy")
    assert redactor.redact("x abcd1234-longer y abcd1234 z") == f"x {REDACTED} y {REDACTED} z"
    assert redactor.redact("saw line-two-yy only") == f"saw {REDACTED} only"
    assert redactor.redact("nothing here") == "nothing here"


def test_every_log_line_of_a_run_carries_its_run_id(tmp_path, capsys) -> None:
    """Log events of one CLI invocation share a run_id, and two invocations get different ones."""
    from pathlib import Path

    from syncd.cli import main

    manifest = Path(__file__).parent.parent / "examples" / "quickstart" / "syncd.yaml"
    ids = []
    for _ in range(2):
        main(["plan", "-c", str(manifest), "--log-level", "debug", "--log-format", "json"])
        events = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        assert events and len({e["run_id"] for e in events}) == 1
        ids.append(events[0]["run_id"])
    assert ids[0] != ids[1]
