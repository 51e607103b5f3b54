"""`syncd apply` records every change it makes or tries in the audit log, and `syncd audit` shows it: on the
quickstart's file source and dotenv sinks, with no value anywhere in the log, the command's output or the logs."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from syncd.audit import AuditLog, AuditWriteError, read_audit
from syncd.cli import main
from tests.leakscan import assert_no_leaks, redactor_off
from tests.test_leaks import MANIFEST as LEAK_MANIFEST

QUICKSTART = Path(__file__).parent.parent / "examples" / "quickstart"
JSON_INFO_LOGS = ("--log-format", "json", "--log-level", "info")


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    shutil.copytree(QUICKSTART, tmp_path / "qs", ignore=shutil.ignore_patterns("out"))
    return tmp_path / "qs" / "syncd.yaml"


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_apply_writes_one_record_per_change(quickstart: Path, state_dir: Path, capsys) -> None:
    """Every change apply made or tried is one record: applied ones and a conflict (failed, error class "conflict"),
    with the run id of the run's log lines, the manifest's digest, trigger "cli" and the instance."""
    out = quickstart.parent / "out"
    out.mkdir()
    (out / "api.env").write_text("DB_USER=someone-else\n")  # not syncd's: a conflict under on_conflict: fail
    code, plan_json, _ = run(capsys, "plan", "-c", str(quickstart), "-f", "json")
    digest = json.loads(plan_json)["manifest"]["sha256"]
    code, _, err = run(capsys, "apply", "-c", str(quickstart), "--yes", "--state-dir", str(state_dir), *JSON_INFO_LOGS)
    assert code == 1
    events = [json.loads(line) for line in err.splitlines()]
    changes = {(e["target"], e["address"], e["action"], e["status"]) for e in events if e["event"] == "change"}
    assert len(changes) == 6
    records = [json.loads(line) for line in (state_dir / "audit.jsonl").read_text().splitlines()]
    assert {(r["target"], r["address"], r["action"], r["result"]) for r in records} == changes
    assert len(records) == 6
    (conflict,) = [r for r in records if r["result"] == "failed"]
    assert (conflict["target"], conflict["address"], conflict["error_class"]) == ("api-env", "DB_USER", "conflict")
    assert {r["run_id"] for r in records} == {e["run_id"] for e in events}
    assert {(r["instance"], r["manifest"], r["trigger"]) for r in records} == {
        ("quickstart", f"sha256:{digest}", "cli")
    }


def test_an_apply_with_nothing_to_do_adds_no_record(quickstart: Path, state_dir: Path, capsys) -> None:
    """A second apply finds the sinks in sync and appends nothing."""
    assert run(capsys, "apply", "-c", str(quickstart), "--yes", "--state-dir", str(state_dir))[0] == 0
    before = (state_dir / "audit.jsonl").read_bytes()
    assert run(capsys, "apply", "-c", str(quickstart), "--yes", "--state-dir", str(state_dir))[0] == 0
    assert (state_dir / "audit.jsonl").read_bytes() == before


def test_apply_uses_the_state_dir_from_the_environment(
    quickstart: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --state-dir, apply appends to $SYNCD_STATE_DIR/audit.jsonl, and audit reads it there."""
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "from-env"))
    assert run(capsys, "apply", "-c", str(quickstart), "--yes")[0] == 0
    assert len((tmp_path / "from-env" / "audit.jsonl").read_text().splitlines()) == 6
    code, out, _ = run(capsys, "audit", "-f", "json")
    assert code == 0 and len(out.splitlines()) == 6


