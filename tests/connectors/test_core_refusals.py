"""The core's refusals against real sinks: a value no sink can hold unchanged is never written, and targets that
share a place (or sit where the source reads) are refused before any call."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import hvac
import pytest

from connectors import vault
from connectors.aws import secrets_manager_spec, ssm_spec
from syncd.apply import apply_plan
from syncd.connector import Source
from syncd.engine import make_plan
from syncd.errors import ConfigError
from syncd.locations import refuse_overlaps
from syncd.manifest import Manifest, load_manifest
from syncd.registry import Registry
from syncd.testing import MemorySource
from tests.conftest import FAST_RETRY, MEMORY
from tests.fakes.aws import AwsFake
from tests.fakes.openbao import OpenBaoServer


def test_a_lone_surrogate_is_never_written_to_vault(openbao: OpenBaoServer, vault_prefix: str, tmp_path: Path) -> None:
    """OpenBao would store U+FFFD for a lone surrogate and every run would rewrite it: the item is held instead,
    nothing is written, and a second plan is the same problem with no change."""
    target = json.dumps(
        {
            "type": "vault",
            "address": openbao.address,
            "auth": {"method": "token", "token": "root"},
            "prefix": vault_prefix,
        }
    )
    manifest_path = tmp_path / "syncd.yaml"
    manifest_path.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            instance: surrogate
            source: {{type: memory}}
            targets:
              kv: {target}
            syncs:
              - {{name: app, from: apps/db, to: [{{target: kv, name: db}}]}}
            """
        )
    )
    manifest = load_manifest(manifest_path, Registry({"vault": vault.spec, "memory": MEMORY}))
    source = MemorySource(secrets={"apps/db": {"user": "u1", "pass": "SURR\ud800X"}})
    sink = manifest.open_sink("kv")
    try:
        for _ in range(2):
            plan = make_plan(manifest, source, {"kv": sink}, retry=FAST_RETRY)
            assert [(p.address, "not valid Unicode text" in p.message) for p in plan.problems] == [
                (f"{vault_prefix}/db", True)
            ]
            assert not plan.has_drift
            assert apply_plan(plan, {"kv": sink}, retry=FAST_RETRY) == ()
    finally:
        sink.close()
    with pytest.raises(hvac.exceptions.InvalidPath):
        openbao.client().secrets.kv.v2.read_secret_metadata(f"{vault_prefix}/db")


def load(tmp_path: Path, source: str, targets: dict[str, str], syncs: str, registry: Registry) -> Manifest:
    """A manifest with `source`, `targets` (name → options as JSON) and the `syncs` YAML lines."""
    lines = "\n".join(f"  {name}: {options}" for name, options in targets.items())
    path = tmp_path / "syncd.yaml"
    path.write_text(f"version: 1\ninstance: overlap\nsource: {source}\ntargets:\n{lines}\nsyncs:\n{syncs}")
    return load_manifest(path, registry)


def refusal(manifest: Manifest, source: Source | None = None) -> str:
    """The message make_plan refuses the manifest's targets with (the source defaults to an empty memory one)."""
    sinks = {name: manifest.open_sink(name) for name in manifest.spec.targets}
    with pytest.raises(ConfigError) as refused:
        make_plan(manifest, source or MemorySource(), sinks, retry=FAST_RETRY)
    return str(refused.value)


def aws(kind: str, fake: AwsFake, **extra: str) -> str:
    return json.dumps({"type": kind, "region": "us-east-1", "endpoint_url": fake.endpoint, **extra})


AWS_SYNCS = "  - {name: db, from: apps/db, to: [{target: a, name: 'a-db'}, {target: b, name: 'b-db'}]}\n"


