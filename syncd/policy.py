"""Least-privilege access policies: what each target (and the source) must be allowed, from the manifest alone.

Names are known only once the source is read, so every name template
becomes a pattern with `*` for each placeholder (`prod/{relpath}` →
`prod/*`); a literal name stays exact. The connectors turn patterns into
their own IAM statements; nothing here makes a network call.

Items the manifest no longer maps (left from a removed sync) may sit outside
every pattern: pruning them is then refused by AWS with a clear access-denied
error, which is the point of least privilege.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from syncd.connector import Sink, Source
from syncd.errors import ConfigError
from syncd.manifest import Manifest

POLICY_VERSION = "2012-10-17"


def source_patterns(manifest: Manifest) -> list[str]:
    """The source paths the syncs read: exact paths, and prefixes as `prefix*`."""
    return _narrowest({s.spec.from_ + "*" if s.spec.is_prefix else s.spec.from_ for s in manifest.syncs})


def target_patterns(manifest: Manifest, target: str, sink: Sink) -> list[str]:
    """The addresses the syncs may write on `target`, each a pattern with `*` for what the source decides."""
    return _narrowest(
        {
            sink.address(dest.options, dest.template.pattern())
            for sync in manifest.syncs
            for dest in sync.destinations
            if dest.spec.target == target
        }
    )


def _narrowest(patterns: set[str]) -> list[str]:
    """The patterns, sorted, without those another pattern already covers (`prod/db` under `prod/*`)."""
    wildcards = [(p, re.compile(".*".join(re.escape(part) for part in p.split("*")))) for p in patterns if "*" in p]
    return sorted(p for p in patterns if not any(q != p and rx.fullmatch(p) for q, rx in wildcards))


@dataclass(frozen=True)
class PolicyKind:
    """One access-control system: the connector method that answers for it, and how a part's answer is shown."""

    name: str
    method: str
    wrap: Callable[[Any], Any]


def _iam_document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": statements}


IAM = PolicyKind("IAM", "access_policy", _iam_document)
VAULT = PolicyKind("Vault", "vault_policy", lambda hcl: hcl)


def governs_access(cls: type[Source] | type[Sink] | None, kind: PolicyKind = IAM) -> bool:
    """True when the connector class answers for `kind` (it overrides that method)."""
    if cls is None:
        return False
    base = Source if issubclass(cls, Source) else Sink
    return getattr(cls, kind.method) is not getattr(base, kind.method)


def access_policies(
    manifest: Manifest,
    open_source: Callable[[], Source],
    open_sink: Callable[[str], Sink],
    targets: list[str] | None = None,
    include_source: bool = True,
    kind: PolicyKind = IAM,
) -> dict[str, Any]:
    """`{"source": policy?, "targets": {name: policy}}` for every part of the manifest that `kind` governs.

    `targets` names the targets wanted (None: all); naming one that `kind` does not govern is a ConfigError.
    """
    known = manifest.spec.targets
    wanted = list(known) if targets is None else targets
    for name in wanted:
        if name not in known:
            raise ConfigError(f"--target {name!r} is not a target of the manifest (targets: {', '.join(known)})")
    result: dict[str, Any] = {}
    if include_source and governs_access(manifest.source_connector.source, kind):
        source = open_source()
        try:
            answer = getattr(source, kind.method)(source_patterns(manifest))
        finally:
            source.close()
        if answer:
            result["source"] = kind.wrap(answer)
    policies: dict[str, Any] = {}
    for name in wanted:
        connector = manifest.target_connectors[name]
        if not governs_access(connector.sink, kind):
            if targets is not None:
                message = f"target {name!r} uses connector {connector.name!r}, which {kind.name} does not govern"
                raise ConfigError(message)
            continue
        sink = open_sink(name)
        try:
            answer = getattr(sink, kind.method)(target_patterns(manifest, name, sink))
        finally:
            sink.close()
        if answer:
            policies[name] = kind.wrap(answer)
    if policies:
        result["targets"] = policies
    if not result:
        raise ConfigError(f"neither the source nor any target of the manifest is governed by {kind.name} policies")
    return result
