"""The core's refusals against real sinks: a value no sink can hold unchanged is never written."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import hvac
import pytest

from connectors import vault
from syncd.apply import apply_plan
from syncd.engine import make_plan
from syncd.manifest import load_manifest
from syncd.registry import Registry
from syncd.testing import MemorySource
from tests.conftest import FAST_RETRY, MEMORY
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
