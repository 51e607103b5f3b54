"""Expansion: a sync plus what its source paths hold becomes desired items, per target.

Pure: sources have been read before; sinks are asked only for their
address and flag conventions, which make no call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from syncd.connector import Sink
from syncd.manifest import Destination, Sync
from syncd.model import DesiredItem, Granularity, Ownership, Problem, SourceSecret
from syncd.secret import Secret, is_text
from syncd.template import TemplateError


@dataclass
class Expansion:
    """Desired items by target, problems, and the addresses that must be left alone this run."""

    items: dict[str, list[DesiredItem]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # target → addresses whose item is invalid or ambiguous: never created, updated or pruned this run.
    held: dict[str, set[str]] = field(default_factory=dict)
    # Syncs that produced nothing trustworthy: their owned items must not be pruned.
    failed_syncs: set[str] = field(default_factory=set)


def relative_path(sync: Sync, path: str) -> str:
    """`path` below the sync's prefix (a source may list paths with or without the leading '/')."""
    if sync.spec.is_prefix:
        for prefix in (sync.spec.from_, sync.spec.from_.lstrip("/")):
            if path.startswith(prefix):
                return path[len(prefix) :]
    return path.rsplit("/", 1)[-1]


def select_keys(sync: Sync, secret: SourceSecret) -> dict[str, Secret]:
    """The secret's keys as the sync selects and renames them; raises KeyError naming a missing key."""
    key_map = sync.spec.key_map()
    if key_map is None:
        return dict(secret.data)
    missing = [k for k in key_map if k not in secret.data]
    if missing:
        raise KeyError(missing[0])
    return {new: secret.data[old] for old, new in key_map.items()}


def expand(
    instance: str,
    syncs: Sequence[Sync],
    secrets: Mapping[str, Sequence[SourceSecret]],
    sinks: Mapping[str, Sink],
) -> Expansion:
    """Desired items for every sync whose secrets were read, onto every selected target in `sinks`."""
    out = Expansion()
    producers: dict[tuple[str, str], str] = {}
    for sync in syncs:
        if sync.name not in secrets:
            out.failed_syncs.add(sync.name)
            continue
        sync_items: list[DesiredItem] = []
        # (source path, selected key) → source key, for each name or value that is not valid Unicode text.
        untext: dict[tuple[str, str], str] = {}
        try:
            for secret in secrets[sync.name]:
                try:
                    data = select_keys(sync, secret)
                except KeyError as exc:
                    raise _SyncFailed(f"key {exc.args[0]!r} is not in source secret {secret.path!r}") from None
                untext.update(_not_text(sync, secret, data))
                for dest in sync.destinations:
                    sink = sinks.get(dest.spec.target)
                    if sink is not None:
                        sync_items.extend(_items(instance, sync, dest, sink, secret, data))
        except _SyncFailed as exc:
            out.problems.append(Problem(str(exc), sync=sync.name))
            out.failed_syncs.add(sync.name)
            continue
        for item in sync_items:
            key = (item.target, item.address)
            unwritable = [(path, k) for path in item.source_paths for k in item.data if (path, k) in untext]
            if unwritable:
                # No sink can hold such a value unchanged: written, it would be rewritten on every run.
                out.problems.extend(
                    Problem(
                        f"sync {sync.name!r}: key {untext[path, k]!r} of source secret {path!r} is not valid "
                        "Unicode text (its value or name holds a lone surrogate), so no sink can hold it unchanged; "
                        "the item is left as it is until the source is fixed",
                        sync=sync.name,
                        target=item.target,
                        address=item.address,
                    )
                    for path, k in unwritable
                )
                out.held.setdefault(item.target, set()).add(item.address)
                continue
            try:
                item = _shaped(item, sinks[item.target])
            except ValueError as exc:
                out.problems.append(Problem(str(exc), sync=sync.name, target=item.target, address=item.address))
                out.held.setdefault(item.target, set()).add(item.address)
                continue
            except Exception as exc:
                # A plugin's bug holds its one item, never the plan; its text may quote the data, so only its type.
                message = f"the sink could not lay out the item's data (unexpected {type(exc).__name__})"
                out.problems.append(Problem(message, sync=sync.name, target=item.target, address=item.address))
                out.held.setdefault(item.target, set()).add(item.address)
                continue
            if key in producers:
                other = producers[key]
                who = f"syncs {other!r} and {sync.name!r}" if other != sync.name else f"sync {sync.name!r} twice"
                out.problems.append(
                    Problem(
                        f"{who} both map to this item; neither is applied", target=item.target, address=item.address
                    )
                )
                out.held.setdefault(item.target, set()).add(item.address)
                continue
            producers[key] = sync.name
            out.items.setdefault(item.target, []).append(item)
    for target, held in out.held.items():
        out.items[target] = [i for i in out.items.get(target, []) if i.address not in held]
    return out