@pytest.mark.parametrize("kind", ["aws-secrets-manager", "aws-ssm"])
def test_two_aws_targets_in_one_account_and_region_are_refused(kind: str, aws_fake: AwsFake, tmp_path: Path) -> None:
    """Two targets of one service in one account and region list and prune each other's items: refused with no call,
    whether the account is implied (same credentials), given as account_id, or the account of a role."""
    registry = Registry({"memory": MEMORY, kind: secrets_manager_spec if kind.endswith("manager") else ssm_spec})
    syncs = AWS_SYNCS.replace("-db", "-{key}") if kind == "aws-ssm" else AWS_SYNCS
    same_account = [
        ({}, {}),
        ({"account_id": "111111111111"}, {"role_arn": "arn:aws:iam::111111111111:role/writer"}),
        ({"profile": "ops"}, {"profile": "ops", "kms_key_id": "alias/other"}),
    ]
    for first, second in same_account:
        targets = {"a": aws(kind, aws_fake, **first), "b": aws(kind, aws_fake, **second)}
        message = refusal(load(tmp_path, "{type: memory}", targets, syncs, registry))
        assert "targets 'a'" in message and "'b'" in message and "write to the same place" in message
    assert aws_fake.count() == 0
    apart = [
        ({}, {"region": "eu-west-1"}),
        ({"account_id": "111111111111"}, {"account_id": "222222222222"}),
        ({"profile": "ops"}, {"profile": "dev"}),
    ]
    for first, second in apart:
        targets = {"a": aws(kind, aws_fake, **first), "b": aws(kind, aws_fake, **second)}
        manifest = load(tmp_path, "{type: memory}", targets, syncs, registry)
        sinks = {n: manifest.open_sink(n) for n in manifest.spec.targets}
        refuse_overlaps(MemorySource(), manifest.syncs, sinks)


def test_a_secrets_manager_target_in_the_source_account_and_region_is_refused(
    aws_fake: AwsFake, tmp_path: Path
) -> None:
    """A Secrets Manager source and a Secrets Manager target in one account and region: the sync would read back
    what it writes, so the target is refused before any call."""
    registry = Registry({"aws-secrets-manager": secrets_manager_spec})
    targets = {"a": aws("aws-secrets-manager", aws_fake)}
    manifest = load(
        tmp_path,
        aws("aws-secrets-manager", aws_fake),
        targets,
        "  - {name: db, from: apps/, to: [{target: a, name: 'COPY_{relpath}'}]}\n",
        registry,
    )
    message = refusal(manifest, manifest.open_source())
    assert message.startswith("target 'a'") and "where sync 'db' reads from (source path 'apps/')" in message
    assert aws_fake.count() == 0


def vault_target(server: OpenBaoServer, prefix: str, **extra: str) -> str:
    auth = {"method": "token", "token": "root"}
    return json.dumps({"type": "vault", "address": server.address, "auth": auth, "prefix": prefix, **extra})


def test_vault_targets_with_nested_prefixes_are_refused(
    openbao: OpenBaoServer, openbao_other: OpenBaoServer, vault_prefix: str, tmp_path: Path
) -> None:
    """Vault targets on one address and mount whose prefixes nest (or are equal) are refused; sibling prefixes,
    other mounts and other servers are not."""
    registry = Registry({"vault": vault.spec, "memory": MEMORY})
    syncs = "  - {name: db, from: apps/db, to: [{target: a, name: db}, {target: b, name: db}]}\n"
    nested = [(vault_prefix, f"{vault_prefix}/team"), (vault_prefix, f"/{vault_prefix}/"), ("", vault_prefix)]
    for first, second in nested:
        targets = {"a": vault_target(openbao, first), "b": vault_target(openbao, second)}
        message = refusal(load(tmp_path, "{type: memory}", targets, syncs, registry))
        assert "targets 'a'" in message and "'b'" in message
    # One server under two names: 127.0.0.1 and localhost.
    assert "127.0.0.1" in openbao.address
    other_name = json.loads(vault_target(openbao, vault_prefix))
    other_name["address"] = openbao.address.replace("127.0.0.1", "localhost")
    for first, second in [(vault_target(openbao, vault_prefix), json.dumps(other_name))]:
        targets = {"a": first, "b": second}
        message = refusal(load(tmp_path, "{type: memory}", targets, syncs, registry))
        assert "targets 'a'" in message and "'b'" in message
    apart = [
        (vault_target(openbao, f"{vault_prefix}/team"), vault_target(openbao, f"{vault_prefix}/teams")),
        (vault_target(openbao, vault_prefix), vault_target(openbao, vault_prefix, mount="kv")),
        (vault_target(openbao, vault_prefix), vault_target(openbao_other, vault_prefix)),
    ]
    for first, second in apart:
        manifest = load(tmp_path, "{type: memory}", {"a": first, "b": second}, syncs, registry)
        refuse_overlaps(MemorySource(), manifest.syncs, {n: manifest.open_sink(n) for n in manifest.spec.targets})


