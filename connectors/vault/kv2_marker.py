"""The vault sink's KV v2 marker, and the order of calls that keeps it only on versions syncd wrote (each step,
and the state it leaves, is in docs/connectors.md: Writes, Deletes).

The marker is three custom_metadata keys: instance, sync and the KV version syncd wrote (`syncd.io/version`). It
owns only that version: once anyone writes a newer one, the path is no longer syncd's. Data writes use check-and-set
on the data version, marker changes on the metadata version (OpenBao's `metadata_cas`), so neither overwrites what
someone changed since syncd read it. A create claims the path (a marker naming the current version, which holds no
live data), writes with cas on it, then confirms (the marker names the version written); an update or adopt writes
with cas on the planned version and confirms; a prune soft-deletes exactly the marked version, then takes the marker
off. Any other marker of this instance is a leftover (`marker_only`) whose delete only takes it off. A version syncd
wrote but did not mark (a kill or a lost answer before the confirmation) is confirmed only when it holds exactly the
desired data; anything else is someone else's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from connectors.vault import errors
from connectors.vault.kv import CasMismatch, Entry, KvV2, Metadata, plain, secrets
from syncd.connector import MARKER_INSTANCE, MARKER_SYNC, marker_tags, owner_of
from syncd.errors import ItemMoved, SyncdError, TransientError
from syncd.model import ActualItem, DesiredItem, Ownership
from syncd.secret import Secret

# The custom_metadata key naming the version the marker owns.
MARKER_VERSION = "syncd.io/version"
# Before a claim's version: the marker of a create in progress, which owns no version.
CLAIM = "claim:"
# The flag observed items carry: "unconfirmed" for a version syncd wrote but did not mark, so the diff plans a write.
MARKER_FLAG = "marker"
# Plain dicts (a mapping proxy cannot be deep-copied); never changed in place.
CONFIRMED: Mapping[str, str] = {MARKER_FLAG: "confirmed"}
UNCONFIRMED: Mapping[str, str] = {MARKER_FLAG: "unconfirmed"}
# Metadata writes lost to another metadata writer, re-read and tried again before giving up (transiently). A
# check-and-set loop that resolves a lost race, not a retry of failed calls.
METADATA_ATTEMPTS = 4


@dataclass(frozen=True)
class Marker:
    """syncd's KV v2 marker: who owns the path, and which version. `version` None: a marker written before
    versions were recorded, taken to own the current version. A claim (`claim:N`, stamped before a create writes
    version N+1) names no version: if N, someone's deleted version, were undeleted, the claim must not own it."""

    owner: Ownership
    version: int | None
    claim: int | None = None

    def names(self, version: int) -> bool:
        return self.version is None or self.version == version

    def just_before(self, version: int) -> bool:
        """Whether the marker was stamped on the version before `version`: a claim for it, or a marker of the
        version it follows (syncd wrote `version` and stopped before marking it)."""
        return self.claim == version - 1 or self.version == version - 1


def marker_of(custom: Mapping[str, str]) -> Marker | None:
    owner = owner_of(custom)
    if owner is None:
        return None
    raw = custom.get(MARKER_VERSION)
    if raw is None:
        return Marker(owner, None)
    claimed = raw.removeprefix(CLAIM)
    if raw.startswith(CLAIM) and claimed.isdigit():
        return Marker(owner, -1, int(claimed))
    # A version that is not a number owns nothing.
    return Marker(owner, int(raw) if raw.isdigit() else -1)


def unconfirmed(marker: Marker, version: int, wanted: DesiredItem, data: Mapping[str, Secret]) -> bool:
    """Whether `version` is one syncd wrote and stopped before marking: the marker names the wanted item's
    instance at the version before it, and it holds exactly the wanted data."""
    return (
        marker.owner.instance == wanted.owner.instance
        and marker.just_before(version)
        and dict(data) == dict(wanted.data)
    )


