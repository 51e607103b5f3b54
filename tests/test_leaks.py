"""No planted value ever shows up outside the sinks: not in stdout, stderr, logs, reports, saved plans,
error messages, or any other file the runs write. Every command, every format, debug logging, and
failing paths are exercised.

Every leak check runs with the redactor off, so it proves that values stay out of output, not that the
redactor hides them. The redactor, the second line of defence, has tests of its own at the end: it hides
a value printed by mistake and never changes the structure of JSON or the meaning of words.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import textwrap
from pathlib import Path

import pytest

from syncd.cli import main
from syncd.secret import REDACTED, REDACTOR
from tests.leakscan import assert_no_leaks, no_redactor, redactor_off  # noqa: F401 (no_redactor: a fixture)

PLANTED = {
    "password": "PLANTED-pw-7f3a9c",
    "token": "PLANTED-tok-e21b44",
    "multiline": "PLANTED-ml-line-one\nPLANTED-ml-line-two",
    "quoted": "PLANTED-q'\"$HOME#x",
}
PLANTED_TOO = {"rotated token": "PLANTED-tok-e21b44-v2"}

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


@pytest.mark.usefixtures("no_redactor")
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

    texts = {
        f"{stream} of {argv}": text
        for argv, _, out, err in outputs
        for stream, text in (("stdout", out), ("stderr", err))
    }
    assert_no_leaks({**PLANTED, **PLANTED_TOO}, texts, paths=[workdir], skip=[env_file, secrets])
    # The sink did get the values: the scan above would have found them had they been printed.
    assert "PLANTED-pw-7f3a9c" in env_file.read_text()


@pytest.mark.usefixtures("no_redactor")
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


@pytest.mark.usefixtures("no_redactor")
def test_values_in_a_broken_source_file_are_not_echoed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A source file that does not parse is reported by file and line, without its content."""
    shutil.copy(Path(__file__).parent.parent / "examples" / "quickstart" / "syncd.yaml", tmp_path / "syncd.yaml")
    (tmp_path / "secrets.yaml").write_text("apps:\n  payments:\n    db: {password: PLANTED-yaml-31 : : [\n")
    assert main(["plan", "-c", str(tmp_path / "syncd.yaml"), "--log-level", "debug"]) == 1
    captured = capsys.readouterr()
    assert "secrets.yaml" in captured.out
    assert "PLANTED-yaml-31" not in captured.out + captured.err


# The redactor: the second line of defence hides a value printed by mistake, and changes nothing else.