@pytest.mark.parametrize("how", ["option", "environment"])
def test_an_unwritable_state_dir_stops_apply_before_any_change(
    quickstart: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """When the audit log cannot be written, apply says so, names the path and the reason, and writes no sink."""
    (tmp_path / "a-file").write_text("")
    unwritable = tmp_path / "a-file" / "state"
    argv = ["apply", "-c", str(quickstart), "--yes"]
    if how == "option":
        argv += ["--state-dir", str(unwritable)]
    else:
        monkeypatch.setenv("SYNCD_STATE_DIR", str(unwritable))
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert str(unwritable / "audit.jsonl") in err and "Not a directory" in err
    assert "stopped before changing anything" in err
    assert not (quickstart.parent / "out").exists()


def test_records_lost_after_the_changes_are_an_error(
    quickstart: Path, state_dir: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the audit log fails after the changes are made (a full disk), apply still reports its results and exits 1
    with the audit error."""

    def full_disk(self: AuditLog, records: object) -> None:
        raise AuditWriteError(f"cannot write the audit log {str(self.path)!r}: No space left on device")

    monkeypatch.setattr(AuditLog, "append", full_disk)
    code, out, err = run(capsys, "apply", "-c", str(quickstart), "--yes", "--state-dir", str(state_dir))
    assert code == 1
    assert "6 applied, 0 failed." in out
    assert "No space left on device" in err


def test_audit_shows_the_records_filtered(quickstart: Path, state_dir: Path, capsys) -> None:
    """syncd audit prints a table, or JSON Lines as stored, filtered by --sync, --target and --since."""
    assert run(capsys, "apply", "-c", str(quickstart), "--yes", "--state-dir", str(state_dir))[0] == 0
    stored = (state_dir / "audit.jsonl").read_text()
    code, out, _ = run(capsys, "audit", "--state-dir", str(state_dir), "-f", "json")
    assert code == 0 and out == stored
    code, out, _ = run(capsys, "audit", "--state-dir", str(state_dir))
    assert code == 0
    assert out.split("\n")[0].split() == ["TIME", "RUN", "SYNC", "TARGET", "ADDRESS", "ACTION", "RESULT", "ATTEMPTS"]
    assert len(out.splitlines()) == 7 and "PAYMENTS_DB_USER" in out
    code, out, _ = run(capsys, "audit", "--file", str(state_dir / "audit.jsonl"), "--sync", "third-party", "-f", "json")
    assert {json.loads(line)["address"] for line in out.splitlines()} == {"GITHUB_TOKEN", "STRIPE_API_KEY"}
    code, out, _ = run(capsys, "audit", "--state-dir", str(state_dir), "--target", "worker-env", "-f", "json")
    assert {json.loads(line)["address"] for line in out.splitlines()} == {"PAYMENTS_DB_USER", "PAYMENTS_DB_PASSWORD"}
    code, out, _ = run(capsys, "audit", "--state-dir", str(state_dir), "--since", "1h", "-f", "json")
    assert len(out.splitlines()) == 6
    code, out, _ = run(capsys, "audit", "--state-dir", str(state_dir), "--since", "2999-01-01")
    assert code == 0 and out == "No audit records match.\n"


def test_audit_reports_skipped_lines(state_dir: Path, capsys) -> None:
    """Lines that are not records are skipped, and a warning says how many."""
    state_dir.mkdir()
    (state_dir / "audit.jsonl").write_text('{"torn": \n')
    code, out, err = run(capsys, "audit", "--state-dir", str(state_dir), "--log-format", "json")
    assert code == 0 and out == "No audit records match.\n"
    (event,) = [json.loads(line) for line in err.splitlines()]
    assert (event["event"], event["skipped"], event["level"]) == ("audit lines skipped", 1, "warning")


def test_audit_without_a_log_or_with_a_bad_since_is_one_clear_error(tmp_path: Path, capsys) -> None:
    """A missing log is "no audit log at PATH", a bad --since one sentence; both exit 1."""
    code, out, err = run(capsys, "audit", "--state-dir", str(tmp_path / "none"))
    assert (code, out) == (1, "")
    assert err == f"error: no audit log at {str(tmp_path / 'none' / 'audit.jsonl')!r}\n"
    code, out, err = run(capsys, "audit", "--state-dir", str(tmp_path), "--since", "last week")
    assert (code, out) == (1, "")
    assert err.startswith("error: --since 'last week' is not a duration") and err.count("\n") == 1


PLANTED = {"password": "PLANTED-audit-pw-5e1c0d", "token": "PLANTED-audit-tok-93ab7f"}


def test_no_value_in_the_audit_log_its_output_or_the_logs(tmp_path: Path, state_dir: Path, capsys) -> None:
    """With the redactor off, planted values appear in neither the audit log, nor syncd audit's table and JSON, nor
    apply's debug logs: after creates, conflicts (failed records), updates and a target that cannot be read."""
    (tmp_path / "secrets.yaml").write_text(json.dumps({"apps": {"app": PLANTED}}))
    (tmp_path / "syncd.yaml").write_text(textwrap.dedent(LEAK_MANIFEST))
    (tmp_path / "out" / "broken.env").mkdir(parents=True)
    # A variable syncd did not write: its change is a conflict, a failed record.
    (tmp_path / "out" / "app.env").write_text("APP_TOKEN=someone-elses\n")
    texts = {}
    with redactor_off():
        apply = ["apply", "-c", str(tmp_path / "syncd.yaml"), "--yes", "--state-dir", str(state_dir)]
        code, texts["apply out"], texts["apply err"] = run(
            capsys, *apply, "--log-format", "json", "--log-level", "debug"
        )
        assert code == 1
        rotated = {key: value + "-v2" for key, value in PLANTED.items()}
        (tmp_path / "secrets.yaml").write_text(json.dumps({"apps": {"app": rotated}}))
        code, texts["update out"], texts["update err"] = run(capsys, *apply, "--log-level", "debug")
        for fmt in ("table", "json"):
            code, texts[f"audit {fmt}"], texts[f"audit {fmt} err"] = run(
                capsys, "audit", "--state-dir", str(state_dir), "-f", fmt, "--log-level", "debug"
            )
            assert code == 0
    records = [json.loads(line) for line in (state_dir / "audit.jsonl").read_text().splitlines()]
    runs = [sorted((r["address"], r["action"], r["result"], r["error_class"] or "") for r in records[at : at + 2])
            for at in (0, 2)]  # fmt: skip
    assert runs == [
        [("APP_PASSWORD", "create", "applied", ""), ("APP_TOKEN", "conflict", "failed", "conflict")],
        [("APP_PASSWORD", "update", "applied", ""), ("APP_TOKEN", "conflict", "failed", "conflict")],
    ]
    assert_no_leaks({**PLANTED, **{f"{k} v2": v for k, v in rotated.items()}}, texts=texts, paths=[state_dir])


def test_a_long_log_is_laid_out_by_padding_with_the_same_columns() -> None:
    """Past RICH_ROWS records the table is plain padded columns: a header, then one line per record, in order."""
    from syncd.cli.audit_commands import RICH_ROWS, render_audit_table

    records = [
        {"time": f"2026-12-01T00:00:{i % 60:02d}Z", "run_id": f"r{i}", "sync": "s", "target": "t",
         "address": f"ADDR_{i}", "action": "update", "result": "failed" if i == 3 else "applied",
         "error_class": "ItemMoved" if i == 3 else None, "attempts": 1}
        for i in range(RICH_ROWS + 1)
    ]  # fmt: skip
    lines = render_audit_table(records).splitlines()
    assert lines[0].split() == ["TIME", "RUN", "SYNC", "TARGET", "ADDRESS", "ACTION", "RESULT", "ATTEMPTS"]
    assert len(lines) == RICH_ROWS + 2
    assert lines[4].split()[4:7] == ["ADDR_3", "update", "failed"] and "(ItemMoved)" in lines[4]
    assert lines[0].index("ADDRESS") == lines[-1].index(f"ADDR_{RICH_ROWS}")


def test_an_apply_interrupted_by_ctrl_c_records_the_changes_it_made(
    quickstart: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while apply runs: the changes already made are in the audit log before the interrupt goes on up."""
    from syncd.run import Runner

    real_apply = Runner.apply

    def apply_then_interrupt(self, plan, sinks, progress=None, may_write=None):  # type: ignore[no-untyped-def]
        real_apply(self, plan, sinks, progress=progress, may_write=may_write)
        raise KeyboardInterrupt  # as if it came after every change was made and reported

    monkeypatch.setattr(Runner, "apply", apply_then_interrupt)
    assert main(["apply", "-c", str(quickstart), "--yes", "--state-dir", str(state_dir)]) == 130
    records = list(read_audit(state_dir / "audit.jsonl"))
    assert len(records) == 6 and {r["result"] for r in records} == {"applied"}
