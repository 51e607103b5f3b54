"""The `vault` sink: one KV path per item, the item's keys its data.

Items live below the target's `prefix`; `list_owned` walks only that folder.

KV v2: the ownership marker is two custom_metadata keys. A write first
checks the path's metadata against the version the plan saw, stamps the
marker (keeping other custom_metadata keys), then writes the data with
check-and-set on that version, so an edit made since the plan is never
lost: it fails the change, asking for a new plan. Stamping before writing
means an interrupted create converges on the next run instead of leaving
data without a marker; a retry that finds only that marker changed since
the plan (same version) finishes the write. A delete soft-deletes the
version the plan saw (restorable with `undelete`) and takes the marker off,
or with `destroy_on_delete` removes the metadata and every version.

A path whose latest version is deleted or destroyed but whose metadata
still carries a marker (someone ran `vault kv delete` on it) reads as
pending deletion with that owner: the core then restores it if it is this
instance's and leaves it as a conflict otherwise. Without a marker (syncd's
own delete takes it off) it reads as absent, and a create writes the next
version. Whatever the plan says, a write never lands on a path whose marker
names another instance.

KV v1 has no metadata: the marker is a reserved key in the data, removed
on read, and there is no check-and-set, only a read of the owner just
before each write or delete.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from connectors._vault_client import MAX_IN_FLIGHT, Clock, VaultClient
from connectors._vault_kv import CasMismatch, Entry, KvV1, KvV2, Metadata, parallel, text, walk
from connectors._vault_options import VaultSinkOptions
from connectors._vault_policy import sink_policy
from syncd.connector import MARKER_INSTANCE, MARKER_SYNC, Sink
from syncd.errors import PermanentError
from syncd.model import ActualItem, DesiredItem, Granularity, Ownership
from syncd.secret import Secret

# KV v1 only: the data key that holds "instance/sync".
OWNER_KEY = "syncd.io/owner"
MAX_PATH_LENGTH = 512
_SEGMENT = re.compile(r"[A-Za-z0-9_.@+=,:~-]+")


def path_problems(address: str) -> list[str]:
    """syncd's rules for a KV path: one sentence per problem, naming the path (never a value)."""
    shown = address if len(address) <= 80 else address[:77] + "..."
    if not address:
        return ["The Vault path is empty."]
    problems = []
    if len(address) > MAX_PATH_LENGTH:
        problems.append(f"The Vault path {shown!r} is {len(address)} characters long; at most {MAX_PATH_LENGTH}.")
    segments = address.split("/")
    if "" in segments:
        problems.append(f"The Vault path {shown!r} has an empty segment (a leading, trailing or double '/').")
    if "." in segments or ".." in segments:
        problems.append(f"The Vault path {shown!r} has a '.' or '..' segment, which would change the path Vault sees.")
    if not all(_SEGMENT.fullmatch(s) for s in segments if s):
        problems.append(f"The Vault path {shown!r} has characters other than letters, digits, '/' and _.@+=,:~-.")
    return problems