def observed(address: str, entry: Entry | None, wanted: DesiredItem) -> ActualItem | None:
    """A desired path as the plan sees it; None when it holds no version (absent, or only a claim)."""
    if entry is None or entry.version is None:
        return None
    marker = marker_of(entry.custom_metadata)
    standing = marker is not None and marker.names(entry.version)
    found = ActualItem(
        address, marker.owner if marker and standing else None, version=str(entry.version), flags=CONFIRMED
    )
    if entry.state != "live" or entry.data is None:
        # Vault answers a deleted latest version with its metadata, marker included: no further request.
        return replace(found, pending_deletion=True) if standing else None
    data = secrets(entry.data)
    if marker is not None and not standing and unconfirmed(marker, entry.version, wanted, data):
        return replace(found, owner=marker.owner, data=data, flags=UNCONFIRMED)
    return replace(found, data=data)


def listed(address: str, entry: Entry | None) -> ActualItem | None:
    """A marked path, as observed for prune. A marker naming the live current version owns it; any other marker
    vouches for no live data of syncd's and is observed as `marker_only`, so that the next apply takes it off."""
    marker = marker_of(entry.custom_metadata) if entry is not None else None
    if entry is None or marker is None:
        return None
    current = entry.version or 0
    leftover = not (entry.state == "live" and marker.names(current))
    return ActualItem(address, marker.owner, version=str(current), flags=CONFIRMED, marker_only=leftover)


