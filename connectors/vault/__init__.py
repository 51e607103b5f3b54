"""The `vault` connector: a source and a sink for Vault and OpenBao KV secrets engines (KV v2 and KV v1), through
hvac. docs/connectors.md (`vault`) says what each module holds.
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
