"""The `vault` connector: a source and a sink for Vault and OpenBao KV secrets engines, through hvac.

Both KV versions: version 2 (versions, custom_metadata, check-and-set) and
version 1 (plain paths), told apart by asking the mount, or set with
`kv_version`. One KV path is one secret: its keys are the secret's keys.

* Source (`connectors/_vault_source.py`): reads paths, lists prefixes
  recursively, pins KV v2 versions, and remembers what it read so that an
  unchanged secret costs one metadata read.
* Sink (`connectors/_vault_sink.py`): one path per item below the target's
  `prefix`; the ownership marker is in custom_metadata (KV v2) or a
  reserved data key (KV v1); writes use check-and-set.
* Login, token renewal and errors (`connectors/_vault_client.py`,
  `connectors/_vault_errors.py`): token, AppRole and Kubernetes auth; every
  hvac or requests error becomes a transient or permanent syncd error that
  names the path and the capability, never a value or a credential.
* Options (`connectors/_vault_options.py`): one connection model shared by
  source and sink, plus each role's own fields.
"""

from __future__ import annotations

from connectors._vault_options import VaultSinkOptions, VaultSourceOptions
from connectors._vault_sink import VaultSink
from connectors._vault_source import VaultSource
from syncd.connector import ConnectorSpec

__all__ = ["VaultSink", "VaultSinkOptions", "VaultSource", "VaultSourceOptions", "spec"]

spec = ConnectorSpec(
    name="vault",
    summary="Vault or OpenBao KV v2 and KV v1 secrets, as a source and as a sink (token, AppRole, Kubernetes auth).",
    source=VaultSource,
    sink=VaultSink,
)
