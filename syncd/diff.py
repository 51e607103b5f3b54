"""The diff: desired × actual × policies → changes. Pure: no I/O, no clock.

Ownership is decided here, once, for every sink alike:
- an item owned by another instance is a conflict and is never touched;
- an item without a marker is a conflict unless the sync says `on_conflict: adopt`;
- only items carrying this instance's marker are deleted, and only when the
  sync that owns them prunes and read its source successfully;
- a leftover marker of this instance on a path that holds no data of syncd's
  (`ActualItem.marker_only`) is taken off once its path is no longer mapped
  and its sync read its source, whether or not the sync prunes: that delete
  removes no data;
- a change to a field the item cannot change in place (`ActualItem.fixed`:
  an immutable Kubernetes Secret's data, a Secret's type) is a recreate
  (delete and create, by the sink) only when the `to` entry says
  `recreate: true`, and a conflict otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from syncd.model import Action, ActualItem, Change, ConflictPolicy, DesiredItem, Difference, Granularity


@dataclass(frozen=True)
class Policy:
    on_conflict: ConflictPolicy = ConflictPolicy.FAIL
    prune: bool = False


@dataclass(frozen=True)
class PruneScope:
    """Which owned-but-unmapped items may be deleted.

    `policies` holds the selected syncs; `known_syncs` every sync of the
    manifest; `failed_syncs` those whose source could not be read;
    `prune_orphans` lets items of syncs no longer in the manifest go.
    """

    policies: Mapping[str, Policy]
    known_syncs: Collection[str] = ()
    failed_syncs: Collection[str] = ()
    prune_orphans: bool = False


def difference(desired: DesiredItem, actual: ActualItem | None) -> Difference:
    """Which fields of `actual` differ from `desired`, as data (see `Difference`); against None (a create),
    every field the item sets."""
    if actual is None:
        return Difference(
            value=True,
            tags=tuple(sorted(desired.tags)),
            description=desired.description is not None,
            flags=tuple(sorted(desired.flags)),
        )
    value, added, changed, removed = False, (), (), ()
    if actual.data is None:
        value = True
    elif desired.granularity is Granularity.PER_KEY:
        # A per-key sink names its item by address, not by the source key: compare the one value.
        value = list(actual.data.values()) != [desired.single_value()]
    elif actual.data != desired.data:
        value = True
        added = tuple(sorted(set(desired.data) - set(actual.data)))
        removed = tuple(sorted(set(actual.data) - set(desired.data)))
        changed = tuple(sorted(k for k in set(desired.data) & set(actual.data) if desired.data[k] != actual.data[k]))
        if len(desired.data) == 1 and len(actual.data) == 1 and not added and not removed:
            changed = ()
    return Difference(
        value=value,
        added_keys=added,
        changed_keys=changed,
        removed_keys=removed,
        tags=tuple(sorted(k for k, v in desired.tags.items() if actual.tags.get(k) != v)),
        description=desired.description is not None and desired.description != (actual.description or ""),
        flags=tuple(sorted(k for k, v in desired.flags.items() if actual.flags.get(k) != v)),
    )


def compare(desired: DesiredItem, actual: ActualItem) -> tuple[str, ...]:
    """Why `actual` differs from `desired`, as display reasons; empty when equal."""
    return difference(desired, actual).reasons()


def diff_item(instance: str, desired: DesiredItem, actual: ActualItem | None, policy: Policy) -> Change:
    def change(action: Action, found: Difference | None = None, *reasons: str) -> Change:
        if found is not None and action is Action.UPDATE:
            reasons = found.reasons()
        return Change(desired.target, desired.address, action, desired.sync, reasons, desired, actual, found)

    if actual is None:
        return change(Action.CREATE, difference(desired, None))
    owner = actual.owner
    if actual.pending_deletion:
        # Only this instance's own deleted item comes back; anyone else's stays as its owner left it.
        if owner is not None and owner.instance == instance:
            return change(
                Action.CREATE, replace(difference(desired, None), restore=True), "restore from scheduled deletion"
            )
        whose = f"syncd instance {owner.instance!r}" if owner else "nobody syncd knows"
        return change(Action.CONFLICT, None, f"scheduled for deletion by its owner ({whose})")
    if owner is None:
        if policy.on_conflict is ConflictPolicy.ADOPT:
            return _in_place_or_recreate(change, desired, actual, replace(difference(desired, actual), adopt=True))
        return change(Action.CONFLICT, None, "exists without syncd's marker (set on_conflict: adopt to take it over)")
    if owner.instance != instance:
        return change(Action.CONFLICT, None, f"owned by syncd instance {owner.instance!r}")
    found = difference(desired, actual)
    if owner.sync != desired.sync:
        found = replace(found, owner_was=owner.sync)
    return _in_place_or_recreate(change, desired, actual, found) if found else change(Action.NOOP)


def _in_place_or_recreate(
    change: Callable[..., Change], desired: DesiredItem, actual: ActualItem, found: Difference
) -> Change:
    """An update, or when it touches a field `actual` cannot change in place, a recreate (allowed by the `to`
    entry) or a conflict naming the field and why."""
    blocked = [(name, actual.fixed[name]) for name in found.fields() if name in actual.fixed]
    if not blocked:
        return change(Action.UPDATE, found)
    because = "; ".join(dict.fromkeys(why for _, why in blocked))
    if desired.recreate:
        return change(Action.UPDATE, replace(found, recreate=True, recreate_because=because))
    names = ", ".join(name for name, _ in blocked)
    return change(
        Action.CONFLICT,
        None,
        f"{names} cannot change in place ({because}); set recreate: true on the `to` entry to delete and create it",
    )


def _may_prune(item: ActualItem, scope: PruneScope) -> bool:
    assert item.owner is not None
    sync = item.owner.sync
    if sync in scope.failed_syncs:
        return False
    if sync in scope.policies:
        return scope.policies[sync].prune
    return scope.prune_orphans and sync not in scope.known_syncs


def _may_unmark(item: ActualItem, scope: PruneScope) -> bool:
    """A leftover marker goes without `prune` (no data is deleted), but only when the run knows every item its
    sync wants: a sync that read its source, or one no longer in the manifest when orphans are pruned."""
    assert item.owner is not None
    sync = item.owner.sync
    if sync in scope.failed_syncs:
        return False
    return sync in scope.policies or (scope.prune_orphans and sync not in scope.known_syncs)


MARKER_ONLY_REASON = "leftover marker, no live data of syncd's: only the marker is taken off"


def diff_target(
    instance: str,
    target: str,
    desired: Sequence[DesiredItem],
    actual: Mapping[str, ActualItem],
    owned: Mapping[str, ActualItem],
    scope: PruneScope,
    held: Collection[str] = (),
) -> list[Change]:
    """Every change for one target, in address order.

    `actual` holds what the sink has at the desired addresses; `owned` every
    item carrying this instance's marker; `held` addresses left alone this
    run (invalid or ambiguous items).
    """
    changes: list[Change] = []
    wanted = {item.address for item in desired}
    for item in desired:
        if item.address in held:
            continue
        policy = scope.policies.get(item.sync, Policy())
        changes.append(diff_item(instance, item, actual.get(item.address), policy))
    for address, item in owned.items():
        if address in wanted or address in held or item.owner is None or item.owner.instance != instance:
            continue
        if item.pending_deletion:
            continue
        if not (_may_unmark(item, scope) if item.marker_only else _may_prune(item, scope)):
            continue
        reason = MARKER_ONLY_REASON if item.marker_only else "no longer mapped"
        changes.append(Change(target, address, Action.DELETE, item.owner.sync, (reason,), None, item))
    changes.sort(key=lambda c: c.address)
    return changes
