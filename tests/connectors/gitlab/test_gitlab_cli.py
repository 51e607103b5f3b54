"""`gitlab` end to end through the command line: a file source copied to a project and a group of the fake GitLab
server in one manifest: plan, apply, convergence, a value that cannot be masked, `syncd policy`, and no leaks."""

from __future__ import annotations

import functools
import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.gitlab import marker, spec
from connectors.local import file_spec
from syncd import apply, engine
from syncd import run as run_service
from syncd.cli import main
from syncd.model import Ownership
from syncd.registry import Registry
from tests.conftest import FAST_RETRY
from tests.connectors.gitlab.gitlab_support import GROUP, PROJECT, stored, writes
from tests.fakes.gitlab import ADMIN_TOKEN, GitLabFake
from tests.leakscan import assert_no_leaks, redactor_off

PLANTED = {
    "db_password": "PLANTED-db-pw-5a1c9e",
    "db_user": "PLANTED-db-user-77b0",
    "api_token": "PLANTED-api-tok-0d4e2f",
    # A space and a newline: GitLab cannot mask it.
    "unmaskable": "PLANTED unmaskable 9f1b\nsecond line",
}
MANIFEST = """
version: 1
instance: gl-e2e
defaults: {prune: true, on_conflict: fail}
source: {type: file, path: secrets.yaml}
targets:
  gitlab:
    type: gitlab
    url: URL
    token: ${env:GITLAB_TOKEN}
syncs:
  - name: app-db
    from: apps/db
    keys: {password: DB_PASSWORD, user: DB_USER}
    to:
      - {target: gitlab, project: platform/app, environment_scope: production, description: App database}
      - {target: gitlab, project: platform/app, environment_scope: staging, protected: true}
  - name: shared
    from: apps/shared
    to:
      - {target: gitlab, group: platform, name: "SHARED_{key|upper}"}
"""

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_service, "make_plan", functools.partial(engine.make_plan, retry=FAST_RETRY))
    monkeypatch.setattr(run_service, "apply_plan", functools.partial(apply.apply_plan, retry=FAST_RETRY))


@pytest.fixture
def config(gitlab_fake: GitLabFake, tmp_path: Path) -> Path:
    """The manifest and its source file: two db keys to a project in two scopes, two shared keys to a group."""
    secrets = {
        "apps": {
            "db": {"password": PLANTED["db_password"], "user": PLANTED["db_user"]},
            "shared": {"api_token": PLANTED["api_token"], "unmaskable": PLANTED["unmaskable"]},
        }
    }
    (tmp_path / "secrets.yaml").write_text(json.dumps(secrets))
    path = tmp_path / "syncd.yaml"
    path.write_text(textwrap.dedent(MANIFEST).replace("URL", gitlab_fake.url))
    return path


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Runs the CLI (redactor off) with the file source and the gitlab sink; returns the code, stdout and stderr."""

    def invoke(*argv: str, token: str = ADMIN_TOKEN) -> tuple[int, str, str]:
        with redactor_off():
            code = main(list(argv), registry=Registry({"file": file_spec, "gitlab": spec}), env={"GITLAB_TOKEN": token})
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def test_a_project_and_a_group_in_one_manifest_converge(run: Run, config: Path, gitlab_fake: GitLabFake) -> None:
    """The first plan creates the project's variables in two scopes and the group's maskable one; apply writes
    them; the next plan finds nothing to do and apply writes nothing."""
    code, out, err = run("plan", "-c", str(config))
    assert code == 1, out + err  # the unmaskable value's problem; the rest is planned
    assert "5 to create" in out, out
    code, out, err = run("apply", "-c", str(config), "--yes")
    assert code == 1, out + err  # the unmaskable value's problem
    production = stored(gitlab_fake, "DB_PASSWORD", scope="production")
    assert production["value"] == PLANTED["db_password"]
    assert production["description"] == "App database [syncd instance=gl-e2e sync=app-db]"
    assert stored(gitlab_fake, "DB_USER", scope="staging")["protected"] is True
    shared = stored(gitlab_fake, "SHARED_API_TOKEN", kind="group", path=GROUP)
    assert (shared["value"], shared["masked"]) == (PLANTED["api_token"], True)
    assert marker.parse(shared["description"]) == (None, Ownership("gl-e2e", "shared"))
    before = len(writes(gitlab_fake))
    code, out, err = run("plan", "-c", str(config), "--detailed-exitcode")
    assert "0 to create, 0 to update, 0 to delete" in out, out
    run("apply", "-c", str(config), "--yes")
    assert len(writes(gitlab_fake)) == before


def test_an_unmaskable_value_is_reported_by_key_while_the_rest_applies(
    run: Run, config: Path, gitlab_fake: GitLabFake, tmp_path: Path
) -> None:
    """A value GitLab cannot mask is a problem naming its key and the rule, never sent to GitLab, while every other
    variable is written; no planted value shows in any output or file, with the redactor off."""
    outputs = {}
    for command in ("plan", "apply"):
        code, out, err = run(command, "-c", str(config), *(["--yes"] if command == "apply" else []))
        outputs[f"{command} stdout"], outputs[f"{command} stderr"] = out, err
        assert code == 1, out + err
        assert "SHARED_UNMASKABLE" in out + err
        assert "cannot be masked" in out + err
    sent = [r for r in gitlab_fake.requests if "UNMASKABLE" in r.path or r.query.get("key") == "SHARED_UNMASKABLE"]
    assert sent == []
    assert "SHARED_UNMASKABLE" not in {v["key"] for v in gitlab_fake.variables("group", GROUP)}
    assert {v["key"] for v in gitlab_fake.variables("project", PROJECT)} == {"DB_PASSWORD", "DB_USER"}
    assert_no_leaks(PLANTED, texts=outputs, paths=[tmp_path], skip=[tmp_path / "secrets.yaml"])


def test_the_policy_names_the_token_scope_and_each_role(run: Run, config: Path) -> None:
    """`syncd policy --target gitlab` prints the `api` scope, Maintainer on the project and Owner on the group,
    with no call and no token."""
    code, out, err = run("policy", "-c", str(config), "--target", "gitlab", token="glpat-PLANTED-token-3e3e")
    assert code == 0, err
    assert "`api`" in out
    assert f"project {PROJECT}: Maintainer" in out.splitlines()
    assert f"group {GROUP}: Owner" in out.splitlines()
    assert "PLANTED" not in out + err


def test_a_refused_token_fails_the_plan_with_one_clear_line(run: Run, config: Path) -> None:
    """A token GitLab refuses fails the plan with a message saying so, and the token appears nowhere."""
    code, out, err = run("plan", "-c", str(config), token="glpat-PLANTED-bad-token-4f4f")
    assert code != 0
    assert "refused the token (HTTP 401)" in out + err
    assert "PLANTED" not in out + err


def test_two_targets_on_one_gitlab_instance_are_refused_before_any_call(
    run: Run, config: Path, gitlab_fake: GitLabFake
) -> None:
    """A second target on the same GitLab instance (another spelling of its loopback URL) is refused as
    overlapping before any request: the two could take over and prune each other's variables."""
    text = config.read_text()
    second = f"""  gitlab-too:
    type: gitlab
    url: {gitlab_fake.url.replace("127.0.0.1", "localhost")}/
    token: ${{env:GITLAB_TOKEN}}
syncs:"""
    config.write_text(text.replace("syncs:", second, 1))
    code, out, err = run("plan", "-c", str(config))
    assert code != 0
    assert "targets 'gitlab'" in out + err and "'gitlab-too'" in out + err
    assert "write to the same place" in out + err
    assert gitlab_fake.requests == []


