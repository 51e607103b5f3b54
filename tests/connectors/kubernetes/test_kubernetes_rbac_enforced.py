"""`syncd policy --target NAME` for a `kubernetes` target prints enough, and nothing more than needed.

The proof runs on the fake API server with RBAC enforced from exactly the printed YAML (fed to `load_rbac` as
`kubectl apply -f -` would take it), syncd reaching the cluster with the token of the bound subject (the default
ServiceAccount syncd/syncd): plan, apply, an update, a recreate, a prune and a clean plan all succeed. Then, for
each namespace and each verb its Role grants, the same run against a Role without that verb fails at some step
with the 403 message naming that verb and namespace: every verb granted is used.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors import kubernetes, local
from syncd import apply, engine
from syncd import run as run_service
from syncd.cli import main
from syncd.registry import Registry
from tests.conftest import FAST_RETRY
from tests.fakes.kubernetes import KubeFake, kubeconfig_for

Run = Callable[..., tuple[int, str]]
TOKEN = "syncd-service-account-token"
SERVICE_ACCOUNT = "system:serviceaccount:syncd:syncd"
VERBS = ("create", "delete", "get", "list", "patch")

# team-a: literal names only (the Role names them for get/patch/delete); db is immutable, so a new value recreates
# it (a delete, then a create). team-b: a folder's secrets under a name pattern (the Role cannot name them).
SYNCS = """
- name: db
  from: apps/db
  to: [{target: eu, namespace: team-a, name: db, immutable: true, recreate: true}]
- name: api
  from: apps/api
  to: [{target: eu, namespace: team-a, name: api}]
- name: shared
  from: apps/shared/
  to: [{target: eu, namespace: team-b, name: "shared-{relpath}"}]
"""


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_service, "make_plan", functools.partial(engine.make_plan, retry=FAST_RETRY))
    monkeypatch.setattr(run_service, "apply_plan", functools.partial(apply.apply_plan, retry=FAST_RETRY))


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """`main` with a registry holding kubernetes and file; returns (exit code, everything printed)."""

    def run_main(*argv: str) -> tuple[int, str]:
        code = main(list(argv), registry=Registry({"kubernetes": kubernetes.spec, "file": local.file_spec}), env={})
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run_main


def write_source(folder: Path, version: int) -> None:
    """The source's secrets: version 2 changes db, api and stripe, and drops github."""
    shared = {"stripe": {"token": f"stripe-{version}"}}
    if version == 1:
        shared["github"] = {"token": "github-1"}
    secrets = {"apps": {"db": {"password": f"db-{version}"}, "api": {"key": f"api-{version}"}, "shared": shared}}
    (folder / "secrets.yaml").write_text(yaml.safe_dump(secrets))


def setup(fake: KubeFake, folder: Path) -> str:
    """A manifest whose target `eu` reaches `fake` with the service account's token, and version 1 of the source."""
    fake.add_user(TOKEN, SERVICE_ACCOUNT)
    kubeconfig_for(fake, TOKEN, folder / "eu.yaml")
    write_source(folder, 1)
    manifest = folder / "syncd.yaml"
    manifest.write_text(
        "version: 1\ninstance: rbac-proof\ndefaults: {prune: true}\nsource: {type: file, path: secrets.yaml}\n"
        "targets:\n  eu: {type: kubernetes, kubeconfig: eu.yaml, context: fake}\n"
        "syncs:\n" + textwrap.indent(textwrap.dedent(SYNCS), "  ")
    )
    return str(manifest)


def printed_policy(run: Run, manifest: str) -> str:
    code, out = run("policy", "-c", manifest, "--target", "eu")
    assert code == 0, out
    return out


def scenario(run: Run, manifest: str, folder: Path) -> tuple[bool, str]:
    """plan, apply, then a second version of the source applied (update, recreate, prune), then a clean plan; stops
    at the first step that fails. Returns whether every step succeeded, and what was printed."""
    printed = []
    steps: list[tuple[tuple[str, ...], int, Callable[[], None] | None]] = [
        (("plan", "-c", manifest, "--detailed-exitcode"), 2, None),
        (("apply", "-c", manifest, "--yes"), 0, lambda: write_source(folder, 2)),
        (("apply", "-c", manifest, "--yes"), 0, None),
        (("plan", "-c", manifest, "--detailed-exitcode"), 0, None),
    ]
    for argv, expected, then in steps:
        code, out = run(*argv)
        printed.append(out)
        if code != expected:
            return False, "\n".join(printed)
        if then:
            then()
    return True, "\n".join(printed)


def without(policy: str, namespace: str, verb: str) -> str:
    """The printed documents with `verb` taken out of the Role of `namespace` (a rule left with no verb goes)."""
    documents: list[dict[str, Any]] = [d for d in yaml.safe_load_all(policy) if d]
    for document in documents:
        if document["kind"] == "Role" and document["metadata"]["namespace"] == namespace:
            for rule in document["rules"]:
                rule["verbs"] = [v for v in rule["verbs"] if v != verb]
            document["rules"] = [rule for rule in document["rules"] if rule["verbs"]]
    return yaml.safe_dump_all(documents)


def test_the_printed_policy_lets_plan_apply_update_recreate_and_prune_run(
    kube_fake: KubeFake, tmp_path: Path, run: Run
) -> None:
    """With RBAC from exactly `syncd policy --target eu`, every step succeeds and the cluster ends as the source."""
    manifest = setup(kube_fake, tmp_path)
    policy = printed_policy(run, manifest)
    kube_fake.load_rbac(policy)
    ok, printed = scenario(run, manifest, tmp_path)
    assert ok, printed
    assert "1 to delete" in printed and "recreate (the Secret is immutable)" in printed
    assert kube_fake.secret("team-b", "shared-github") is None
    assert kube_fake.secret("team-a", "db") is not None and kube_fake.secret("team-b", "shared-stripe") is not None
    roles = {d["metadata"]["namespace"]: d for d in yaml.safe_load_all(policy) if d and d["kind"] == "Role"}
    assert roles["team-a"]["rules"][1]["resourceNames"] == ["api", "db"]
    granted = {verb for role in roles.values() for rule in role["rules"] for verb in rule["verbs"]}
    assert granted == set(VERBS), "each granted verb is proven needed below"
    assert all("resourceNames" not in rule for rule in roles["team-b"]["rules"])


def test_the_run_is_refused_without_a_policy(kube_fake: KubeFake, tmp_path: Path, run: Run) -> None:
    """The subject is not allowed anything by itself: without the printed RBAC the first plan fails with a 403."""
    manifest = setup(kube_fake, tmp_path)
    kube_fake.load_rbac("")
    ok, printed = scenario(run, manifest, tmp_path)
    assert not ok
    assert "Kubernetes RBAC does not allow syncd to list secrets" in printed


@pytest.mark.parametrize("namespace", ["team-a", "team-b"])
@pytest.mark.parametrize("verb", VERBS)
def test_each_granted_verb_is_needed(tmp_path: Path, run: Run, namespace: str, verb: str) -> None:
    """Taking any one verb out of one namespace's printed Role makes some step fail with the 403 message naming
    that verb, secrets and that namespace: the policy is no wider than the run needs."""
    with KubeFake() as fake:
        manifest = setup(fake, tmp_path)
        fake.load_rbac(without(printed_policy(run, manifest), namespace, verb))
        ok, printed = scenario(run, manifest, tmp_path)
    assert not ok, f"the run succeeded without {verb} in {namespace}"
    assert (
        f"Kubernetes RBAC does not allow syncd to {verb} secrets in namespace {namespace!r} of target 'eu'" in printed
    ), printed
