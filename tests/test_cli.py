"""The command line end to end on the quickstart: file source, dotenv sinks, no cloud account."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from syncd.cli import main

QUICKSTART = Path(__file__).parent.parent / "examples" / "quickstart"


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    """A private copy of the quickstart; returns its manifest."""
    shutil.copytree(QUICKSTART, tmp_path / "qs", ignore=shutil.ignore_patterns("out"))
    return tmp_path / "qs" / "syncd.yaml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_quickstart_plan_apply_converge(quickstart: Path, capsys) -> None:
    """plan shows creates and exits 2; apply --yes writes; the same plan then exits 0."""
    code, out, _ = run(capsys, "plan", "-c", str(quickstart), "--detailed-exitcode")
    assert code == 2
    assert "+ " in out and "6 to create, 0 to update, 0 to delete, 0 conflicts across 2 targets." in out
    code, out, err = run(capsys, "apply", "-c", str(quickstart), "--yes")
    assert code == 0, err
    assert "6 applied, 0 failed." in out
    api_env = quickstart.parent / "out" / "api.env"
    assert stat.S_IMODE(api_env.stat().st_mode) == 0o600
    assert "DB_USER='payments_app'" in api_env.read_text()
    code, out, _ = run(capsys, "plan", "-c", str(quickstart), "--detailed-exitcode")
    assert code == 0
    assert "No changes" in out


def test_plan_never_writes(quickstart: Path, capsys) -> None:
    """plan leaves the sinks' folder absent."""
    run(capsys, "plan", "-c", str(quickstart))
    assert not (quickstart.parent / "out").exists()


def test_apply_off_a_terminal_needs_yes(quickstart: Path, capsys, monkeypatch) -> None:
    """apply without --yes and without a terminal refuses, writing nothing."""
    with open(os.devnull) as devnull:
        monkeypatch.setattr(sys, "stdin", devnull)
        code, _, err = run(capsys, "apply", "-c", str(quickstart))
    assert code == 1
    assert "needs --yes" in err
    assert not (quickstart.parent / "out").exists()


def test_usage_errors_exit_1_not_2(quickstart: Path, capsys) -> None:
    """An unknown flag is one clear error with exit 1, so exit 2 always means drift."""
    code, _, err = run(capsys, "plan", "-c", str(quickstart), "--detailed-exitcod")
    assert code == 1
    assert err.startswith("error: ") and "--detailed-exitcod" in err


