"""The `vault` connector: a source and a sink for Vault and OpenBao KV secrets engines (KV v2 and KV v1), through
hvac. One KV path is one secret, its keys the secret's keys.

`source.py` and `sink.py` (the KV v2 marker protocol in `kv2_marker.py`) work through `kv.py` (the KV calls) on
`client.py` (the connection: login, token renewal, rate limit); `errors.py` maps every hvac and requests error,
`policy.py` gives the HCL `syncd policy` prints, `options.py` the options both roles share.
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
