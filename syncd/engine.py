"""The planning run: read the source, expand, read every sink, diff, guard. Writes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import structlog

from syncd.collector import young_threshold_raised
from syncd.connector import Scope, Sink, Source
from syncd.diff import Policy, PruneScope, diff_target
from syncd.errors import ConfigError, SourceError, SyncdError, TransientError
from syncd.expand import Expansion, expand
from syncd.locations import refuse_overlaps, unselected_targets
from syncd.manifest import Manifest, Sync
from syncd.model import Action, ActualItem, Change, Plan, Problem, SourceSecret
from syncd.policy import target_patterns
from syncd.registry import did_you_mean
from syncd.retry import RetryPolicy
from syncd.settings import DEFAULT_SETTINGS, Settings
from syncd.threads import in_callers_context

log = structlog.get_logger("syncd.engine")


@dataclass(frozen=True)
class Selection:
    """`--sync` and `--target` filters; None selects everything."""

    syncs: frozenset[str] | None = None
    targets: frozenset[str] | None = None

    def check(self, manifest: Manifest) -> None:
        known_syncs = {s.name for s in manifest.syncs}
        for name in sorted(self.syncs or ()):
            if name not in known_syncs:
                raise ConfigError(f"--sync {name!r}: no such sync in the manifest{did_you_mean(name, known_syncs)}")
        known_targets = set(manifest.spec.targets)
        for name in sorted(self.targets or ()):
            if name not in known_targets:
                raise ConfigError(
                    f"--target {name!r}: no such target in the manifest{did_you_mean(name, known_targets)}"
                )

    @classmethod
    def of_saved_plan(cls, saved: Mapping[str, Any], manifest: Manifest) -> Selection:
        """The selection a saved plan was made with: its recorded filters, or for a plan saved before they were
        recorded, the filters that give its lists of syncs and targets."""
        selection = saved["selection"]
        filters = selection.get("filter")
        if isinstance(filters, dict):
            syncs, targets = filters.get("syncs"), filters.get("targets")
            return cls(
                frozenset(syncs) if syncs is not None else None, frozenset(targets) if targets is not None else None
            )
        every_sync = [s.name for s in manifest.syncs]
        sync_filter = None if list(selection["syncs"]) == every_sync else frozenset(selection["syncs"])
        unfiltered = cls(sync_filter).pick_targets(manifest)
        target_filter = None if list(selection["targets"]) == unfiltered else frozenset(selection["targets"])
        return cls(sync_filter, target_filter)

    def pick_syncs(self, manifest: Manifest) -> list[Sync]:
        return [s for s in manifest.syncs if self.syncs is None or s.name in self.syncs]

    def pick_targets(self, manifest: Manifest) -> list[str]:
        syncs = self.pick_syncs(manifest)
        if self.syncs is None:
            names = list(manifest.spec.targets)
        else:
            names = list(dict.fromkeys(d.spec.target for s in syncs for d in s.destinations))
        return [t for t in names if self.targets is None or t in self.targets]


@dataclass
class SourceRead:
    secrets: dict[str, list[SourceSecret]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    versions: dict[str, str | None] = field(default_factory=dict)


def read_sources(
    source: Source, syncs: Iterable[Sync], retry: RetryPolicy, settings: Settings = DEFAULT_SETTINGS
) -> SourceRead:
    """Every path each sync needs, each read once; a sync with any unreadable path gets nothing."""
    out = SourceRead()
    paths_by_sync: dict[str, list[str]] = {}
    for sync in syncs:
        try:
            if sync.spec.is_prefix:
                paths, _ = retry.call(lambda s=sync: source.list(s.spec.from_))
                if not paths:
                    raise SourceError(f"no secret below prefix {sync.spec.from_!r}")
            else:
                paths = [sync.spec.from_]
            paths_by_sync[sync.name] = paths
        except Exception as exc:
            # An unexpected error (a source document that breaks its parser) fails this sync, never the run.
            out.problems.append(Problem(f"source: {describe_error(exc)}", sync=sync.name))
    unique = sorted({p for paths in paths_by_sync.values() for p in paths})
    results: dict[str, SourceSecret | SyncdError] = {}
    size = settings.source_chunk
    chunks = [unique[i : i + size] for i in range(0, len(unique), size)]

    def read_chunk(chunk: list[str]) -> dict[str, SourceSecret | SyncdError]:
        found: dict[str, SourceSecret | SyncdError] = {}

        def attempt() -> None:
            # Paths answered with a transient error are read again, alone, on the next attempt.
            pending = [p for p in chunk if p not in found]
            answer = source.read_many(pending)
            transient = [r for p in pending if isinstance(r := answer.get(p), TransientError)]
            found.update(
                (p, r) for p in pending if (r := answer.get(p)) is not None and not isinstance(r, TransientError)
            )
            if transient:
                raise transient[0]

        try:
            retry.call(attempt)
        except SyncdError as exc:
            for path in chunk:
                found.setdefault(path, exc)
        except Exception as exc:
            # An unexpected error (a malformed secret that breaks a parser, say) may come from one path of the
            # batch: read each half again, down to single paths, so it fails only its own path.
            pending = [p for p in chunk if p not in found]
            if len(pending) > 1:
                middle = len(pending) // 2
                found.update(read_chunk(pending[:middle]))
                found.update(read_chunk(pending[middle:]))
            else:
                for path in pending:
                    found[path] = SourceError(f"secret {path!r}: {describe_error(exc)}")
        return found

    workers = max(1, min(settings.source_readers, source.capabilities.max_concurrency, len(chunks)))
    if workers == 1:
        for chunk in chunks:
            results.update(read_chunk(chunk))
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="syncd-source") as pool:
            for found in pool.map(in_callers_context(read_chunk), chunks):
                results.update(found)
    for sync_name, paths in paths_by_sync.items():
        errors = [(p, r) for p in paths if isinstance(r := results.get(p), SyncdError) or r is None]
        if errors:
            path, error = errors[0]
            message = str(error) if error is not None else f"no answer for {path!r}"
            out.problems.append(Problem(f"source: {message}", sync=sync_name))
            continue
        secrets = [r for p in paths if isinstance(r := results[p], SourceSecret)]
        if any(not s.data for s in secrets):
            empty = next(s.path for s in secrets if not s.data)
            out.problems.append(Problem(f"source: secret {empty!r} is empty", sync=sync_name))
            continue
        out.secrets[sync_name] = secrets
        for secret in secrets:
            out.versions[secret.path] = secret.version
    return out


def describe_error(exc: BaseException) -> str:
    """One line for a report. Errors we raise name no value; anything else is named by type only,
    since an SDK's message may quote what it was sent."""
    if isinstance(exc, SyncdError):
        return str(exc)
    log.debug("unexpected error", error_type=type(exc).__name__, exc_info=exc)
    return f"unexpected {type(exc).__name__} (run with --log-level debug for the traceback)"


