"""The core's refusals against real sinks: a value no sink can hold unchanged is never written, and targets that
share a place (or sit where the source reads) are refused before any call."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import hvac
import pytest

from connectors import aws_secrets_manager, aws_ssm, vault
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
    registry = Registry(
        {"memory": MEMORY, kind: aws_secrets_manager.spec if kind.endswith("manager") else aws_ssm.spec}
    )
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
    registry = Registry({"aws-secrets-manager": aws_secrets_manager.spec})
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
