"""The `vault` sink: one KV path per item, the item's keys its data.

Items live below the target's `prefix`; `list_owned` walks only that folder.

KV v2: the ownership marker is three custom_metadata keys: instance, sync
and the KV version syncd wrote. A marker owns only the version it names:
once anyone writes a newer version, the path is no longer syncd's (a hand
edit is a conflict, never overwritten or pruned). Every marker change is a
metadata write with check-and-set on the metadata version (OpenBao's
`metadata_cas`), so it never overwrites a marker or a custom_metadata key
someone changed since syncd read them; data writes use check-and-set on
the data version. The order of calls keeps every state in between safe:

* create (absent, soft-deleted or only a claim): read the metadata; claim
  the path (marker naming the current version, which holds no live data);
  write with cas on that version; confirm (marker naming the version
  written). A claim owns no data: a version someone else writes after it
  is theirs. A data write that fails after the claim takes the claim off
  again (unless a version of ours landed: the retry confirms it).
* update and adopt: read the metadata; write with cas on the planned
  version; confirm.
* prune: read the metadata; soft-delete the marked version (exactly that
  version); take the marker off. A path whose marked version is already
  deleted still has its marker taken off: the retry, or the next run (it
  lists such a path as owned), finishes the prune.
* leftover markers: a marker of this instance that vouches for no live
  data of syncd's (it names a deleted or destroyed version, a claim, or a
  version older than the current one) is listed as `marker_only`; its
  delete only takes the marker off, never touching a version. A write that
  finds the path moved to someone else's version takes this instance's
  leftover marker off before failing.

A write stopped between its data write and its confirmation (a kill, a
lost answer) left a version syncd wrote under a marker naming the version
before it. A retry, and the next plan, recognise it only when that newer
version holds exactly the desired data, and confirm it; anything else is
someone else's version. The loser of a check-and-set race touches nothing of the
winner's.

KV v1 has no metadata and no check-and-set: the marker is a reserved key in
the data, written in the same request as the data (so it never sits on data
syncd did not write), removed on read; the owner is read just before each
write or delete, and a write landing between that read and syncd's request
is overwritten (or deleted): that window is unprotected.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel

from connectors._vault_client import MAX_IN_FLIGHT, Clock, VaultClient
from connectors._vault_kv import CasMismatch, Entry, KvV1, KvV2, Metadata, parallel, text, walk
from connectors._vault_options import VaultSinkOptions
from connectors._vault_policy import sink_policy
from syncd.connector import MARKER_INSTANCE, MARKER_SYNC, Sink
from syncd.errors import PermanentError, SyncdError, TransientError
from syncd.model import ActualItem, DesiredItem, Granularity, Ownership
from syncd.secret import Secret

# KV v1 only: the data key that holds "instance/sync".
OWNER_KEY = "syncd.io/owner"
# KV v2 only: the custom_metadata key naming the version the marker owns.
MARKER_VERSION = "syncd.io/version"
# The flag read items carry: "unconfirmed" for a version syncd wrote but did not mark, so the diff plans a write.
MARKER_FLAG = "marker"
# Plain dicts (a mapping proxy cannot be deep-copied); never changed in place.
CONFIRMED: Mapping[str, str] = {MARKER_FLAG: "confirmed"}
UNCONFIRMED: Mapping[str, str] = {MARKER_FLAG: "unconfirmed"}
# Metadata writes lost to another metadata writer, re-read and tried again before giving up (transiently).
METADATA_ATTEMPTS = 4
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


@dataclass(frozen=True)
class Marker:
    """syncd's KV v2 marker: who owns the path, and which version. `version` None: a marker written before
    versions were recorded, taken to own the current version."""

    owner: Ownership
    version: int | None

    def names(self, version: int) -> bool:
        return self.version is None or self.version == version


@dataclass(frozen=True)
class _Seen:
    """What a read learned of a KV v2 path's metadata: its current version, whether that version is live, and its
    custom_metadata."""

    current_version: int
    custom_metadata: Mapping[str, str]
    live: bool


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
        # KV v2 paths the last `read` found: `list_owned` right after it uses them instead of reading their
        # metadata again. Used once; every write and delete drops it.
        self._lock = threading.Lock()
        self._just_read: dict[str, _Seen] | None = None
        # The run's desired items (from `prepare`): a read recognises a version syncd wrote but did not mark.
        self._wanted: dict[str, DesiredItem] = {}

    def address(self, destination: BaseModel, name: str) -> str:
        return f"{self.options.prefix}/{name}" if self.options.prefix else name

    def flags(self, destination: BaseModel) -> Mapping[str, Any]:
        return CONFIRMED

    def vault_policy(self, patterns: Sequence[str]) -> str:
        return sink_policy(self.options, patterns)

    def check(self, item: DesiredItem) -> list[str]:
        problems = path_problems(item.address)
        if any(not key for key in item.data):
            problems.append(f"Item {item.address!r} has an empty key.")
        if OWNER_KEY in item.data:
            problems.append(f"Item {item.address!r} has the key {OWNER_KEY!r}, which syncd keeps for its marker.")
        return problems

    def prepare(self, items: Sequence[DesiredItem]) -> None:
        self._wanted = {item.address: item for item in items}

    def read(self, addresses: Sequence[str]) -> dict[str, ActualItem]:
        kv = self._store()
        seen: dict[str, _Seen] = {}
        found = parallel(lambda address: self._read_one(kv, address, seen), list(addresses))
        items = {item.address: item for item in found if item is not None}
        with self._lock:
            self._just_read = seen if isinstance(kv, KvV2) else None
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
            seen = {
                path: _Seen(m.current_version, m.custom_metadata, m.live) for path, m in metas.items() if m is not None
            }
            items = [_v2_listed(path, just_read.get(path) or seen.get(path)) for path in paths]
        return {i.address: i for i in items if i is not None and i.owner is not None and i.owner.instance == instance}

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
        self._delete_v2(kv, actual)

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

    def _read_one(self, kv: KvV1 | KvV2, address: str, seen: dict[str, _Seen]) -> ActualItem | None:
        if isinstance(kv, KvV1):
            entry = kv.read(address)
            return None if entry is None else _v1_item(address, entry, with_data=True)
        entry = kv.read(address)
        if entry is None or entry.version is None:
            return None  # no version at all: absent, or only a claim
        seen[address] = _Seen(entry.version, entry.custom_metadata, entry.state == "live" and entry.data is not None)
        marker = _marker(entry.custom_metadata)
        standing = marker is not None and marker.names(entry.version)
        version = str(entry.version)
        if entry.state != "live" or entry.data is None:
            # Vault answers a deleted latest version with its metadata, marker included: no further request.
            if marker is None or not standing:
                return None
            return ActualItem(
                address=address, owner=marker.owner, version=version, pending_deletion=True, flags=CONFIRMED
            )
        data = _secrets(entry.data)
        if marker is not None and standing:
            return ActualItem(address=address, owner=marker.owner, data=data, version=version, flags=CONFIRMED)
        wanted = self._wanted.get(address)
        if marker is not None and wanted is not None and _unconfirmed(marker, entry.version, wanted, data):
            return ActualItem(address=address, owner=marker.owner, data=data, version=version, flags=UNCONFIRMED)
        return ActualItem(address=address, owner=None, data=data, version=version, flags=CONFIRMED)

    # KV v2 writes. Each step re-reads what it needs; see the module docstring for the order and why.

    def _write_v2(self, kv: KvV2, item: DesiredItem, actual: ActualItem | None, data: dict[str, str]) -> None:
        meta = kv.metadata(item.address)
        if self._settled(kv, item, actual, meta, data):
            return
        claimed = meta is None or not meta.live
        if claimed:
            meta = self._claim(kv, item, actual, meta, data)
            if meta is None:
                return
        assert meta is not None
        current = meta.current_version
        try:
            written = kv.write(item.address, data, cas=current)
        except CasMismatch:
            # Someone else's version won; only another run of this instance that wrote the same data is success.
            again = kv.metadata(item.address)
            if again is not None and again.live and self._ours_to_confirm(kv, item, None, again, data):
                self._confirm(kv, item, again.current_version, again)
                return
            self._drop_leftover(kv, item, data)
            raise self._moved(item, actual, None) from None
        except Exception:
            if claimed:
                # The claim owns no data; left on, it would sit on whatever version someone writes next.
                self._drop_leftover(kv, item, data)
            raise
        self._confirm(kv, item, written, meta)

    def _settled(
        self, kv: KvV2, item: DesiredItem, actual: ActualItem | None, meta: Metadata | None, data: Mapping[str, str]
    ) -> bool:
        """Whether the write is already done (confirming it if needed); False to go on; raises when the path
        moved since the plan or carries another instance's marker."""
        current = meta.current_version if meta else 0
        self._not_anothers(item, _marker(meta.custom_metadata) if meta else None, current)
        planned = _version(actual)
        if meta is not None and meta.live:
            if actual is not None and not actual.pending_deletion and planned == current:
                if actual.flags.get(MARKER_FLAG) == UNCONFIRMED[MARKER_FLAG] and self._ours_to_confirm(
                    kv, item, actual, meta, data
                ):
                    self._confirm(kv, item, current, meta)  # the plan found our unmarked version: only mark it
                    return True
                return False
            # Moved since the plan: a retry of this write whose answer was lost, or another run of this instance.
            if self._ours_to_confirm(kv, item, actual, meta, data):
                self._confirm(kv, item, current, meta)
                return True
            self._drop_leftover(kv, item, data)
            raise self._moved(item, actual, current)
        if actual is not None and not actual.pending_deletion:
            raise self._moved(item, actual, current)  # live in the plan, deleted since
        return False

    def _ours_to_confirm(
        self, kv: KvV2, item: DesiredItem, actual: ActualItem | None, meta: Metadata, data: Mapping[str, str]
    ) -> bool:
        """Whether the live current version is one this instance wrote: it holds exactly `data`, and the marker
        names this instance at it or the version before it (or, for an adopt, no marker at the version after
        the planned one)."""
        current = meta.current_version
        marker = _marker(meta.custom_metadata)
        if marker is not None:
            if marker.owner.instance != item.owner.instance:
                return False
            if not (marker.names(current) or marker.version == current - 1):
                return False
        elif actual is None or actual.owner is not None or _version(actual) != current - 1:
            return False
        return self._holds(kv, item.address, current, data)

    def _claim(
        self, kv: KvV2, item: DesiredItem, actual: ActualItem | None, meta: Metadata | None, data: Mapping[str, str]
    ) -> Metadata | None:
        """Stamp the marker naming the current version (no live data) before creating the next one; the metadata
        after it, or None when another run of this instance created the item meanwhile."""
        for _ in range(METADATA_ATTEMPTS):
            current = meta.current_version if meta else 0
            if meta is not None and meta.live:
                if self._ours_to_confirm(kv, item, None, meta, data):
                    self._confirm(kv, item, current, meta)
                    return None
                self._drop_leftover(kv, item, data)
                raise self._moved(item, actual, current)
            custom = dict(meta.custom_metadata) if meta else {}
            self._not_anothers(item, _marker(custom), current)
            claim = _with_marker(custom, item.owner, current)
            if meta is not None and claim == custom:
                return meta
            try:
                kv.set_custom_metadata(item.address, claim, exists=meta is not None, metadata_cas=_cas(meta))
            except CasMismatch:
                meta = kv.metadata(item.address)
                continue
            after = None if meta is None or meta.metadata_version is None else meta.metadata_version + 1
            return Metadata(current, claim, meta.states if meta else {}, metadata_version=1 if meta is None else after)
        raise self._busy(item.address)

    def _confirm(self, kv: KvV2, item: DesiredItem, version: int, meta: Metadata | None) -> None:
        """Stamp the marker naming `version`, which this instance wrote. `meta` is the metadata as last known;
        without a metadata version to check against, it is read again first."""
        if meta is None or meta.metadata_version is None:
            meta = kv.metadata(item.address)
        for _ in range(METADATA_ATTEMPTS):
            if meta is None:
                raise self._moved(item, None, None)
            custom = dict(meta.custom_metadata)
            # A newer version is someone else's: marking the one written is harmless, as it owns only that one.
            self._not_anothers(item, _marker(custom), max(version, meta.current_version))
            stamped = _with_marker(custom, item.owner, version)
            if stamped == custom:
                return
            try:
                kv.set_custom_metadata(item.address, stamped, exists=True, metadata_cas=meta.metadata_version)
                return
            except CasMismatch:
                meta = kv.metadata(item.address)
        raise self._busy(item.address)

    def _delete_v2(self, kv: KvV2, actual: ActualItem) -> None:
        meta = kv.metadata(actual.address)
        if meta is None:
            return
        current = meta.current_version
        marker = _marker(meta.custom_metadata)
        ours = marker is not None and marker.owner == actual.owner
        if not (ours and marker.names(current)):
            # Nothing of syncd's at the current version: at most a leftover marker to take off, never any data.
            if ours:
                self._unmark(kv, actual, meta)
            if actual.marker_only or not meta.live:
                return  # done, or someone else's to finish
            self._unmoved(actual, current)
            self._still_owned(actual, None)
        if actual.marker_only:
            # The plan saw only a leftover marker: its delete never touches data.
            if meta.live:
                raise PermanentError(
                    f"holds syncd's data again (version {current}), not only a leftover marker; left alone, "
                    "run plan again",
                    target=self.target,
                    address=actual.address,
                )
            self._unmark(kv, actual, meta)
            return
        self._unmoved(actual, current)
        if self.options.destroy_on_delete:
            kv.destroy(actual.address)
            return
        if meta.live:
            kv.delete_version(actual.address, current)
        # The marker goes too: whoever writes the path next creates an unowned secret, not one of ours.
        self._unmark(kv, actual, replace(meta, states={**meta.states, current: "deleted"}))

    def _unmark(self, kv: KvV2, actual: ActualItem, meta: Metadata | None) -> None:
        """Take `actual`'s owner's marker off while it vouches for no live data (a version syncd just deleted, a
        leftover); a marker that names the live current version again (another run of this instance wrote it) stays."""

        def keep(marker: Marker | None, meta: Metadata) -> bool:
            return marker is None or marker.owner != actual.owner or _stands(marker, meta)

        if not _take_marker_off(kv, actual.address, meta, keep):
            raise self._busy(actual.address)

    def _drop_leftover(self, kv: KvV2, item: DesiredItem, data: Mapping[str, str]) -> None:
        """Best effort, when a write fails: take this instance's marker off the path if it vouches for no data of
        syncd's, so that no version someone writes later carries it. A marker naming the live current version,
        or the version before one that holds exactly `data` (a write of ours whose answer was lost, which a
        retry confirms), stays. Touches no data; a failure here is left to the next plan (it lists the marker)."""

        def keep(marker: Marker | None, meta: Metadata) -> bool:
            if marker is None or marker.owner.instance != item.owner.instance or _stands(marker, meta):
                return True
            current = meta.current_version
            return meta.live and marker.version == current - 1 and self._holds(kv, item.address, current, data)

        with contextlib.suppress(SyncdError):
            _take_marker_off(kv, item.address, kv.metadata(item.address), keep)

    def _busy(self, address: str) -> TransientError:
        return TransientError(
            "its custom_metadata kept changing while syncd wrote its marker", target=self.target, address=address
        )

    def _write_v1(self, kv: KvV1, item: DesiredItem, actual: ActualItem | None, data: dict[str, str]) -> None:
        entry = kv.read(item.address)
        if entry is not None:
            owner = _v1_owner(entry.data or {})
            self._not_anothers(item, Marker(owner, None) if owner else None, 0)
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

    def _not_anothers(self, item: DesiredItem, marker: Marker | None, current: int) -> None:
        """Refuse a path whose marker names another instance at its current version, whatever the plan says."""
        if marker is not None and marker.owner.instance != item.owner.instance and marker.names(current):
            raise PermanentError(
                f"carries the ownership marker of syncd instance {marker.owner.instance!r}; nothing was written",
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


def _stands(marker: Marker, meta: Metadata) -> bool:
    """Whether `marker` vouches for live data: it names the path's current version, and that version is live."""
    return meta.live and marker.names(meta.current_version)


def _version(actual: ActualItem | None) -> int | None:
    return int(actual.version) if actual is not None and actual.version and actual.version.isdigit() else None


def _cas(meta: Metadata | None) -> int | None:
    """The metadata check-and-set version for a write over `meta`: 0 when the path has no metadata."""
    return 0 if meta is None else meta.metadata_version


def _unconfirmed(marker: Marker, version: int, wanted: DesiredItem, data: Mapping[str, Secret]) -> bool:
    """Whether `version` is one syncd wrote and stopped before marking: the marker names the wanted item's
    instance at the version before it, and it holds exactly the wanted data."""
    return (
        marker.owner.instance == wanted.owner.instance
        and marker.version == version - 1
        and dict(data) == dict(wanted.data)
    )


def _marker(custom: Mapping[str, str]) -> Marker | None:
    owner = _owner(custom)
    if owner is None:
        return None
    raw = custom.get(MARKER_VERSION)
    if raw is None:
        return Marker(owner, None)
    # A version that is not a number owns nothing.
    return Marker(owner, int(raw) if raw.isdigit() else -1)


def _owner(custom: Mapping[str, str]) -> Ownership | None:
    instance, sync = custom.get(MARKER_INSTANCE), custom.get(MARKER_SYNC)
    return Ownership(instance, sync) if instance and sync else None


def _take_marker_off(
    kv: KvV2, address: str, meta: Metadata | None, keep: Callable[[Marker | None, Metadata], bool]
) -> bool:
    """Remove the marker keys from `address`'s custom_metadata with metadata check-and-set, unless `keep` says the
    marker stands (or there is no path); re-read and decide again when another writer got there first. False
    when the metadata kept changing for every attempt."""
    for _ in range(METADATA_ATTEMPTS):
        if meta is None or keep(_marker(meta.custom_metadata), meta):
            return True
        try:
            kv.set_custom_metadata(address, _without_marker(meta.custom_metadata), exists=True, metadata_cas=_cas(meta))
            return True
        except CasMismatch:
            meta = kv.metadata(address)
    return False


def _without_marker(custom: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in custom.items() if key not in (MARKER_INSTANCE, MARKER_SYNC, MARKER_VERSION)}


def _with_marker(custom: Mapping[str, str], owner: Ownership, version: int) -> dict[str, str]:
    """`custom` with `owner`'s marker naming `version` in place of any marker it has."""
    marker = {MARKER_INSTANCE: owner.instance, MARKER_SYNC: owner.sync, MARKER_VERSION: str(version)}
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
    return ActualItem(address=address, owner=owner, data=_secrets(data) if with_data else None, flags=CONFIRMED)


def _v2_listed(address: str, seen: _Seen | None) -> ActualItem | None:
    """A marked path, as `list_owned` reports it. A marker naming the live current version owns it; any other
    marker (naming a deleted or destroyed version, a claim, a version older than the current one) vouches for no
    live data of syncd's and is listed as `marker_only`, so that the next apply takes it off."""
    marker = _marker(seen.custom_metadata) if seen is not None else None
    if seen is None or marker is None:
        return None
    leftover = not (seen.live and marker.names(seen.current_version))
    return ActualItem(
        address=address,
        owner=marker.owner,
        version=str(seen.current_version),
        flags=CONFIRMED,
        marker_only=leftover,
    )


def _plain(data: Mapping[str, Any]) -> dict[str, str]:
    return {key: _as_text(value) for key, value in data.items()}


def _as_text(value: Any) -> str:
    # A number, list or object another writer stored reads as its JSON text, which differs from any string we write.
    found = text(value)
    return found if found is not None else json.dumps(value, sort_keys=True)


def _secrets(data: Mapping[str, Any]) -> dict[str, Secret]:
    return {key: Secret(value) for key, value in _plain(data).items()}