def _guard(changes: list[Change], owned: Mapping[str, ActualItem], manifest: Manifest) -> str | None:
    """The delete guard's refusal, if any. Only items holding syncd's data count, on both sides of the share: a
    leftover marker (no data) or an item already scheduled for deletion would make a mass delete look small."""
    guard = manifest.spec.defaults.delete_guard
    owned_count = sum(1 for item in owned.values() if _holds_data(item))
    deletes = sum(1 for c in changes if c.action is Action.DELETE and (c.actual is None or _holds_data(c.actual)))
    if not deletes:
        return None
    share = 100.0 * deletes / owned_count if owned_count else 100.0
    if deletes > guard.max_count and share > guard.max_percent:
        return (
            f"the plan deletes {deletes} of {owned_count} owned items ({share:.0f}%), more than the delete guard "
            f"allows ({guard.max_count} items and {guard.max_percent:g}%); nothing is applied to this target "
            "unless --allow-mass-delete is given"
        )
    return None


def _holds_data(item: ActualItem) -> bool:
    return not (item.marker_only or item.pending_deletion)


def target_scope(manifest: Manifest, target: str, sink: Sink) -> Scope:
    """What the manifest maps into `target`: the address patterns of every sync's destinations there (all
    syncs, selected or not, so a selection never narrows what the target's owned items are compared with)."""
    patterns = tuple(target_patterns(manifest, target, sink))
    return Scope(manifest.instance, patterns, manifest.spec.concurrency(target))