class VaultSink(Sink):
    """Writes each item to one KV path; see the module docstring for markers, check-and-set and deletes."""

    Options = VaultSinkOptions
    granularities = (Granularity.DOCUMENT,)
    max_concurrency = MAX_IN_FLIGHT

    def __init__(
        self, target: str, options: VaultSinkOptions, client: Any = None, *, clock: Clock = time.monotonic
    ) -> None:
        super().__init__(target, options, client)
        self.options: VaultSinkOptions = options
        self._vault = VaultClient(options, client, target=target, clock=clock)
        self._kv: KvV1 | KvV2 | None = None
        # KV v2 items the last `read` found: `list_owned` right after it uses them instead of reading their
        # metadata again. Used once; every write and delete drops it.
        self._lock = threading.Lock()
        self._just_read: dict[str, ActualItem] | None = None

    def address(self, destination: BaseModel, name: str) -> str:
        return f"{self.options.prefix}/{name}" if self.options.prefix else name

    def vault_policy(self, patterns: Sequence[str]) -> str:
        return sink_policy(self.options, patterns)

    def check(self, item: DesiredItem) -> list[str]:
        problems = path_problems(item.address)
        if any(not key for key in item.data):
            problems.append(f"Item {item.address!r} has an empty key.")
        if OWNER_KEY in item.data:
            problems.append(f"Item {item.address!r} has the key {OWNER_KEY!r}, which syncd keeps for its marker.")
        return problems

    def read(self, addresses: Sequence[str]) -> dict[str, ActualItem]:
        kv = self._store()
        found = parallel(lambda address: self._read_one(kv, address), list(addresses))
        items = {item.address: item for item in found if item is not None}
        with self._lock:
            self._just_read = dict(items) if isinstance(kv, KvV2) else None
        return items

    def list_owned(self, instance: str) -> dict[str, ActualItem]:
        kv = self._store()
        with self._lock:
            just_read, self._just_read = self._just_read or {}, None
        paths = walk(kv, self.options.prefix)
        if isinstance(kv, KvV1):
            items = [_v1_item(path, entry) for path, entry in zip(paths, parallel(kv.read, paths), strict=True)]
        else:
            unknown = [path for path in paths if path not in just_read]
            metas = dict(zip(unknown, parallel(kv.metadata, unknown), strict=True))
            items = [just_read[path] if path in just_read else _v2_listed(path, metas[path]) for path in paths]
        # Pending items (latest version deleted) are not owned-live: the diff neither prunes nor counts them.
        return {
            i.address: i
            for i in items
            if i is not None and not i.pending_deletion and i.owner is not None and i.owner.instance == instance
        }

    def _forget_read(self) -> None:
        with self._lock:
            self._just_read = None

    def write(self, item: DesiredItem, actual: ActualItem | None) -> None:
        problems = self.check(item)
        if problems:
            raise PermanentError(" ".join(problems), target=self.target, address=item.address)
        self._forget_read()
        kv = self._store()
        data = {key: value.reveal() for key, value in item.data.items()}
        if isinstance(kv, KvV1):
            self._write_v1(kv, item, actual, data)
        else:
            self._write_v2(kv, item, actual, data)

    def delete(self, actual: ActualItem) -> None:
        self._forget_read()
        kv = self._store()
        if isinstance(kv, KvV1):
            entry = kv.read(actual.address)
            if entry is None:
                return
            self._still_owned(actual, _v1_owner(entry.data or {}))
            kv.delete(actual.address)
            return
        meta = kv.metadata(actual.address)
        if meta is None:
            return
        owner = _owner(meta.custom_metadata)
        if not meta.live:
            # Soft-deleted since the plan; with destroy_on_delete it still goes, if it is still ours.
            if self.options.destroy_on_delete and owner == actual.owner:
                kv.destroy(actual.address)
            return
        self._still_owned(actual, owner)
        self._unmoved(actual, meta.current_version)
        if self.options.destroy_on_delete:
            kv.destroy(actual.address)
            return
        kv.delete_version(actual.address, meta.current_version)
        # The marker goes too: whoever writes the path next creates an unowned secret, not one of ours.
        kv.set_custom_metadata(actual.address, _without_marker(meta.custom_metadata), exists=True)

    def describe(self) -> str:
        return f"vault {self.options.address} {self.options.mount}/{self.options.prefix}"

    def location(self) -> tuple[str, ...]:
        return self.options.location(self.options.prefix)

    def close(self) -> None:
        self._vault.close()

    def _store(self) -> KvV1 | KvV2:
        if self._kv is None:
            version = self._vault.kv_version()
            self._kv = KvV2(self._vault, name_items=True) if version == 2 else KvV1(self._vault, name_items=True)
        return self._kv

    def _read_one(self, kv: KvV1 | KvV2, address: str) -> ActualItem | None:
        if isinstance(kv, KvV1):
            entry = kv.read(address)
            return None if entry is None else _v1_item(address, entry, with_data=True)
        entry = kv.read(address)
        if entry is None:
            return None
        owner = _owner(entry.custom_metadata)
        version = str(entry.version) if entry.version is not None else None
        if entry.state != "live" or entry.data is None:
            # Vault answers a deleted latest version with its metadata, marker included: no further request.
            if owner is None:
                return None
            return ActualItem(address=address, owner=owner, version=version, pending_deletion=True)
        return ActualItem(address=address, owner=owner, data=_secrets(entry.data), version=version)

    def _write_v2(self, kv: KvV2, item: DesiredItem, actual: ActualItem | None, data: dict[str, str]) -> None:
        meta = kv.metadata(item.address)
        current = meta.current_version if meta else 0
        marker = _owner(meta.custom_metadata) if meta else None
        self._not_anothers(item, marker)
        # A live path must be as the plan saw it, or differ only by the marker a failed try of this write
        # stamped. A deleted one (restored, or written again) is guarded by the marker check and check-and-set.
        if meta is not None and meta.live and not _as_planned(actual, meta) and not _stamped_by(item, actual, meta):
            # Moved since the plan. Only a retry of this very write (its answer lost) may go on.
            if marker == item.owner and self._holds(kv, item.address, current, data):
                return
            if marker == item.owner:
                # A failed try of this write stamped the marker: someone else's version must not keep it.
                self._take_back(kv, item.address, meta.custom_metadata, actual)
            raise self._moved(item, actual, current)
        before = dict(meta.custom_metadata) if meta else {}
        stamped = _with_owner(before, item.owner)
        if stamped != before:
            kv.set_custom_metadata(item.address, stamped, exists=meta is not None)
        try:
            kv.write(item.address, data, cas=current)
        except CasMismatch:
            self._take_back(kv, item.address, stamped, actual)
            raise self._moved(item, actual, None) from None

    def _take_back(self, kv: KvV2, address: str, custom: Mapping[str, str], actual: ActualItem | None) -> None:
        """Put back the marker the plan saw (none for a create or an adopt) where this write stamped its own."""
        planned = _with_owner(custom, actual.owner if actual is not None else None)
        if planned != dict(custom):
            kv.set_custom_metadata(address, planned, exists=True)

    def _write_v1(self, kv: KvV1, item: DesiredItem, actual: ActualItem | None, data: dict[str, str]) -> None:
        entry = kv.read(item.address)
        if entry is not None:
            owner = _v1_owner(entry.data or {})
            self._not_anothers(item, owner)
            # The owner the plan saw, or this item's own (a retry of this write, whose answer was lost).
            if owner != item.owner and (actual is None or owner != actual.owner):
                raise self._moved(item, actual, None)
        kv.write(item.address, {**data, OWNER_KEY: f"{item.owner.instance}/{item.owner.sync}"})

    def _holds(self, kv: KvV2, address: str, version: int, data: Mapping[str, str]) -> bool:
        entry = kv.read(address, version)
        return entry is not None and entry.data is not None and _plain(entry.data) == dict(data)

    def _moved(self, item: DesiredItem, actual: ActualItem | None, now: int | None) -> PermanentError:
        then = f"version {actual.version}" if actual is not None and actual.version else "absent"
        seen = f" ({then} then, version {now} now)" if now is not None else ""
        return PermanentError(
            f"changed in Vault since the plan{seen}; nothing was written, run plan again",
            target=self.target,
            address=item.address,
        )

    def _not_anothers(self, item: DesiredItem, marker: Ownership | None) -> None:
        """Refuse a path another instance owns, whatever the plan says (the diff never plans such a write)."""
        if marker is not None and marker.instance != item.owner.instance:
            raise PermanentError(
                f"carries the ownership marker of syncd instance {marker.instance!r}; nothing was written",
                target=self.target,
                address=item.address,
            )

    def _still_owned(self, actual: ActualItem, owner: Ownership | None) -> None:
        if owner != actual.owner:
            raise PermanentError(
                "no longer carries the ownership marker the plan saw; left alone",
                target=self.target,
                address=actual.address,
            )

    def _unmoved(self, actual: ActualItem, current: int) -> None:
        if actual.version is not None and actual.version != str(current):
            raise PermanentError(
                f"changed in Vault since the plan (version {actual.version} then, version {current} now); "
                f"not deleted, run plan again",
                target=self.target,
                address=actual.address,
            )


