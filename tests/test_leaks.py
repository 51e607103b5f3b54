"""No planted value ever shows up outside the sinks: not in stdout, stderr, logs, reports, saved plans,
error messages, or any other file the runs write. Every command, every format, debug logging, and
failing paths are exercised."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from syncd.cli import main

PLANTED = {
    "password": "PLANTED-pw-7f3a9c",
    "token": "PLANTED-tok-e21b44",
    "multiline": "PLANTED-ml-line-one\nPLANTED-ml-line-two",
    "quoted": "PLANTED-q'\"$HOME#x",
}
MARKERS = ["PLANTED-pw-7f3a9c", "PLANTED-tok-e21b44", "PLANTED-ml-line-one", "PLANTED-ml-line-two", "PLANTED-q"]

MANIFEST = """
version: 1
instance: leak-test
defaults: {prune: true}
source: {type: file, path: secrets.yaml}
targets:
  env: {type: dotenv, path: out/app.env}
  broken: {type: dotenv, path: out/broken.env}
syncs:
  - name: app
    from: apps/app
    to:
      - {target: env, name: "APP_{key|env}"}
      - {target: broken, name: "APP_{key|env}"}
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    secrets = {"apps": {"app": PLANTED}}
    (tmp_path / "secrets.yaml").write_text(json.dumps(secrets))  # JSON is YAML
    (tmp_path / "syncd.yaml").write_text(textwrap.dedent(MANIFEST))
    (tmp_path / "out").mkdir()
    # The broken target's file is a folder: every write to it fails.
    (tmp_path / "out" / "broken.env").mkdir()
    return tmp_path


def _scan(text: str, where: str) -> None:
    for marker in MARKERS:
        assert marker not in text, f"planted value {marker!r} leaked into {where}"


def test_no_value_leaks_through_any_command(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """validate, plan in every format, saved plans, apply with debug JSON logs, a failing target, a stale
    plan and a corrupt sink file all keep every planted value out of everything but the sink."""
    manifest = str(workdir / "syncd.yaml")
    saved = str(workdir / "plan.json")
    runs = [
        ["validate", "-c", manifest],
        ["plan", "-c", manifest, "--log-level", "debug"],
        ["plan", "-c", manifest, "--format", "json", "--log-level", "debug", "--log-format", "json"],
        ["plan", "-c", manifest, "--format", "markdown"],
        ["plan", "-c", manifest, "-o", saved, "--detailed-exitcode"],
        ["apply", "-c", manifest, saved, "--log-level", "debug", "--log-format", "json"],
        ["apply", "-c", manifest, "--yes", "--format", "json", "--log-level", "debug"],
        ["plan", "-c", manifest, "-o", saved],
    ]
    outputs = []
    for argv in runs:
        code = main(argv)
        captured = capsys.readouterr()
        outputs.append((argv, code, captured.out, captured.err))
    # The broken target fails every apply: the failing path was exercised and reported.
    assert outputs[5][1] == 1 and "broken" in outputs[5][2]
    # Now make the saved plan stale by changing a value, and corrupt the good sink's file.
    secrets = workdir / "secrets.yaml"
    secrets.write_text(secrets.read_text().replace("PLANTED-tok-e21b44", "PLANTED-tok-e21b44-v2"))
    env_file = workdir / "out" / "app.env"
    env_file.write_text(env_file.read_text() + "this line is not dotenv PLANTED-pw-7f3a9c\n")
    for argv in (["apply", "-c", manifest, saved], ["plan", "-c", manifest, "--log-level", "debug"]):
        code = main(argv)
        captured = capsys.readouterr()
        outputs.append((argv, code, captured.out, captured.err))
    assert outputs[-2][1] == 1 and "stale" in outputs[-2][3]
    assert outputs[-1][1] == 1 and "app.env" in outputs[-1][2]

    for argv, _, out, err in outputs:
        _scan(out, f"stdout of {argv}")
        _scan(err, f"stderr of {argv}")
    sink_files = {env_file}
    source_files = {secrets}
    for path in workdir.rglob("*"):
        if path.is_file() and path not in sink_files | source_files:
            _scan(path.read_text(errors="replace"), str(path))
    # The sink did get the values: the scan above would have found them had they been printed.
    assert "PLANTED-pw-7f3a9c" in env_file.read_text()


def test_values_in_a_bad_manifest_are_not_echoed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A manifest error names the field, never the value that was wrong."""
    (tmp_path / "syncd.yaml").write_text(
        textwrap.dedent(
            """
            version: 1
            instance: leak-test
            source: {type: file, path: s.yaml, format: PLANTED-fmt-99xq}
            targets: {env: {type: dotenv, path: out.env, mode: PLANTED-mode-77}}
            syncs: [{name: a, from: b, to: [{target: env, description: PLANTED-desc-51}]}]
            """
        )
    )
    assert main(["validate", "-c", str(tmp_path / "syncd.yaml")]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("error: ") == 3
    for marker in ("PLANTED-fmt-99xq", "PLANTED-mode-77", "PLANTED-desc-51"):
        assert marker not in captured.err + captured.out


def test_values_in_a_broken_source_file_are_not_echoed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A source file that does not parse is reported by file and line, without its content."""
    shutil.copy(Path(__file__).parent.parent / "examples" / "quickstart" / "syncd.yaml", tmp_path / "syncd.yaml")
    (tmp_path / "secrets.yaml").write_text("apps:\n  payments:\n    db: {password: PLANTED-yaml-31 : : [\n")
    assert main(["plan", "-c", str(tmp_path / "syncd.yaml"), "--log-level", "debug"]) == 1
    captured = capsys.readouterr()
    assert "secrets.yaml" in captured.out
    assert "PLANTED-yaml-31" not in captured.out + captured.err