class MarkedWrites:
    """Writes and deletes of one KV v2 target, in the order the module docstring gives."""

    def __init__(self, kv: KvV2, target: str, *, destroy_on_delete: bool) -> None:
        self.kv = kv
        self.target = target
        self.destroy_on_delete = destroy_on_delete

    def write(self, item: DesiredItem, expected: ActualItem | None, data: dict[str, str]) -> None:
        meta = self.kv.metadata(item.address)
        if self._settled(item, expected, meta, data):
            return
        claimed = meta is None or not meta.live
        if claimed:
            meta = self._claim(item, expected, meta, data)
            if meta is None:
                return
        assert meta is not None
        try:
            written = self.kv.write(item.address, data, cas=meta.current_version)
        except CasMismatch:
            # Someone else's version won; only another run of this instance that wrote the same data is success.
            again = self.kv.metadata(item.address)
            if again is not None and again.live and self._ours_to_confirm(item, None, again, data):
                self._confirm(item, again.current_version, again)
                return
            self._drop_leftover(item, data)
            raise self._moved(item, expected, None) from None
        except Exception:
            if claimed:
                # The claim owns no data; left on, it would sit on whatever version someone writes next.
                self._drop_leftover(item, data)
            raise
        self._confirm(item, written, meta)

    def _settled(
        self, item: DesiredItem, expected: ActualItem | None, meta: Metadata | None, data: Mapping[str, str]
    ) -> bool:
        """Whether the write is already done (confirming it if needed); False to go on; raises when the path
        moved since the plan or carries another instance's marker."""
        current = meta.current_version if meta else 0
        self._not_anothers(item, marker_of(meta.custom_metadata) if meta else None, current)
        if meta is not None and meta.live:
            if expected is not None and not expected.pending_deletion and _version(expected) == current:
                if expected.flags.get(MARKER_FLAG) == UNCONFIRMED[MARKER_FLAG]:
                    if self._ours_to_confirm(item, expected, meta, data):
                        self._confirm(item, current, meta)  # the plan found our unmarked version: only mark it
                        return True
                    return False
                marker = marker_of(meta.custom_metadata)
                if (marker.owner if marker is not None and marker.names(current) else None) != expected.owner:
                    # Same version, other marker: someone disowned it, or another sync took it, since the plan.
                    raise errors.marker_moved(self.target, item.address)
                return False
            # Moved since the plan: a retry of this write whose answer was lost, or another run of this instance.
            if self._ours_to_confirm(item, expected, meta, data):
                self._confirm(item, current, meta)
                return True
            self._drop_leftover(item, data)
            raise self._moved(item, expected, current)
        if expected is not None and not expected.pending_deletion:
            raise self._moved(item, expected, current)  # live in the plan, deleted since
        return False

    def _ours_to_confirm(
        self, item: DesiredItem, expected: ActualItem | None, meta: Metadata, data: Mapping[str, str]
    ) -> bool:
        """Whether the live current version is one this instance wrote: it holds exactly `data`, and the marker
        names this instance at it or the version before it (or, for an adopt, no marker at the version after
        the planned one)."""
        current = meta.current_version
        marker = marker_of(meta.custom_metadata)
        if marker is not None:
            if marker.owner.instance != item.owner.instance:
                return False
            if not (marker.names(current) or marker.just_before(current)):
                return False
        elif expected is None or expected.owner is not None or _version(expected) != current - 1:
            return False
        return self._holds(item.address, current, data)

    def _claim(
        self, item: DesiredItem, expected: ActualItem | None, meta: Metadata | None, data: Mapping[str, str]
    ) -> Metadata | None:
        """Stamp the marker naming the current version (no live data) before creating the next one; the metadata
        after it, or None when another run of this instance created the item meanwhile."""
        for _ in range(METADATA_ATTEMPTS):
            current = meta.current_version if meta else 0
            if meta is not None and meta.live:
                if self._ours_to_confirm(item, None, meta, data):
                    self._confirm(item, current, meta)
                    return None
                self._drop_leftover(item, data)
                raise self._moved(item, expected, current)
            custom = dict(meta.custom_metadata) if meta else {}
            self._not_anothers(item, marker_of(custom), current)
            claim = _with_marker(custom, item.owner, current, claim=True)
            if meta is not None and claim == custom:
                return meta
            cas = 0 if meta is None else meta.metadata_version
            try:
                self.kv.set_custom_metadata(item.address, claim, exists=meta is not None, metadata_cas=cas)
            except CasMismatch:
                meta = self.kv.metadata(item.address)
                continue
            after = None if cas is None else cas + 1
            return Metadata(current, claim, meta.states if meta else {}, metadata_version=after)
        raise self._busy(item.address)

    def _confirm(self, item: DesiredItem, version: int, meta: Metadata | None) -> None:
        """Stamp the marker naming `version`, which this instance wrote. `meta` is the metadata as last known;
        without a metadata version to check against, it is read again first."""
        if meta is None or meta.metadata_version is None:
            meta = self.kv.metadata(item.address)
        for _ in range(METADATA_ATTEMPTS):
            if meta is None:
                raise self._moved(item, None, None)
            custom = dict(meta.custom_metadata)
            # A newer version is someone else's: marking the one written is harmless, as it owns only that one.
            self._not_anothers(item, marker_of(custom), max(version, meta.current_version))
            stamped = _with_marker(custom, item.owner, version)
            if stamped == custom:
                return
            try:
                self.kv.set_custom_metadata(item.address, stamped, exists=True, metadata_cas=meta.metadata_version)
                return
            except CasMismatch:
                meta = self.kv.metadata(item.address)
        raise self._busy(item.address)

    def delete(self, expected: ActualItem) -> None:
        meta = self.kv.metadata(expected.address)
        if meta is None:
            return
        current = meta.current_version
        marker = marker_of(meta.custom_metadata)
        ours = marker is not None and marker.owner == expected.owner
        if not (ours and marker.names(current)):
            # Nothing of syncd's at the current version: at most a leftover marker to take off, never any data.
            if ours:
                self._unmark(expected, meta)
            if expected.marker_only or not meta.live:
                return  # done, or someone else's to finish
            self._unmoved(expected, current)
            raise errors.marker_moved(self.target, expected.address)
        if expected.marker_only:
            # The plan saw only a leftover marker: its delete never touches data.
            if meta.live:
                raise ItemMoved(
                    f"holds syncd's data again (version {current}), not only a leftover marker; left alone, "
                    "run plan again",
                    target=self.target,
                    address=expected.address,
                )
            self._unmark(expected, meta)
            return
        self._unmoved(expected, current)
        if self.destroy_on_delete:
            self.kv.destroy(expected.address)
            return
        if meta.live:
            self.kv.delete_version(expected.address, current)
        # The marker goes too: whoever writes the path next creates an unowned secret, not one of ours.
        self._unmark(expected, replace(meta, states={**meta.states, current: "deleted"}))

    def _unmark(self, expected: ActualItem, meta: Metadata | None) -> None:
        """Take `expected`'s owner's marker off while it vouches for no live data (a version syncd just deleted, a
        leftover); a marker that names the live current version again (another run of this instance wrote it)
        stays."""

        def keep(marker: Marker | None, meta: Metadata) -> bool:
            return marker is None or marker.owner != expected.owner or stands(marker, meta)

        if not _take_marker_off(self.kv, expected.address, meta, keep):
            raise self._busy(expected.address)

    def _drop_leftover(self, item: DesiredItem, data: Mapping[str, str]) -> None:
        """Best effort, when a write fails: take this instance's marker off unless it vouches for data of syncd's (the
        live current version, or the version before one holding exactly `data`: a lost answer, which the retry
        confirms), so that no version someone writes later carries it. A failure is left to the next plan."""

        def keep(marker: Marker | None, meta: Metadata) -> bool:
            if marker is None or marker.owner.instance != item.owner.instance or stands(marker, meta):
                return True
            current = meta.current_version
            return meta.live and marker.just_before(current) and self._holds(item.address, current, data)

        with contextlib.suppress(SyncdError):
            _take_marker_off(self.kv, item.address, self.kv.metadata(item.address), keep)

    def _holds(self, address: str, version: int, data: Mapping[str, str]) -> bool:
        entry = self.kv.read(address, version)
        return entry is not None and entry.data is not None and plain(entry.data) == dict(data)

    def _busy(self, address: str) -> TransientError:
        message = "its custom_metadata kept changing while syncd wrote its marker"
        return TransientError(message, target=self.target, address=address)

    def _moved(self, item: DesiredItem, expected: ActualItem | None, now: int | None) -> ItemMoved:
        then = f"version {expected.version}" if expected is not None and expected.version else "absent"
        return errors.moved(self.target, item.address, f" ({then} then, version {now} now)" if now is not None else "")

    def _not_anothers(self, item: DesiredItem, marker: Marker | None, current: int) -> None:
        """Refuse a path whose marker names another instance at its current version, whatever the plan says."""
        if marker is not None and marker.owner.instance != item.owner.instance and marker.names(current):
            raise errors.anothers(self.target, item.address, marker.owner.instance)

    def _unmoved(self, expected: ActualItem, current: int) -> None:
        if expected.version is not None and expected.version != str(current):
            seen = f" (version {expected.version} then, version {current} now)"
            raise errors.moved(self.target, expected.address, seen, outcome="not deleted")