def _as_planned(actual: ActualItem | None, meta: Metadata) -> bool:
    """Whether a live path still has the version and owner the plan saw."""
    return (
        actual is not None
        and actual.version == str(meta.current_version)
        and actual.owner == _owner(meta.custom_metadata)
    )


def _stamped_by(item: DesiredItem, actual: ActualItem | None, meta: Metadata) -> bool:
    """Whether a live path differs from the plan only by carrying `item`'s marker, at the planned version.

    That is a retry of an adopting or owner-moving write whose marker was stamped but whose data write failed:
    the data is still the version the plan saw, so check-and-set on it finishes the write safely.
    """
    return (
        actual is not None
        and actual.version == str(meta.current_version)
        and _owner(meta.custom_metadata) == item.owner
    )


def _owner(custom: Mapping[str, str]) -> Ownership | None:
    instance, sync = custom.get(MARKER_INSTANCE), custom.get(MARKER_SYNC)
    return Ownership(instance, sync) if instance and sync else None


def _without_marker(custom: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in custom.items() if key not in (MARKER_INSTANCE, MARKER_SYNC)}


def _with_owner(custom: Mapping[str, str], owner: Ownership | None) -> dict[str, str]:
    """`custom` with `owner`'s marker in place of any marker it has; without one when `owner` is None."""
    marker = {MARKER_INSTANCE: owner.instance, MARKER_SYNC: owner.sync} if owner is not None else {}
    return {**_without_marker(custom), **marker}


def _v1_owner(data: Mapping[str, Any]) -> Ownership | None:
    instance, slash, sync = str(data.get(OWNER_KEY, "")).partition("/")
    return Ownership(instance, sync) if instance and slash and sync else None


def _v1_item(address: str, entry: Entry | None, *, with_data: bool = False) -> ActualItem | None:
    if entry is None:
        return None
    data = dict(entry.data or {})
    owner = _v1_owner(data)
    data.pop(OWNER_KEY, None)
    return ActualItem(address=address, owner=owner, data=_secrets(data) if with_data else None)


def _v2_listed(address: str, meta: Metadata | None) -> ActualItem | None:
    if meta is None or not meta.live:
        return None
    return ActualItem(address=address, owner=_owner(meta.custom_metadata), version=str(meta.current_version))


def _plain(data: Mapping[str, Any]) -> dict[str, str]:
    return {key: _as_text(value) for key, value in data.items()}


def _as_text(value: Any) -> str:
    # A number, list or object another writer stored reads as its JSON text, which differs from any string we write.
    found = text(value)
    return found if found is not None else json.dumps(value, sort_keys=True)


def _secrets(data: Mapping[str, Any]) -> dict[str, Secret]:
    return {key: Secret(value) for key, value in _plain(data).items()}