def _plan_with_a_value_in_it(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """Every plan the CLI makes carries `value` in a reason and in a problem, as a bug would put it there."""
    import syncd.run
    from syncd.model import Problem

    real = syncd.run.make_plan

    def leaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        plan = real(*args, **kwargs)
        first = dataclasses.replace(plan.changes[0], reasons=(f"changed to {value}",))
        problem = Problem(f"odd answer {value}", target=first.target, address=first.address)
        return dataclasses.replace(plan, changes=(first, *plan.changes[1:]), problems=(*plan.problems, problem))

    monkeypatch.setattr(syncd.run, "make_plan", leaky)


def test_the_redactor_hides_a_value_printed_by_mistake_and_keeps_json_whole(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value that a bug put into a reason and a problem is replaced in the table, the Markdown, the JSON plan
    and the JSON log events; the JSON documents still parse and keep their shape."""
    _plan_with_a_value_in_it(monkeypatch, PLANTED["password"])
    manifest = str(workdir / "syncd.yaml")
    outputs = {}
    for fmt in ("table", "markdown", "json"):
        assert main(["plan", "-c", manifest, "--format", fmt, "--log-format", "json"]) == 1
        outputs[fmt] = capsys.readouterr()
    assert_no_leaks(PLANTED, {f: c.out + c.err for f, c in outputs.items()})
    assert f"changed to {REDACTED}" in outputs["table"].out
    document = json.loads(outputs["json"].out)
    assert document["changes"][0]["reasons"] == [f"changed to {REDACTED}"]
    assert document["problems"][-1]["message"] == f"odd answer {REDACTED}"
    events = [json.loads(line) for line in outputs["json"].err.splitlines()]
    assert [e["message"] for e in events if e["event"] == "problem"][-1] == f"odd answer {REDACTED}"


def test_the_leak_check_sees_what_the_redactor_would_hide(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the redactor off, a value printed by mistake is found: the leak checks above can fail."""
    _plan_with_a_value_in_it(monkeypatch, PLANTED["token"])
    with redactor_off():
        main(["plan", "-c", str(workdir / "syncd.yaml")])
    out = capsys.readouterr().out
    assert f"changed to {PLANTED['token']}" in out


def _world(tmp_path: Path, secrets: dict, manifest: str) -> str:
    (tmp_path / "secrets.yaml").write_text(json.dumps(secrets))
    (tmp_path / "syncd.yaml").write_text(textwrap.dedent(manifest))
    return str(tmp_path / "syncd.yaml")


WORDS = """
version: 1
instance: words
source: {type: file, path: secrets.yaml}
targets:
  env: {type: dotenv, path: out/app.env}
syncs:
  - name: db-admin
    from: apps/db
    to: [{target: env, name: "DB_{key|env}"}]
  - name: db-admin-7f3a
    from: apps/db2
    to: [{target: env, name: "DB2_{key|env}"}]
"""


def _words(tmp_path: Path, values: dict[str, str]) -> str:
    """Four items to create: keys a, b, c of sync db-admin and key d of sync db-admin-7f3a."""
    secrets = {"apps": {"db": {"a": "x1-v9q2", "b": "x2-v9q2", "c": "x3-v9q2", **values}, "db2": {"d": "x4-v9q2"}}}
    if "d" in values:
        secrets["apps"]["db2"]["d"] = values.pop("d")
        secrets["apps"]["db"].pop("d")
    return _world(tmp_path, secrets, WORDS)


def test_a_value_null_keeps_the_json_plan_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A value `null` does not touch the JSON literal null: the printed plan parses and says what the saved one
    says."""
    manifest = _words(tmp_path, {"a": "null"})
    saved = tmp_path / "plan.json"
    assert main(["plan", "-c", manifest, "--format", "json", "-o", str(saved)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [c["actual_version"] for c in printed["changes"]] == [None] * 4
    assert printed == json.loads(saved.read_text())


def test_a_value_create_keeps_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A value `create` leaves `4 to create` in the table and the Markdown."""
    manifest = _words(tmp_path, {"b": "create"})
    assert main(["plan", "-c", manifest]) == 0
    assert "Plan: 4 to create, 0 to update" in capsys.readouterr().out
    assert main(["plan", "-c", manifest, "--format", "markdown"]) == 0
    assert "**4 to create, 0 to update" in capsys.readouterr().out


def test_a_value_inside_a_sync_name_keeps_the_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Values `admin` and `admin-7f3a` leave the sync names `db-admin` and `db-admin-7f3a` whole: stdout says
    what the saved plan says."""
    manifest = _words(tmp_path, {"c": "admin", "d": "admin-7f3a"})
    saved = tmp_path / "plan.json"
    assert main(["plan", "-c", manifest, "-o", str(saved)]) == 0
    table = capsys.readouterr().out
    assert "DB_C   db-admin       new" in table and "DB2_D  db-admin-7f3a  new" in table
    assert REDACTED not in table
    assert {c["sync"] for c in json.loads(saved.read_text())["changes"]} == {"db-admin", "db-admin-7f3a"}
    assert main(["plan", "-c", manifest, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["changes"] == json.loads(saved.read_text())["changes"]
    assert main(["plan", "-c", manifest, "--format", "markdown"]) == 0
    assert "| db-admin |" in (markdown := capsys.readouterr().out) and "| db-admin-7f3a |" in markdown


def test_a_phrase_of_syncds_own_words_keeps_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Values `to create` and `0 to update` are made of words and numbers only: the summary stays as it is."""
    manifest = _words(tmp_path, {"b": "to create", "c": "0 to update"})
    assert main(["plan", "-c", manifest]) == 0
    assert "Plan: 4 to create, 0 to update, 0 to delete" in capsys.readouterr().out
    assert main(["plan", "-c", manifest, "--format", "markdown"]) == 0
    assert "**4 to create, 0 to update, 0 to delete" in capsys.readouterr().out


def test_a_value_equal_to_a_target_or_sync_name_keeps_the_saved_plan_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value equal to a target name or a sync name leaves the saved plan naming both, so it applies; hiding them
    would tell the reader the value and make every saved plan stale."""
    manifest = _words(tmp_path, {"b": "db-admin-7f3a"})
    text = Path(manifest).read_text().replace("env:", "app-env-prod:").replace("target: env", "target: app-env-prod")
    Path(manifest).write_text(text)
    secrets = json.loads((tmp_path / "secrets.yaml").read_text())
    secrets["apps"]["db"]["c"] = "app-env-prod"
    (tmp_path / "secrets.yaml").write_text(json.dumps(secrets))
    saved = tmp_path / "plan.json"
    assert main(["plan", "-c", manifest, "-o", str(saved)]) == 0
    capsys.readouterr()
    assert REDACTED not in saved.read_text()
    assert main(["apply", str(saved)]) == 0, capsys.readouterr().err
    assert "Apply: 4 applied, 0 failed." in capsys.readouterr().out


def test_a_value_equal_to_a_configured_path_keeps_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value equal to a target's path (configuration, not a secret) leaves that path in the problem that names
    it."""
    manifest = _words(tmp_path, {"b": str(tmp_path / "out" / "app.env")})
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "app.env").write_text("this is not dotenv\n")
    assert main(["plan", "-c", manifest]) == 1
    printed = capsys.readouterr().out
    assert f"{tmp_path / 'out' / 'app.env'}:1" in printed and REDACTED not in printed


AWS_REGION_FROM_ENV = """
version: 1
instance: prod
source: {type: file, path: secrets.yaml}
targets:
  aws:
    type: aws-secrets-manager
    region: ${env:SYNCD_TEST_REGION}
    role_arn: ${env:SYNCD_TEST_ROLE}
syncs:
  - {name: db, from: apps/db, to: [{target: aws, name: prod/db}]}
"""


def test_a_region_from_the_environment_is_printed_in_the_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A region and a role ARN are configuration, not secrets: iam-policy prints the real ARNs."""
    manifest = _world(tmp_path, {"apps": {"db": {"k": "v"}}}, AWS_REGION_FROM_ENV)
    env = {"SYNCD_TEST_REGION": "eu-west-1", "SYNCD_TEST_ROLE": "arn:aws:iam::222222222222:role/syncd"}
    assert main(["iam-policy", "-c", manifest], env=env) == 0
    text = capsys.readouterr().out
    assert "arn:aws:secretsmanager:eu-west-1:222222222222:secret:prod/db-??????" in text
    assert REDACTED not in text
    assert REDACTOR.redact("in eu-west-1 now") == "in eu-west-1 now"
