"""Least-privilege access policies: what each target (and the source) must be allowed, from the manifest alone.

Names are known only once the source is read, so every name template
becomes a pattern with `*` for each placeholder (`prod/{relpath}` →
`prod/*`); a literal name stays exact. The same patterns make each target's
scope (`syncd.engine.target_scope`), and a target's policy grants exactly
that scope (`scope_patterns`): items outside it (left by a removed sync) are
neither listed nor pruned, so syncd never needs a right the policy does not
grant. Each connector turns patterns into its own access system's policy
(`Sink.required_access`); nothing here makes a network call.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from syncd.connector import AccessPolicy, Sink, Source
from syncd.errors import ConfigError
from syncd.manifest import Manifest


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


def scope_patterns(patterns: list[str]) -> list[str]:
    """The patterns a target's scope covers (see `Scope.covers`): a wildcard pattern from its literal start on
    (`prod/*-v2` → `prod/*`), a literal name as it is. A target's policy grants these, so that prune may reach
    every owned item the scope shows it, such as those a renamed destination left under the same start."""
    return _narrowest({p.split("*", 1)[0] + "*" if "*" in p else p for p in patterns})


def _narrowest(patterns: set[str]) -> list[str]:
    """The patterns, sorted, without those another pattern already covers (`prod/db` under `prod/*`)."""
    wildcards = [(p, re.compile(".*".join(re.escape(part) for part in p.split("*")))) for p in patterns if "*" in p]
    return sorted(p for p in patterns if not any(q != p and rx.fullmatch(p) for q, rx in wildcards))


# The access systems `syncd policy` knows by name; a connector may answer with any other kind.
KIND_NAMES = {"iam": "IAM", "vault": "Vault", "rbac": "Kubernetes RBAC", "gitlab": "GitLab token"}


def kind_name(kind: str) -> str:
    return KIND_NAMES.get(kind, kind)


def access_policies(
    manifest: Manifest,
    open_source: Callable[[], Source],
    open_sink: Callable[[str], Sink],
    targets: list[str] | None = None,
    include_source: bool = True,
    kind: str | None = None,
) -> dict[str, AccessPolicy]:
    """Each part's least-privilege policy, keyed "source" or by target name, in the manifest's order; only
    parts an access system governs (of `kind`, when given).

    `targets` names the targets wanted (None: all); naming one that has no policy (of `kind`) is a ConfigError,
    as is asking for the source's when it has none.
    """
    known = manifest.spec.targets
    wanted = list(known) if targets is None else targets
    for name in wanted:
        if name not in known:
            raise ConfigError(f"--target {name!r} is not a target of the manifest (targets: {', '.join(known)})")
    governed = f"which {kind_name(kind)} does not govern" if kind else "which needs no access policy"
    result: dict[str, AccessPolicy] = {}
    if include_source:
        source = open_source()
        try:
            answer = source.required_access(source_patterns(manifest))
        finally:
            source.close()
        if answer is not None and (kind is None or answer.kind == kind):
            result["source"] = answer
        elif targets == []:
            raise ConfigError(f"the source uses connector {manifest.source_connector.name!r}, {governed}")
    for name in wanted:
        sink = open_sink(name)
        try:
            answer = sink.required_access(scope_patterns(target_patterns(manifest, name, sink)))
        finally:
            sink.close()
        if answer is not None and (kind is None or answer.kind == kind):
            result[name] = answer
        elif targets is not None:
            connector = manifest.target_connectors[name].name
            raise ConfigError(f"target {name!r} uses connector {connector!r}, {governed}")
    if not result:
        which = f"governed by {kind_name(kind)} policies" if kind else "governed by an access policy"
        raise ConfigError(f"neither the source nor any target of the manifest is {which}")
    return result
