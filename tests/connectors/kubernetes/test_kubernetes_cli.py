"""The `kubernetes` sink through the command line: two clusters (two fake API servers) in one manifest converge and
prune, a target whose RBAC refuses a namespace is reported while the other applies, the rules stop bad items
before any call, and no planted value reaches any output or file, with the redactor off."""

from __future__ import annotations

import base64
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
from tests.connectors.kubernetes.kube_support import kubeconfig
from tests.fakes.kubernetes import KubeFake
from tests.leakscan import assert_no_leaks, redactor_off

Run = Callable[..., tuple[int, str, str]]
PLANTED = {
    "db password": "PLANTED-k8s-cli-db-2f7d1e",
    "shared token": "PLANTED-k8s-cli-token-8a3c55",
    "registry token": "PLANTED-k8s-cli-registry-61b0",
    "tls key": "PLANTED-k8s-cli-tls-key-93de\nsecond line of the key 41aa",
}


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's plan and apply, retrying transient errors without waiting."""
    monkeypatch.setattr(run_service, "make_plan", functools.partial(engine.make_plan, retry=FAST_RETRY))
    monkeypatch.setattr(run_service, "apply_plan", functools.partial(apply.apply_plan, retry=FAST_RETRY))


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """`main` with a registry holding kubernetes and file, the redactor off; returns (exit code, stdout, stderr)."""

    def run_main(*argv: str) -> tuple[int, str, str]:
        registry = Registry({"kubernetes": kubernetes.spec, "file": local.file_spec})
        with redactor_off():
            code = main(list(argv), registry=registry, env={})
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run_main


def write_source(folder: Path, secrets: dict[str, Any]) -> Path:
    path = folder / "secrets.yaml"
    path.write_text(yaml.safe_dump(secrets))
    return path


def source_secrets(db_password: str = PLANTED["db password"]) -> dict[str, Any]:
    return {
        "apps": {
            "db": {"username": "app", "password": db_password},
            "shared": {"stripe": {"token": PLANTED["shared token"]}, "github": {"token": "gh-token-value-1"}},
            "registry": {"username": "robot", "password": PLANTED["registry token"]},
            "tls": {"tls.crt": "CERT-PEM-TEXT", "tls.key": PLANTED["tls key"]},
        }
    }


def write_manifest(folder: Path, targets: dict[str, Path], syncs: str) -> str:
    lines = [
        f"  {name}: {{type: kubernetes, kubeconfig: {path.name}, context: fake}}" for name, path in targets.items()
    ]
    path = folder / "syncd.yaml"
    path.write_text(
        "version: 1\ninstance: cli-k8s\ndefaults: {prune: true}\nsource: {type: file, path: secrets.yaml}\n"
        "targets:\n" + "\n".join(lines) + "\nsyncs:\n" + textwrap.indent(textwrap.dedent(syncs), "  ")
    )
    return str(path)


TWO_CLUSTERS = """
- name: db
  from: apps/db
  to:
    - {target: eu, namespace: team-a, name: db, labels: {team: payments}}
    - {target: us, namespace: team-b, name: db-credentials, type: kubernetes.io/basic-auth}
- name: shared
  from: apps/shared/
  to:
    - {target: eu, namespace: team-b, name: "shared-{relpath}"}
- name: registry
  from: apps/registry
  to:
    - {target: us, namespace: default, name: pull, type: kubernetes.io/dockerconfigjson, registry: ghcr.io}
- name: tls
  from: apps/tls
  to:
    - {target: us, namespace: team-a, name: web-tls, type: kubernetes.io/tls, immutable: true, recreate: true}
"""


