"""The API calls each connector family reports through `Connections(on_api_call=...)` (the daemon's
`syncd_api_calls_total`): operation names from a small fixed set, never a secret's name or a value, for a run that
creates, then updates and prunes, against the fake servers."""

from __future__ import annotations

import functools
import json
import re
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from connectors.gitlab.client import _LimitedSession
from syncd import apply, engine
from syncd import run as run_service
from syncd.engine import Selection
from syncd.manifest import load_manifest
from syncd.ratelimit import RateLimiter
from syncd.registry import Registry
from syncd.run import Connections, Runner
from tests.conftest import FAST_RETRY
from tests.connectors.kubernetes.kube_support import kubeconfig
from tests.fakes.aws import AwsFake
from tests.fakes.gitlab import ADMIN_TOKEN, GitLabFake
from tests.fakes.kubernetes import KubeFake
from tests.fakes.openbao import OpenBaoServer

Call = tuple[str, str, str]
# Names of secrets and of the places they go: none may show up in an operation.
NAMES = ("payments", "stripe", "rotated", "PAYMENTS", "STRIPE")


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_service, "make_plan", functools.partial(engine.make_plan, retry=FAST_RETRY))
    monkeypatch.setattr(run_service, "apply_plan", functools.partial(apply.apply_plan, retry=FAST_RETRY))


def three_runs(manifest: Path, env: Mapping[str, str], edit: Callable[[], None]) -> list[Call]:
    """Plan and apply (creates), `edit` the source, plan and apply (an update and a prune), plan once more; on one
    set of long-lived connections, as the daemon runs. Every call reported, in order."""
    calls: list[Call] = []
    connections = Connections(env=env, on_api_call=lambda *call: calls.append(call))
    runner = Runner(load_manifest(manifest, Registry()), connections)
    selection = Selection()
    try:
        for round_ in range(3):
            with runner.connectors(selection) as (source, sinks):
                plan = runner.plan(source, sinks, selection)
                results = runner.apply(plan, sinks)
            assert all(r.status == "applied" for r in results), results
            if round_ == 0:
                assert results, "the first run created something"
                edit()
    finally:
        connections.close()
    return calls


def operations(calls: list[Call], connector: str, part: str) -> set[str]:
    """The operations reported for one part, after checking each is a name: no secret's name, no path."""
    for _, _, operation in calls:
        assert not any(name in operation for name in NAMES), operation
        assert not any(c in operation for c in "/|{}"), operation
    return {operation for kind, where, operation in calls if (kind, where) == (connector, part)}


def file_source(folder: Path) -> Callable[[], None]:
    """The source file with two secrets; the callable changes one and removes the other."""
    path = folder / "secrets.yaml"
    path.write_text(
        json.dumps({"apps": {"payments": {"password": "pw-value-first"}, "stripe": {"api_key": "sk-value-first"}}})
    )
    return lambda: path.write_text(json.dumps({"apps": {"payments": {"password": "pw-value-second"}}}))


def manifest_file(folder: Path, text: str) -> Path:
    path = folder / "syncd.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_aws_reports_its_api_operations(aws_fake: AwsFake, tmp_path: Path) -> None:
    """Secrets Manager and SSM report botocore's operation names (ListSecrets, PutParameter, ...)."""
    edit = file_source(tmp_path)
    manifest = manifest_file(
        tmp_path,
        f"""
        version: 1
        instance: ops-aws
        defaults: {{prune: true}}
        source: {{type: file, path: secrets.yaml}}
        targets:
          sm: {{type: aws-secrets-manager, region: us-east-1, endpoint_url: {aws_fake.endpoint}, force_delete: true}}
          params: {{type: aws-ssm, region: us-east-1, endpoint_url: {aws_fake.endpoint}}}
        syncs:
          - name: apps
            from: apps/
            to:
              - {{target: sm, name: "ops/{{relpath}}"}}
              - {{target: params, path: /ops/, name: "{{relpath}}/{{key}}"}}
        """,
    )
    calls = three_runs(manifest, {}, edit)
    assert {part for _, part, _ in calls} == {"sm", "params"}
    secrets_manager = operations(calls, "aws-secrets-manager", "sm")
    assert {"ListSecrets", "CreateSecret", "PutSecretValue", "DeleteSecret"} <= secrets_manager
    parameters = operations(calls, "aws-ssm", "params")
    assert {"DescribeParameters", "PutParameter", "DeleteParameter"} <= parameters
    # botocore's operation names, one word each: a fixed vocabulary per service.
    assert all(re.fullmatch(r"[A-Z][A-Za-z]+", operation) for operation in secrets_manager | parameters)


