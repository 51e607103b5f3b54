"""Every bad manifest gives exit 1 and one message naming file:line and the field, and writes nothing."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from syncd.cli import main

BAD = Path(__file__).parent / "manifests" / "bad"
CASES = sorted(BAD.glob("*.yaml"))
CASES = [c for c in CASES if c.name != "secrets.yaml"]


def _expectations(path: Path) -> tuple[str, str, int]:
    lines = path.read_text().splitlines()
    expect = lines[0].removeprefix("# expect: ")
    field = lines[1].removeprefix("# field:").strip()
    fixed = [int(text.removeprefix("# line: ")) for text in lines if text.startswith("# line: ")]
    line = fixed[0] if fixed else next(i for i, text in enumerate(lines, 1) if "# <-- error" in text)
    return expect, field, line


def test_there_are_at_least_25_bad_manifests() -> None:
    """The collection of bad manifests covers at least 25 distinct mistakes."""
    assert len(CASES) >= 25


# Phrases of pydantic's own messages, which say what a Python type is rather than what the manifest needs.
PYDANTIC_WORDING = ("Input should", "should have at least", "should match pattern", "Value error", "instance of")


@pytest.mark.parametrize("path", CASES, ids=[c.stem for c in CASES])
def test_validate_reports_one_located_error(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """validate exits 1 with exactly one error line naming file:line, the field and the mistake, in a plain
    sentence rather than pydantic's wording."""
    expect, field, line = _expectations(path)
    code = main(["validate", "-c", str(path)])
    captured = capsys.readouterr()
    errors = [x for x in captured.err.splitlines() if x.startswith("error: ")]
    assert code == 1
    assert len(errors) == 1, captured.err
    assert re.search(rf"{re.escape(str(path))}:{line}:\d+: ", errors[0]), errors[0]
    if field:
        assert f": {field}: " in errors[0], errors[0]
    assert expect in errors[0]
    for wording in PYDANTIC_WORDING:
        assert wording not in errors[0]
    assert captured.out == ""


@pytest.mark.parametrize("path", CASES, ids=[c.stem for c in CASES])
def test_apply_of_a_bad_manifest_writes_nothing(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], aws_env: dict[str, str], monkeypatch
) -> None:
    """apply --yes on a bad manifest exits 1 before touching any sink (and could reach no real cloud if it tried)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    shutil.copy(path, tmp_path / path.name)
    shutil.copy(BAD / "secrets.yaml", tmp_path / "secrets.yaml")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code = main(["apply", "--yes", "-c", str(tmp_path / path.name)])
    assert code == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert "error: " in capsys.readouterr().err


THREE_TYPOS = """\
version: 1
instance: test
defaults:
  prun: true
source: {type: file, path: secrets.yaml}
targets:
  env:
    type: dotenv
    pth: out/app.env
syncs:
  - name: db
    from: apps/db
    to:
      - {target: env, name: "{sync|uppr}"}
"""


def test_three_typos_in_different_passes_give_three_located_lines_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in the core schema, one in a connector's options and one in a name template are all reported by
    one validate, each with its own line."""
    manifest = tmp_path / "syncd.yaml"
    manifest.write_text(THREE_TYPOS)
    assert main(["validate", "-c", str(manifest)]) == 1
    errors = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error: ")]
    assert errors == [
        f"error: {manifest}:4:3: defaults.prun: unknown key 'prun'; did you mean 'prune'?",
        f"error: {manifest}:9:5: targets.env.pth: unknown key 'pth'; did you mean 'path'?",
        f"error: {manifest}:14:23: syncs[0].to[0].name: unknown filter 'uppr'; did you mean 'upper'?",
    ]


BAD_REFERENCES = """\
version: 1
instance: test
source: {type: file, path: "${env:SYNCD_TEST_UNSET_SOURCE}"}
targets:
  a: {type: dotenv, path: "${vault:x}"}
  b: {type: dotenv, path: "${env:SYNCD_TEST_UNSET_B}"}
  c: {type: dotenv, path: "${env:SYNCD_TEST_UNSET_C}/${env:}"}
syncs:
  - {name: db, from: apps/db, to: [{target: b}, {target: c}]}
"""


def test_every_bad_reference_is_reported_in_one_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """validate reports every malformed reference of every target; plan then reports every unset variable of the
    source and of all targets together, each at its own line."""
    manifest = tmp_path / "syncd.yaml"
    manifest.write_text(BAD_REFERENCES)
    assert main(["validate", "-c", str(manifest)]) == 1
    errors = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error: ")]
    assert [e.split(": ")[1:3] for e in errors] == [
        [f"{manifest}:5:21", "targets.a.path"],
        [f"{manifest}:7:21", "targets.c.path"],
    ]
    manifest.write_text(BAD_REFERENCES.replace('"${vault:x}"', "out/a.env").replace("/${env:}", ""))
    assert main(["plan", "-c", str(manifest)]) == 1
    errors = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error: ")]
    assert errors == [
        f"error: {manifest}:3:22: source.path: environment variable 'SYNCD_TEST_UNSET_SOURCE' is not set "
        "(referenced as ${env:SYNCD_TEST_UNSET_SOURCE})",
        f"error: {manifest}:6:21: targets.b.path: environment variable 'SYNCD_TEST_UNSET_B' is not set "
        "(referenced as ${env:SYNCD_TEST_UNSET_B})",
        f"error: {manifest}:7:21: targets.c.path: environment variable 'SYNCD_TEST_UNSET_C' is not set "
        "(referenced as ${env:SYNCD_TEST_UNSET_C})",
    ]


BROKEN_SYNC = """\
version: 1
instance: test
source: {type: file, path: secrets.yaml}
targets:
  env: {type: dotenv, path: out/app.env}
syncs:
  - {name: db, from: apps/db, to: [{target: env}]}
  - name: db
    from: apps/cache
    prune: maybe
    to: [{target: nev}]
  - name: db
    from: apps/x
    to: []
"""


def test_a_sync_with_a_schema_error_is_still_checked_for_its_name_and_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One validate reports a sync's schema errors together with its unknown target and its duplicate name, so
    no problem waits for a second run."""
    manifest = tmp_path / "syncd.yaml"
    manifest.write_text(BROKEN_SYNC)
    assert main(["validate", "-c", str(manifest)]) == 1
    errors = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error: ")]
    assert sorted(errors) == sorted(
        [
            f"error: {manifest}:10:5: syncs[1].prune: must be true or false",
            f"error: {manifest}:14:5: syncs[2].to: must list at least one destination",
            f"error: {manifest}:8:5: syncs[1].name: sync name 'db' is already used by syncs[0]",
            f"error: {manifest}:11:11: syncs[1].to[0].target: no target named 'nev'; did you mean 'env'? "
            "(targets: env)",
            f"error: {manifest}:12:5: syncs[2].name: sync name 'db' is already used by syncs[0]",
        ]
    )