def test_a_vault_target_where_the_vault_source_reads_is_refused(
    openbao: OpenBaoServer, vault_prefix: str, tmp_path: Path
) -> None:
    """A Vault source and target on one address and mount: a target inside (or holding) a path a sync reads is
    refused, and nothing is written; a target beside it is not."""
    registry = Registry({"vault": vault.spec})
    client = openbao.client()
    client.secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/apps/db", secret={"user": "u1"})
    source = json.dumps({"type": "vault", "address": openbao.address, "auth": {"method": "token", "token": "root"}})
    syncs = f"  - {{name: db, from: '{vault_prefix}/apps/', to: [{{target: a, name: 'COPY_{{relpath}}'}}]}}\n"
    for prefix in (f"{vault_prefix}/apps", f"{vault_prefix}/apps/copies", vault_prefix):
        manifest = load(tmp_path, source, {"a": vault_target(openbao, prefix)}, syncs, registry)
        message = refusal(manifest, manifest.open_source())
        assert message.startswith("target 'a'") and "where sync 'db' reads from" in message
    assert client.secrets.kv.v2.list_secrets(f"{vault_prefix}/apps")["data"]["keys"] == ["db"]
    beside = load(tmp_path, source, {"a": vault_target(openbao, f"{vault_prefix}/copies")}, syncs, registry)
    refuse_overlaps(beside.open_source(), beside.syncs, {"a": beside.open_sink("a")})


def test_a_secrets_manager_target_answering_503_to_everything_costs_a_bounded_number_of_calls(
    aws_fake: AwsFake, aws_no_backoff: None, tmp_path: Path
) -> None:
    """With AWS answering 503 to every call, a plan's read of the target and an apply of 40 changes each stop after
    a bounded number of calls (counted, not timed): apply takes the target as down after 3 changes in a row failed,
    instead of retrying every change."""
    registry = Registry({"memory": MEMORY, "aws-secrets-manager": secrets_manager_spec})
    syncs = "  - {name: fleet, from: apps/, to: [{target: a, name: 'fleet/{relpath}'}]}\n"
    manifest = load(tmp_path, "{type: memory}", {"a": aws("aws-secrets-manager", aws_fake)}, syncs, registry)
    source = MemorySource(secrets={f"apps/s{i:02}": {"k": f"v{i}"} for i in range(40)})
    sink = manifest.open_sink("a")
    try:
        plan = make_plan(manifest, source, {"a": sink}, retry=FAST_RETRY)
        assert plan.problems == () and len(plan.drift) == 40
        aws_fake.fail(None, 503, times=None)
        aws_fake.reset_counts()
        results = apply_plan(plan, {"a": sink}, retry=FAST_RETRY, concurrency={"a": 4})
        applied = aws_fake.count()
        # Each change costs at most FAST_RETRY's 3 attempts of botocore's 3; 3 in a row trip the breaker, and at most
        # 3 more were in flight on the target's 4 workers: 6 changes * 9 calls, where 40 changes would cost 360.
        assert applied <= 6 * 3 * 3
        assert len(results) == 40 and not any(r.ok for r in results)
        assert sum(1 for r in results if r.attempts == 0) >= 34
        aws_fake.reset_counts()
        failed_plan = make_plan(manifest, source, {"a": sink}, retry=FAST_RETRY)
        # The target's first read fails: 3 attempts of botocore's 3, and the target fails alone.
        assert aws_fake.count() <= 3 * 3
        assert [p.target for p in failed_plan.problems] == ["a"] and not failed_plan.changes
    finally:
        sink.close()