def test_vault_reports_acl_capabilities(openbao: OpenBaoServer, vault_prefix: str, tmp_path: Path) -> None:
    """Vault reports the ACL capability of each call (read, list, create or update, delete) and its token calls."""
    root = openbao.client()
    root.secrets.kv.v2.create_or_update_secret(
        path=f"{vault_prefix}/in/payments", secret={"password": "pw-value-first"}
    )
    root.secrets.kv.v2.create_or_update_secret(path=f"{vault_prefix}/in/stripe", secret={"api_key": "sk-value-first"})

    def edit() -> None:
        root.secrets.kv.v2.create_or_update_secret(
            path=f"{vault_prefix}/in/payments", secret={"password": "pw-value-second"}
        )
        root.secrets.kv.v2.delete_metadata_and_all_versions(path=f"{vault_prefix}/in/stripe")

    token = root.auth.token.create(policies=["root"], ttl="10m")["auth"]["client_token"]
    manifest = manifest_file(
        tmp_path,
        f"""
        version: 1
        instance: ops-vault
        defaults: {{prune: true}}
        source: {{type: vault, address: {openbao.address}, auth: {{method: token, token: "${{env:OPS_TOKEN}}"}}}}
        targets:
          kv:
            type: vault
            address: {openbao.address}
            prefix: {vault_prefix}/out
            auth: {{method: token, token: "${{env:OPS_TOKEN}}"}}
        syncs:
          - name: apps
            from: {vault_prefix}/in/
            to:
              - {{target: kv, name: "{{relpath}}"}}
        """,
    )
    calls = three_runs(manifest, {"OPS_TOKEN": token}, edit)
    assert operations(calls, "vault", "source") == {"lookup token", "list", "read"}
    target = operations(calls, "vault", "kv")
    assert {"lookup token", "list", "read", "create or update"} <= target
    assert target <= {"lookup token", "list", "read", "create", "update", "create or update", "delete"}


def test_kubernetes_reports_rbac_verbs(kube_fake: KubeFake, tmp_path: Path) -> None:
    """Kubernetes reports the RBAC verb of each call (get, list, create, patch, delete)."""
    edit = file_source(tmp_path)
    config = kubeconfig(kube_fake, tmp_path)
    manifest = manifest_file(
        tmp_path,
        f"""
        version: 1
        instance: ops-kube
        defaults: {{prune: true}}
        source: {{type: file, path: secrets.yaml}}
        targets:
          cluster: {{type: kubernetes, kubeconfig: {config.name}, context: fake}}
        syncs:
          - name: apps
            from: apps/
            to:
              - {{target: cluster, namespace: team-a, name: "{{relpath}}"}}
        """,
    )
    calls = three_runs(manifest, {}, edit)
    verbs = operations(calls, "kubernetes", "cluster")
    assert {"list", "create", "patch", "delete"} <= verbs <= {"get", "list", "create", "update", "patch", "delete"}


def test_gitlab_reports_http_methods(gitlab_fake: GitLabFake, tmp_path: Path) -> None:
    """GitLab reports the HTTP method of each call (GET, POST, PUT, DELETE)."""
    edit = file_source(tmp_path)
    manifest = manifest_file(
        tmp_path,
        f"""
        version: 1
        instance: ops-gitlab
        defaults: {{prune: true}}
        source: {{type: file, path: secrets.yaml}}
        targets:
          gl: {{type: gitlab, url: {gitlab_fake.url}, token: "${{env:GITLAB_TOKEN}}"}}
        syncs:
          - name: apps
            from: apps/
            to:
              - {{target: gl, project: platform/app, name: "{{relpath|upper}}_{{key|upper}}"}}
        """,
    )
    calls = three_runs(manifest, {"GITLAB_TOKEN": ADMIN_TOKEN}, edit)
    assert operations(calls, "gitlab", "gl") == {"GET", "POST", "PUT", "DELETE"}


def test_gitlab_reports_a_method_given_as_bytes_by_its_name(gitlab_fake: GitLabFake) -> None:
    """requests takes a method as bytes too: it is still reported as "GET"."""
    reported: list[str] = []
    session = _LimitedSession(RateLimiter(on_call=reported.append))
    session.request(b"GET", f"{gitlab_fake.url}/api/v4/version", headers={"PRIVATE-TOKEN": ADMIN_TOKEN}, timeout=10)
    assert reported == ["GET"]
