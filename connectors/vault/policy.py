"""The least-privilege Vault policy (HCL) of a `vault` source or sink, as `syncd policy` prints it.

Paths are relative to the namespace the connector logs in to. Within one policy Vault applies the most specific
matching path alone, so every rule repeats the capabilities a broader one grants (`list` and `read` below the prefix).
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.vault.options import VaultConnection, VaultSinkOptions

# Token lookups and renewals are granted by Vault's `default` policy; a token made without it needs them.
TOKEN_SELF = (
    'path "auth/token/lookup-self" { capabilities = ["read"] }\n'
    'path "auth/token/renew-self" { capabilities = ["update"] }'
)


def _rule(path: str, capabilities: Sequence[str]) -> str:
    listed = ", ".join(f'"{c}"' for c in capabilities)
    return f'path "{path}" {{ capabilities = [{listed}] }}'


def _header(options: VaultConnection, role: str) -> list[str]:
    lines = [f"# syncd {role}: Vault at {options.address}, mount {options.mount}/"]
    if options.namespace:
        lines.append(f"# Write this policy in namespace {options.namespace}.")
    if options.kv_version == "auto":
        lines.append("# KV version 2 assumed (kv_version: auto); for a KV version 1 mount set kv_version: 1.")
    return lines


def source_policy(options: VaultConnection, patterns: Sequence[str]) -> str:
    """Read the secrets the syncs name; list their prefixes, and (OpenBao) list them with their metadata, which
    lets a long-lived connection skip unchanged secrets."""
    mount = options.mount
    rules = []
    for pattern in patterns:
        listed = "*" in pattern
        if options.kv_version == 1:
            rules.append(_rule(f"{mount}/{pattern}", ["read", "list"] if listed else ["read"]))
            continue
        rules.append(_rule(f"{mount}/data/{pattern}", ["read"]))
        if listed:
            rules += [
                _rule(f"{mount}/metadata/{pattern}", ["list"]),
                _rule(f"{mount}/detailed-metadata/{pattern}", ["list"]),
            ]
    return "\n".join([*_header(options, "source"), *rules, TOKEN_SELF]) + "\n"


def sink_policy(options: VaultSinkOptions, patterns: Sequence[str]) -> str:
    """Write the items the syncs map; list and read everything below `prefix`; soft-delete (or destroy) owned items.
    Items of a sync removed from the manifest may lie outside every pattern: Vault refuses to prune them then."""
    mount, below = options.mount, f"{options.prefix}/*" if options.prefix else "*"
    if options.kv_version == 1:
        rules = [_rule(f"{mount}/{below}", ["list", "read"])]
        rules += [_rule(f"{mount}/{p}", ["create", "delete", "list", "read", "update"]) for p in patterns]
    else:
        rules = [_rule(f"{mount}/metadata/{below}", ["list", "read"])]
        for pattern in patterns:
            rules.append(_rule(f"{mount}/data/{pattern}", ["create", "read", "update"]))
            metadata = ["create", "list", "read", "update"] + (["delete"] if options.destroy_on_delete else [])
            rules.append(_rule(f"{mount}/metadata/{pattern}", metadata))
            rules.append(_rule(f"{mount}/delete/{pattern}", ["update"]))
    return "\n".join([*_header(options, f"target (prefix {options.prefix or '/'})"), *rules, TOKEN_SELF]) + "\n"