def test_json_format_is_versioned(quickstart: Path, capsys) -> None:
    """--format json prints the documented, versioned plan with counts and changes."""
    code, out, _ = run(capsys, "plan", "-c", str(quickstart), "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert data["format"] == "syncd.plan/v1"
    assert data["summary"]["create"] == 6
    assert {c["action"] for c in data["changes"]} == {"create"}
    assert set(data["changes"][0]) == {"target", "address", "action", "sync", "reasons", "difference", "actual_version"}


def test_markdown_format_is_ready_for_a_merge_request(quickstart: Path, capsys) -> None:
    """--format markdown prints a heading, the summary and a table of changes."""
    _, out, _ = run(capsys, "plan", "-c", str(quickstart), "--format", "markdown")
    assert out.startswith("### syncd plan")
    assert "| `+` | api-env | `DB_USER` |" in out


def test_saved_plan_applies_when_nothing_moved(quickstart: Path, capsys) -> None:
    """A plan saved with -o applies later without a prompt when the world is as it was."""
    saved = quickstart.parent / "plan.json"
    assert run(capsys, "plan", "-c", str(quickstart), "-o", str(saved))[0] == 0
    code, out, err = run(capsys, "apply", "-c", str(quickstart), str(saved))
    assert code == 0, err
    assert "6 applied" in out


def test_saved_plan_is_refused_when_the_source_moved(quickstart: Path, capsys) -> None:
    """Applying a saved plan after the source changed is refused as stale and writes nothing."""
    saved = quickstart.parent / "plan.json"
    run(capsys, "plan", "-c", str(quickstart), "-o", str(saved))
    secrets = quickstart.parent / "secrets.yaml"
    secrets.write_text(secrets.read_text().replace("payments_app", "payments_app2"))
    os.utime(secrets, ns=(secrets.stat().st_atime_ns, secrets.stat().st_mtime_ns + 10**9))
    code, _, err = run(capsys, "apply", "-c", str(quickstart), str(saved))
    assert code == 1
    assert "stale" in err and "apps/payments/db" in err
    assert not (quickstart.parent / "out").exists()


def test_saved_plan_is_refused_when_a_sink_moved(quickstart: Path, capsys) -> None:
    """Applying a saved plan after a sink changed is refused as stale."""
    run(capsys, "apply", "-c", str(quickstart), "--yes")
    saved = quickstart.parent / "plan.json"
    run(capsys, "plan", "-c", str(quickstart), "-o", str(saved))
    env = quickstart.parent / "out" / "api.env"
    env.write_text(env.read_text().replace("payments_app", "edited"))
    os.utime(env, ns=(env.stat().st_atime_ns, env.stat().st_mtime_ns + 10**9))
    code, _, err = run(capsys, "apply", "-c", str(quickstart), str(saved))
    assert code == 1 and "stale" in err


def test_saved_plan_file_holds_no_value(quickstart: Path, capsys) -> None:
    """The saved plan holds names and versions, never a value from the source."""
    saved = quickstart.parent / "plan.json"
    run(capsys, "plan", "-c", str(quickstart), "-o", str(saved))
    text = saved.read_text()
    assert "demo-only-not-a-real-password" not in text and "payments_app" not in text


def test_not_a_plan_file_is_rejected(quickstart: Path, capsys) -> None:
    """apply of a file that is not a syncd plan says so."""
    bogus = quickstart.parent / "bogus.json"
    bogus.write_text('{"hello": 1}')
    code, _, err = run(capsys, "apply", "-c", str(quickstart), str(bogus))
    assert code == 1 and "not a syncd plan" in err


def test_config_defaults_to_env_variable(quickstart: Path, capsys, monkeypatch) -> None:
    """Without -c, $SYNCD_CONFIG names the manifest."""
    monkeypatch.setenv("SYNCD_CONFIG", str(quickstart))
    code, out, _ = run(capsys, "validate")
    assert code == 0 and "valid (2 syncs, 2 targets)" in out


def test_missing_manifest_is_one_clear_error(tmp_path: Path, capsys, monkeypatch) -> None:
    """Without -c or $SYNCD_CONFIG, a missing ./syncd.yaml is named."""
    monkeypatch.delenv("SYNCD_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "validate")
    assert code == 1 and err == "error: manifest 'syncd.yaml' does not exist\n"


def test_unknown_target_filter_suggests(quickstart: Path, capsys) -> None:
    """--target naming no target is an error with a suggestion."""
    code, _, err = run(capsys, "plan", "-c", str(quickstart), "--target", "api-evn")
    assert code == 1 and "did you mean 'api-env'" in err


def test_target_filter_limits_apply(quickstart: Path, capsys) -> None:
    """apply --target writes only that target."""
    code, _, _ = run(capsys, "apply", "-c", str(quickstart), "--yes", "--target", "worker-env")
    assert code == 0
    assert (quickstart.parent / "out" / "worker.env").exists()
    assert not (quickstart.parent / "out" / "api.env").exists()


def test_failing_target_gives_exit_1_and_the_other_applies(quickstart: Path, capsys) -> None:
    """A target that cannot be written is reported; the other target is written; exit 1."""
    (quickstart.parent / "out" / "api.env").mkdir(parents=True)
    code, out, _ = run(capsys, "apply", "-c", str(quickstart), "--yes")
    assert code == 1
    assert "api-env" in out
    assert (quickstart.parent / "out" / "worker.env").exists()


def test_python_m_syncd_runs(tmp_path: Path) -> None:
    """`python -m syncd version` prints the version."""
    done = subprocess.run([sys.executable, "-m", "syncd", "version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.startswith("syncd ")


def add_unused_target(manifest: Path) -> None:
    """Give the manifest a target no sync writes to."""
    text = manifest.read_text()
    spare = "targets:\n  spare-env:\n    type: dotenv\n    path: out/spare.env\n"
    manifest.write_text(text.replace("targets:\n", spare, 1))


def test_saved_plan_of_a_manifest_with_an_unused_target_applies(quickstart: Path, capsys) -> None:
    """A target that receives no sync is part of the saved selection, so the saved plan is not refused as stale."""
    add_unused_target(quickstart)
    saved = quickstart.parent / "plan.json"
    assert run(capsys, "plan", "-c", str(quickstart), "-o", str(saved))[0] == 0
    code, out, err = run(capsys, "apply", "-c", str(quickstart), str(saved))
    assert code == 0, err
    assert "6 applied" in out


def test_saved_plan_with_filters_applies_with_the_same_filters(quickstart: Path, capsys) -> None:
    """A plan saved with --sync and --target is applied with exactly that selection."""
    add_unused_target(quickstart)
    saved = quickstart.parent / "plan.json"
    argv = ("plan", "-c", str(quickstart), "-o", str(saved), "--sync", "payments-db", "--target", "worker-env")
    assert run(capsys, *argv)[0] == 0
    code, out, err = run(capsys, "apply", "-c", str(quickstart), str(saved))
    assert code == 0, err
    assert "2 applied" in out
    assert not (quickstart.parent / "out" / "api.env").exists()


def test_saved_plan_prunes_orphans_as_planned(quickstart: Path, capsys) -> None:
    """An unfiltered saved plan that prunes an item no sync maps any more applies, pruning it."""
    assert run(capsys, "apply", "-c", str(quickstart), "--yes")[0] == 0
    text = quickstart.read_text()
    quickstart.write_text(text[: text.index("  - name: third-party")])
    saved = quickstart.parent / "plan.json"
    assert run(capsys, "plan", "-c", str(quickstart), "-o", str(saved))[0] == 0
    code, out, err = run(capsys, "apply", "-c", str(quickstart), str(saved))
    assert code == 0, err
    assert "0 failed" in out and "third-party" not in (quickstart.parent / "out" / "api.env").read_text()


def test_saved_plan_applies_without_c_from_the_manifest_it_names(quickstart: Path, capsys, monkeypatch) -> None:
    """`apply FILE` without -c loads the manifest path saved in the plan, relative to the current directory."""
    monkeypatch.delenv("SYNCD_CONFIG", raising=False)
    monkeypatch.chdir(quickstart.parent.parent)
    relative = Path(quickstart.parent.name) / quickstart.name
    saved = quickstart.parent / "plan.json"
    assert run(capsys, "plan", "-c", str(relative), "-o", str(saved))[0] == 0
    assert json.loads(saved.read_text())["manifest"]["path"] == str(relative)
    code, out, err = run(capsys, "apply", str(saved))
    assert code == 0, err
    assert "6 applied" in out


def test_saved_plan_without_recorded_filters_still_applies(quickstart: Path, capsys) -> None:
    """A plan saved before `selection.filter` existed gets its filters back from its lists of syncs and targets."""
    add_unused_target(quickstart)
    saved = quickstart.parent / "plan.json"
    assert run(capsys, "plan", "-c", str(quickstart), "-o", str(saved))[0] == 0
    data = json.loads(saved.read_text())
    del data["selection"]["filter"]
    saved.write_text(json.dumps(data))
    code, out, err = run(capsys, "apply", "-c", str(quickstart), str(saved))
    assert code == 0, err
    assert "6 applied" in out


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_a_key_name_that_is_not_text_keeps_the_output_valid_utf8(tmp_path: Path, capsys, fmt: str) -> None:
    """A source key named with a lone surrogate is held as a problem, and every report that names it stays valid
    UTF-8: the name is printed as a backslash escape, not as a byte no reader can decode."""
    (tmp_path / "secrets.json").write_text('{"apps": {"db": {"USER": "u1", "K\\udc80": "v1"}}}')
    (tmp_path / "syncd.yaml").write_text(
        "version: 1\ninstance: t\nsource: {type: file, path: secrets.json}\n"
        "targets:\n  env: {type: dotenv, path: out/app.env}\n"
        "syncs:\n  - {name: db, from: apps/db, to: [{target: env}]}\n"
    )
    assert main(["plan", "-c", str(tmp_path / "syncd.yaml"), "--format", fmt]) == 1
    captured = capsys.readouterr()
    captured.out.encode("utf-8")
    assert "\\udc80" in captured.out


def test_saved_plan_whose_manifest_is_not_here_says_so(quickstart: Path, capsys, monkeypatch, tmp_path) -> None:
    """`apply FILE` without -c, run from another folder than the plan's: the error names the plan, the manifest path
    it holds and the way out (-c), and nothing is applied."""
    monkeypatch.delenv("SYNCD_CONFIG", raising=False)
    monkeypatch.chdir(quickstart.parent.parent)
    relative = Path(quickstart.parent.name) / quickstart.name
    saved = quickstart.parent / "plan.json"
    assert run(capsys, "plan", "-c", str(relative), "-o", str(saved))[0] == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, _, err = run(capsys, "apply", str(saved))
    assert code == 1
    assert f"the saved plan {str(saved)!r} was made from manifest {str(relative)!r}" in err and "-c" in err
    assert not list((quickstart.parent / "out").glob("*.env"))