def _plan_target(
    manifest: Manifest,
    target: str,
    sink: Sink,
    expansion: Expansion,
    prune: PruneScope,
    retry: RetryPolicy,
    allow_mass_delete: bool,
) -> tuple[list[Change], list[Problem], bool]:
    problems: list[Problem] = []
    held = set(expansion.held.get(target, ()))
    items = []
    try:
        for item in expansion.items.get(target, []):
            found = sink.check(item)
            if found:
                problems.extend(Problem(p, target=target, address=item.address, sync=item.sync) for p in found)
                held.add(item.address)
            else:
                items.append(item)
        scope = target_scope(manifest, target, sink)
        observed, _ = retry.call(lambda: sink.observe(items, scope))
    except Exception as exc:
        # Nothing is known of this target: no change is planned for it, so nothing is deleted.
        return [], [*problems, Problem(describe_error(exc), target=target)], False
    owned = {address: item for address, item in observed.owned.items() if scope.covers(address)}
    changes = diff_target(manifest.instance, target, items, observed.items, owned, prune, held)
    refusal = _guard(changes, owned, manifest)
    if refusal and not allow_mass_delete:
        return changes, [*problems, Problem(refusal, target=target)], True
    return changes, problems, False


def make_plan(
    manifest: Manifest,
    source: Source,
    sinks: Mapping[str, Sink],
    selection: Selection = Selection(),
    *,
    retry: RetryPolicy | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    allow_mass_delete: bool = False,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> Plan:
    """Read everything the selection needs and compute the plan. Calls only read methods."""
    # A plan keeps nearly every object it makes until it ends: see syncd/collector.py.
    with young_threshold_raised():
        retry = retry or settings.retry
        selection.check(manifest)
        syncs = selection.pick_syncs(manifest)
        targets = [t for t in selection.pick_targets(manifest) if t in sinks]
        with unselected_targets(manifest, targets) as others:
            refuse_overlaps(source, syncs, {t: sinks[t] for t in targets}, others)
        read = read_sources(source, syncs, retry, settings)
        log.debug("source read", syncs=len(syncs), paths=len(read.versions), problems=len(read.problems))
        expansion = expand(manifest.instance, syncs, read.secrets, {t: sinks[t] for t in targets})
        scope = PruneScope(
            policies={s.name: Policy(s.on_conflict, s.prune) for s in syncs},
            known_syncs={s.name for s in manifest.syncs},
            failed_syncs=expansion.failed_syncs,
            prune_orphans=manifest.spec.defaults.prune and selection.syncs is None,
        )
        changes: list[Change] = []
        problems = [*read.problems, *expansion.problems]
        refused: list[str] = []
        with ThreadPoolExecutor(max_workers=settings.target_readers, thread_name_prefix="syncd-plan") as pool:
            futures = {
                t: pool.submit(
                    in_callers_context(_plan_target), manifest, t, sinks[t], expansion, scope, retry, allow_mass_delete
                )
                for t in targets
            }
            for target, future in futures.items():
                target_changes, target_problems, was_refused = future.result()
                changes.extend(target_changes)
                problems.extend(target_problems)
                if was_refused:
                    refused.append(target)
                log.debug("target read", target=target, changes=len(target_changes), problems=len(target_problems))
        return Plan(
            instance=manifest.instance,
            manifest_digest=manifest.digest,
            created_at=now().isoformat(timespec="seconds"),
            targets=tuple(targets),
            syncs=tuple(s.name for s in syncs),
            changes=tuple(changes),
            problems=tuple(problems),
            source_versions=dict(sorted(read.versions.items())),
            refused_targets=tuple(refused),
            sync_filter=tuple(sorted(selection.syncs)) if selection.syncs is not None else None,
            target_filter=tuple(sorted(selection.targets)) if selection.targets is not None else None,
        )