def _not_text(sync: Sync, secret: SourceSecret, data: Mapping[str, Secret]) -> dict[tuple[str, str], str]:
    """(path, selected key) → source key, for each selected key whose name or value is not valid Unicode text."""
    source_key = {new: old for old, new in (sync.spec.key_map() or {}).items()}
    return {
        (secret.path, key): source_key.get(key, key)
        for key, value in data.items()
        if not is_text(key) or not is_text(value.reveal())
    }


def _shaped(item: DesiredItem, sink: Sink) -> DesiredItem:
    """The item with its data as the sink stores it (`Sink.shape`); raises ValueError naming no value."""
    shaped = sink.shape(item.destination, item.data)
    return item if shaped is item.data else replace(item, data=dict(shaped))


class _SyncFailed(Exception):
    pass


def _items(
    instance: str, sync: Sync, dest: Destination, sink: Sink, secret: SourceSecret, data: dict[str, Secret]
) -> list[DesiredItem]:
    variables = {
        "sync": sync.name,
        "target": dest.spec.target,
        "path": secret.path,
        "name": secret.path.rstrip("/").rsplit("/", 1)[-1],
        "relpath": relative_path(sync, secret.path),
    }
    if dest.granularity is Granularity.DOCUMENT:
        parts = [(_render(dest, variables), data)]
    else:
        parts = [(_render(dest, {**variables, "key": key}), {key: value}) for key, value in data.items()]
    owner = Ownership(instance, sync.name)
    flags = dict(sink.flags(dest.options))
    defaults = sink.item_defaults()
    return [
        DesiredItem(
            target=dest.spec.target,
            address=sink.address(dest.options, name),
            owner=owner,
            data=item_data,
            granularity=dest.granularity,
            source_paths=(secret.path,),
            tags={**defaults.tags, **dest.spec.tags},
            description=dest.spec.description if dest.spec.description is not None else defaults.description,
            flags=flags,
            destination=dest.options,
            recreate=dest.spec.recreate,
            source_version=_origin(sync, secret, item_data),
        )
        for name, item_data in parts
    ]


def _origin(sync: Sync, secret: SourceSecret, data: Mapping[str, Secret]) -> str | None:
    """Where and at which version an item's data was read: the source path, the source keys it takes (before any
    renaming) and the version; None when the source reports no version. Names only, never a value."""
    if secret.version is None:
        return None
    source_key = {new: old for old, new in (sync.spec.key_map() or {}).items()}
    keys = ",".join(sorted(source_key.get(key, key) for key in data))
    return f"{secret.path}\n{keys}\n{secret.version}"


def _render(dest: Destination, variables: dict[str, str]) -> str:
    try:
        name = dest.template.render(variables)
    except TemplateError as exc:
        raise _SyncFailed(exc.message) from None
    if not name:
        raise _SyncFailed(f"the name template {dest.template.text!r} gives an empty name")
    return name