def data_of(fake: KubeFake, namespace: str, name: str) -> dict[str, str] | None:
    secret = fake.secret(namespace, name)
    if secret is None:
        return None
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def test_two_clusters_in_one_manifest_plan_apply_then_no_drift_update_and_prune(
    kube_fake: KubeFake, kube_fake_other: KubeFake, tmp_path: Path, run: Run
) -> None:
    """plan shows the creates in both clusters, apply writes each where its target points (and nothing in the
    other), the next plan is clean; a new source value is an update (a recreate for the immutable TLS Secret), and
    a secret removed from a synced folder is pruned; no planted value shows in any output or file."""
    write_source(tmp_path, source_secrets())
    eu, us = kubeconfig(kube_fake, tmp_path, name="eu.yaml"), kubeconfig(kube_fake_other, tmp_path, name="us.yaml")
    manifest = write_manifest(tmp_path, {"eu": eu, "us": us}, TWO_CLUSTERS)
    outputs = []

    code, out, err = run("plan", "-c", manifest, "--detailed-exitcode")
    outputs.append(out + err)
    assert code == 2, err
    assert "6 to create, 0 to update, 0 to delete, 0 conflicts" in out
    code, out, err = run("apply", "-c", manifest, "--yes")
    outputs.append(out + err)
    assert code == 0, out + err
    assert data_of(kube_fake, "team-a", "db") == {"username": "app", "password": PLANTED["db password"]}
    assert data_of(kube_fake, "team-b", "shared-stripe") == {"token": PLANTED["shared token"]}
    assert data_of(kube_fake_other, "team-b", "db-credentials") == {
        "username": "app",
        "password": PLANTED["db password"],
    }
    assert kube_fake_other.secret("team-a", "db") is None and kube_fake.secret("team-b", "db-credentials") is None
    assert kube_fake_other.secret("default", "pull")["type"] == "kubernetes.io/dockerconfigjson"  # type: ignore[index]
    assert kube_fake.secret("team-a", "db")["metadata"]["labels"] == {  # type: ignore[index]
        "team": "payments",
        "app.kubernetes.io/managed-by": "syncd",
    }
    code, out, err = run("plan", "-c", manifest, "--detailed-exitcode")
    outputs.append(out + err)
    assert code == 0 and "No changes" in out, out + err

    changed = source_secrets("PLANTED-k8s-cli-db-rotated-55e0")
    del changed["apps"]["shared"]["github"]
    changed["apps"]["tls"]["tls.crt"] = "CERT-PEM-TEXT-RENEWED"
    write_source(tmp_path, changed)
    code, out, err = run("apply", "-c", manifest, "--yes")
    outputs.append(out + err)
    assert code == 0, out + err
    assert "0 to create, 3 to update, 1 to delete" in out
    assert "recreate (the Secret is immutable)" in out
    assert data_of(kube_fake, "team-a", "db")["password"] == "PLANTED-k8s-cli-db-rotated-55e0"  # type: ignore[index]
    assert data_of(kube_fake_other, "team-a", "web-tls")["tls.crt"] == "CERT-PEM-TEXT-RENEWED"  # type: ignore[index]
    assert kube_fake.secret("team-b", "shared-github") is None
    assert run("plan", "-c", manifest, "--detailed-exitcode")[0] == 0

    planted = {**PLANTED, "rotated": "PLANTED-k8s-cli-db-rotated-55e0"}
    texts = {f"output {i}": text for i, text in enumerate(outputs)}
    assert_no_leaks(planted, texts, paths=[tmp_path], skip=[tmp_path / "secrets.yaml"])


def test_rbac_refusing_one_target_is_reported_while_the_other_applies(
    kube_fake: KubeFake, kube_fake_other: KubeFake, tmp_path: Path, run: Run
) -> None:
    """The 'eu' cluster's RBAC grants nothing in team-b: apply reports the refused verb, resource and namespace of
    target 'eu', exits non-zero, and still writes everything in 'us'."""
    write_source(tmp_path, source_secrets())
    kube_fake.add_user("syncd-token", "syncd")
    kube_fake.load_rbac(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: syncd, namespace: team-a}\n"
        "rules: [{apiGroups: [''], resources: [secrets], verbs: [list, get, create, patch, delete]}]\n---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: syncd, namespace: team-a}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: syncd}\n"
        "subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: syncd}]\n"
    )
    eu = kubeconfig(kube_fake, tmp_path, token="syncd-token", name="eu.yaml")
    us = kubeconfig(kube_fake_other, tmp_path, name="us.yaml")
    manifest = write_manifest(tmp_path, {"eu": eu, "us": us}, TWO_CLUSTERS)
    code, out, err = run("apply", "-c", manifest, "--yes")
    assert code != 0
    assert (
        "Kubernetes RBAC does not allow syncd to list secrets in namespace 'team-b' of target 'eu'; grant it with "
        "the Role `syncd policy --target eu` prints"
    ) in out + err
    assert data_of(kube_fake_other, "team-b", "db-credentials") is not None
    assert data_of(kube_fake_other, "default", "pull") is not None
    assert kube_fake.secret("team-a", "db") is None  # nothing is planned for a target that could not be read
    assert_no_leaks(PLANTED, {"output": out + err}, paths=[tmp_path], skip=[tmp_path / "secrets.yaml"])