def stands(marker: Marker, meta: Metadata) -> bool:
    """Whether `marker` vouches for live data: it names the path's current version, and that version is live."""
    return meta.live and marker.names(meta.current_version)


def _version(actual: ActualItem | None) -> int | None:
    return int(actual.version) if actual is not None and actual.version and actual.version.isdigit() else None


def _take_marker_off(
    kv: KvV2, address: str, meta: Metadata | None, keep: Callable[[Marker | None, Metadata], bool]
) -> bool:
    """Remove the marker keys from `address`'s custom_metadata with metadata check-and-set, unless `keep` says the
    marker stands (or there is no path); re-read and decide again when another writer got there first. False
    when the metadata kept changing for every attempt."""
    for _ in range(METADATA_ATTEMPTS):
        if meta is None or keep(marker_of(meta.custom_metadata), meta):
            return True
        try:
            unmarked = _without_marker(meta.custom_metadata)
            kv.set_custom_metadata(address, unmarked, exists=True, metadata_cas=meta.metadata_version)
            return True
        except CasMismatch:
            meta = kv.metadata(address)
    return False


def _without_marker(custom: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in custom.items() if key not in (MARKER_INSTANCE, MARKER_SYNC, MARKER_VERSION)}


def _with_marker(custom: Mapping[str, str], owner: Ownership, version: int, *, claim: bool = False) -> dict[str, str]:
    """`custom` with `owner`'s marker naming `version` (or, as a claim, the version before a create) in place of any
    marker it has."""
    return {**_without_marker(custom), **marker_tags(owner), MARKER_VERSION: f"{CLAIM * claim}{version}"}
