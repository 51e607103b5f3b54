"""The `vault` connector: a source and a sink for Vault and OpenBao KV secrets engines, through hvac.

Both KV versions: version 2 (versions, custom_metadata, check-and-set) and
version 1 (plain paths), told apart by asking the mount, or set with
`kv_version`. One KV path is one secret: its keys are the secret's keys.

* `source.py`: reads paths, lists prefixes recursively, pins KV v2
  versions; its connection remembers what it read, so that an unchanged
  secret costs one metadata read.
* `sink.py`: one path per item below the target's `prefix`; the ownership
  marker is in custom_metadata (KV v2, written in the order `kv2_marker.py`
  gives) or a reserved data key (KV v1); writes use check-and-set.
* `client.py` (the connection: login, token renewal, rate limit),
  `errors.py` (every hvac or requests error as a transient or permanent
  syncd error naming the path and the capability, never a value or a
  credential), `kv.py` (the KV calls), `policy.py` (the HCL `syncd policy`
  prints), `options.py` (one connection model shared by source and sink).
"""

from __future__ import annotations

from connectors.vault.options import VaultSinkOptions, VaultSourceOptions
from connectors.vault.sink import VaultSink
from connectors.vault.source import VaultSource
from syncd.connector import ConnectorSpec

__all__ = ["VaultSink", "VaultSinkOptions", "VaultSource", "VaultSourceOptions", "spec"]

spec = ConnectorSpec(
    name="vault",
    summary="Vault or OpenBao KV v2 and KV v1 secrets, as a source and as a sink (token, AppRole, Kubernetes auth).",
    source=VaultSource,
    sink=VaultSink,
)
