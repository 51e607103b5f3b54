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
    """Values shorter than six characters are not replaced, so ordinary words survive."""
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


JSON_RUN = """
version: 1
instance: logs
source: {type: file, path: secrets.yaml}
targets:
  env: {type: dotenv, path: out/app.env}
  other: {type: dotenv, path: out/other.env}
syncs:
  - name: app
    from: apps/app
    to:
      - {target: env, name: "APP_{key|env}"}
      - {target: other, name: "OTHER_{key|env}"}
  - name: odd
    from: apps/odd
    to: [{target: env, name: "bad name {key}"}, {target: other, name: "also bad {key}"}]
"""


def _json_events(err: str) -> list[dict]:
    """Every stderr line is one JSON event (json.loads fails on anything else)."""
    return [json.loads(line) for line in err.splitlines()]


def _json_run(tmp_path) -> str:
    secrets = {"apps": {"app": {f"k{i}": f"value-{i}-x9" for i in range(6)}, "odd": {"a": "v-1-x9", "b": "v-2-x9"}}}
    (tmp_path / "secrets.yaml").write_text(json.dumps(secrets))
    (tmp_path / "syncd.yaml").write_text(JSON_RUN)
    (tmp_path / "out").mkdir()
    return str(tmp_path / "syncd.yaml")


JSON_LOGS = ("--log-format", "json", "--log-level", "info")


def test_a_plan_logs_one_problem_event_per_problem(tmp_path, capsys) -> None:
    """With --log-format json every stderr line is a JSON event, and each problem is one error-level `problem`
    event naming its target, sync and address."""
    from syncd.cli import main

    assert main(["plan", "-c", _json_run(tmp_path), *JSON_LOGS]) == 1
    problems = [e for e in _json_events(capsys.readouterr().err) if e["event"] == "problem"]
    assert sorted((e["target"], e["sync"], e["address"]) for e in problems) == [
        ("env", "odd", "bad name a"),
        ("env", "odd", "bad name b"),
        ("other", "odd", "also bad a"),
        ("other", "odd", "also bad b"),
    ]
    assert all(e["level"] == "error" and e["message"] and e["run_id"] for e in problems)


def test_every_event_of_a_run_carries_its_run_id_from_every_thread(tmp_path, capsys) -> None:
    """The change events apply logs from its worker threads carry the run's run_id like every other event."""
    from syncd.cli import main

    manifest = _json_run(tmp_path)
    assert main(["plan", "-c", manifest, "--log-level", "debug", "--log-format", "json"]) == 1
    plan_events = _json_events(capsys.readouterr().err)
    assert main(["apply", "-c", manifest, "--yes", *JSON_LOGS]) == 1
    apply_events = _json_events(capsys.readouterr().err)
    changes = [e for e in apply_events if e["event"] == "change"]
    assert len(changes) == 12 and {e["status"] for e in changes} == {"applied"}
    for events in (plan_events, apply_events):
        assert [e for e in events if not e.get("run_id")] == []
        assert len({e["run_id"] for e in events}) == 1
    assert plan_events[0]["run_id"] != apply_events[0]["run_id"]


def test_errors_are_json_events_in_json_log_mode(tmp_path, capsys, monkeypatch) -> None:
    """A manifest error gives one error event per issue, with where, field and message; a usage error and a
    missing manifest give one error event too; nothing else is on stderr, and stdout is empty."""
    from syncd.cli import main

    (tmp_path / "syncd.yaml").write_text(
        "version: 1\ninstance: x\nsource: {type: file, path: s.yaml, colour: red}\n"
        "targets: {env: {type: dotenv, path: o.env, size: 3}}\nsyncs: [{name: a, from: b, to: [{target: nope}]}]\n"
    )
    assert main(["validate", "-c", str(tmp_path / "syncd.yaml"), "--log-format", "json"]) == 1
    captured = capsys.readouterr()
    events = _json_events(captured.err)
    assert captured.out == "" and len(events) == 3
    assert {e["field"] for e in events} == {"source.colour", "targets.env.size", "syncs[0].to[0].target"}
    assert all(e["event"] == "error" and e["level"] == "error" and e["run_id"] and e["where"] for e in events)
    assert main(["plan", "--no-such-option", "--log-format=json"]) == 1
    (usage,) = _json_events(capsys.readouterr().err)
    assert usage["event"] == "error" and "--no-such-option" in usage["message"] and usage["run_id"]
    monkeypatch.setenv("SYNCD_LOG_FORMAT", "json")
    assert main(["plan", "-c", str(tmp_path / "missing.yaml")]) == 1
    (missing,) = _json_events(capsys.readouterr().err)
    assert "does not exist" in missing["message"]


def test_a_change_that_fails_at_apply_is_an_error_event_at_the_default_level(tmp_path, capsys) -> None:
    """A conflict (a variable syncd did not write) fails at apply: with JSON logs at the default level, stderr
    holds one error-level `change` event for it, so a failed run never leaves the logs empty."""
    from syncd.cli import main

    manifest = _json_run(tmp_path)
    (tmp_path / "out" / "app.env").write_text("APP_K0=someone-elses\n")
    assert main(["apply", "-c", manifest, "--yes", "--log-format", "json"]) == 1
    events = _json_events(capsys.readouterr().err)
    failed = [e for e in events if e["event"] == "change"]
    assert [(e["level"], e["address"], e["status"]) for e in failed] == [("error", "APP_K0", "failed")]
    assert failed[0]["run_id"] and "conflict" in failed[0]["error"]


def test_an_sdk_logging_a_traceback_gives_one_line() -> None:
    """botocore logs a failed credential refresh at WARNING with its traceback: the line keeps the SDK's message and
    the exception's type, never the traceback, while syncd's own debug tracebacks stay."""
    stream = io.StringIO()
    logs.configure("debug", "console", stream=stream)
    try:
        raise ValueError("refresh failed")
    except ValueError:
        logging.getLogger("botocore.credentials").warning("Refreshing temporary credentials failed", exc_info=True)
        structlog.get_logger("syncd.engine").debug("unexpected error", exc_info=True)
    text = stream.getvalue()
    sdk_line = next(line for line in text.splitlines() if "Refreshing temporary credentials failed" in line)
    assert "(ValueError)" in sdk_line
    assert text.count("Traceback") == 1 and text.index("Traceback") > text.index("unexpected error")