@pytest.mark.parametrize(
    ("syncs", "message"),
    [
        ("- {name: s, from: apps/db, to: [{target: eu, namespace: Team_A, name: db}]}", "DNS-1123 label"),
        (
            "- {name: s, from: apps/db, to: [{target: eu, namespace: team-a, name: db, labels: {syncd.io/x: y}}]}",
            "reserved",
        ),
    ],
)
def test_a_bad_namespace_or_label_fails_validation_before_any_call(
    kube_fake: KubeFake, tmp_path: Path, run: Run, syncs: str, message: str
) -> None:
    """A namespace that is no DNS-1123 label, or a reserved label, is a manifest error; the cluster sees nothing."""
    write_source(tmp_path, source_secrets())
    manifest = write_manifest(tmp_path, {"eu": kubeconfig(kube_fake, tmp_path, name="eu.yaml")}, syncs)
    code, out, err = run("plan", "-c", manifest)
    assert code == 1 and message in err, out + err
    assert kube_fake.requests == []


@pytest.mark.parametrize(
    ("to", "source", "message"),
    [
        (
            "{target: eu, namespace: team-a, name: Bad_Name}",
            {"k": "PLANTED-rule-name-7d21"},
            "is not a DNS-1123 subdomain",
        ),
        (
            "{target: eu, namespace: team-a, name: db}",
            {"bad key": "PLANTED-rule-key-40c9"},
            "Key 'bad key' of Secret 'db'",
        ),
        (
            "{target: eu, namespace: team-a, name: db}",
            {"big": "PLANTED-rule-size-" + "x" * (1024 * 1024)},
            "more than the 1048576",
        ),
        (
            "{target: eu, namespace: team-a, name: db, type: kubernetes.io/tls}",
            {"tls.crt": "PLANTED-rule-tls-crt-11fe"},
            "needs the key 'tls.key'",
        ),
        (
            "{target: eu, namespace: team-a, name: db, type: kubernetes.io/dockerconfigjson, registry: ghcr.io}",
            {"username": "PLANTED-rule-user-2b8d"},
            "has no key 'password'",
        ),
    ],
)
def test_the_rules_hold_a_bad_item_back_before_any_call_to_it(
    kube_fake: KubeFake, tmp_path: Path, run: Run, to: str, source: dict[str, str], message: str
) -> None:
    """A bad Secret name, a bad key, over 1 MiB, a TLS Secret without tls.key, or registry credentials without
    the password is a problem of that item, named without its value (the redactor off); the cluster sees no write,
    nor any GET of that Secret."""
    write_source(tmp_path, {"apps": {"x": source}})
    syncs = f"- {{name: s, from: apps/x, to: [{to}]}}"
    manifest = write_manifest(tmp_path, {"eu": kubeconfig(kube_fake, tmp_path, name="eu.yaml")}, syncs)
    code, out, err = run("apply", "-c", manifest, "--yes")
    assert code != 0 and message in out + err, out + err
    assert kube_fake.count("POST") == kube_fake.count("PATCH") == kube_fake.count("DELETE") == 0
    assert kube_fake.count("GET", r"/secrets/") == 0
    assert_no_leaks(source, {"output": out + err}, paths=[tmp_path], skip=[tmp_path / "secrets.yaml"])


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("apiVersion: v1\nusers: [{name: u, user: {token: PLANTED-k8s-cli-kubeconfig-5c1e}}\n", "ParserError"),
        ("- PLANTED-k8s-cli-kubeconfig-5c1e\n- b\n", "TypeError"),
    ],
)
def test_a_malformed_kubeconfig_is_named_with_its_error_type_only(
    kube_fake: KubeFake, tmp_path: Path, run: Run, text: str, error: str
) -> None:
    """A kubeconfig that is broken YAML, or YAML of the wrong shape, fails the plan with one message naming the file
    and the loader's exception type, never its text (which may quote the file)."""
    write_source(tmp_path, source_secrets())
    broken = tmp_path / "eu.yaml"
    broken.write_text(text)
    manifest = write_manifest(
        tmp_path, {"eu": broken}, "- {name: s, from: apps/db, to: [{target: eu, namespace: team-a, name: db}]}"
    )
    code, out, err = run("plan", "-c", manifest)
    assert code != 0
    assert f"kubeconfig {broken} is not a valid kubeconfig ({error})" in out + err, out + err
    assert "unexpected" not in out + err
    assert_no_leaks({"token": "PLANTED-k8s-cli-kubeconfig-5c1e"}, {"output": out + err})
    assert kube_fake.requests == []