def test_an_environment_scope_with_outer_spaces_is_a_manifest_error_before_any_call(
    run: Run, config: Path, gitlab_fake: GitLabFake
) -> None:
    """`environment_scope: " staging"` fails the manifest with one message naming the field; nothing is called."""
    config.write_text(config.read_text().replace("environment_scope: staging", 'environment_scope: " staging"'))
    code, out, err = run("plan", "-c", str(config))
    assert code != 0
    assert "environment_scope ' staging' starts or ends with whitespace" in out + err
    assert gitlab_fake.requests == []


def test_the_rules_are_checked_before_any_call(run: Run, config: Path, gitlab_fake: GitLabFake) -> None:
    """A key GitLab would refuse and a value it cannot mask are problems found before any call: a plan only lists,
    and apply sends nothing for either key."""
    secrets = json.loads((config.parent / "secrets.yaml").read_text())
    secrets["apps"]["shared"]["bad-key"] = PLANTED["api_token"] + "-2"
    (config.parent / "secrets.yaml").write_text(json.dumps(secrets))
    code, out, _ = run("plan", "-c", str(config))
    assert code == 1
    assert "The variable key 'SHARED_BAD-KEY' (group platform) must be" in out
    assert "SHARED_UNMASKABLE" in out
    assert {r.method for r in gitlab_fake.requests} == {"GET"}
    run("apply", "-c", str(config), "--yes")
    named = [r for r in gitlab_fake.requests if "BAD" in r.path or "UNMASKABLE" in r.path]
    assert named == []
    assert sorted(v["key"] for v in gitlab_fake.variables("group", GROUP)) == ["SHARED_API_TOKEN"]


HIDDEN_MANIFEST = """
version: 1
instance: gl-e2e
source: {type: file, path: secrets.yaml}
targets:
  gitlab: {type: gitlab, url: URL, token: "${env:GITLAB_TOKEN}"}
syncs:
  - name: deploy
    from: apps/deploy
    to: [{target: gitlab, project: platform/app, masked_and_hidden: true}]
"""


def test_a_new_value_in_the_source_reaches_a_hidden_variable(run: Run, tmp_path: Path, gitlab_fake: GitLabFake) -> None:
    """Through the command line: a hidden variable is written once, an unchanged source writes nothing more, and
    a new value in the source file is planned and written, though GitLab never shows the hidden value."""
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(json.dumps({"apps": {"deploy": {"DEPLOY_KEY": "deploy-key-0001"}}}))
    config = tmp_path / "syncd.yaml"
    config.write_text(textwrap.dedent(HIDDEN_MANIFEST).replace("URL", gitlab_fake.url))
    assert run("apply", "-c", str(config), "--yes")[0] == 0
    assert stored(gitlab_fake, "DEPLOY_KEY")["hidden"] is True
    code, out, _ = run("plan", "-c", str(config), "--detailed-exitcode")
    assert code == 0, out
    secrets.write_text(json.dumps({"apps": {"deploy": {"DEPLOY_KEY": "deploy-key-0002-rotated"}}}))
    code, out, _ = run("plan", "-c", str(config), "--detailed-exitcode")
    assert code == 2, out
    assert "0 to create, 1 to update" in out
    before = len(writes(gitlab_fake))
    assert run("apply", "-c", str(config), "--yes")[0] == 0
    assert stored(gitlab_fake, "DEPLOY_KEY")["value"] == "deploy-key-0002-rotated"
    assert len(writes(gitlab_fake)) == before + 1
    code, out, _ = run("plan", "-c", str(config), "--detailed-exitcode")
    assert code == 0, out
