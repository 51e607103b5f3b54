"""The `vault` sink: one KV path per item below the target's `prefix`, the item's keys its data.

KV v2 keeps the marker in custom_metadata, by the protocol of `kv2_marker`. KV v1 has no metadata and no
check-and-set: the marker is a reserved data key written in the same request as the data (so it never sits on data
syncd did not write); the owner is read just before each write or delete, and a write landing between that read and
syncd's request is overwritten (or deleted): that window is unprotected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from connectors.vault import errors, kv2_marker
from connectors.vault.client import MAX_IN_FLIGHT, VaultClient
from connectors.vault.kv import Entry, KvV1, KvV2, secrets, walk
from connectors.vault.options import VaultSinkOptions
from connectors.vault.policy import sink_policy
from syncd.connector import UNLIMITED, AccessPolicy, Capabilities, Observation, RateLimiter, Scope, Sink
from syncd.errors import PermanentError
from syncd.model import ActualItem, DesiredItem, Difference, Granularity, Ownership

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
    """Writes each item to one KV path; see the module docstrings for markers, check-and-set and deletes."""

    Options = VaultSinkOptions
    # Versions on KV v2; a KV v1 mount reports none, and its writes re-read the owner instead.
    capabilities = Capabilities(granularities=(Granularity.DOCUMENT,), versions=True, max_concurrency=MAX_IN_FLIGHT)

    def __init__(self, target: str, options: VaultSinkOptions, connection: VaultClient | None = None) -> None:
        super().__init__(target, options, connection)
        self.options: VaultSinkOptions = options
        self.connection: VaultClient = connection or self.connect(target, options)

    @classmethod
    def connect(
        cls, target: str, options: VaultSinkOptions, client: Any = None, limiter: RateLimiter = UNLIMITED
    ) -> VaultClient:
        return VaultClient(options, client, target=target, limiter=limiter)

    def address(self, destination: BaseModel, name: str) -> str:
        return f"{self.options.prefix}/{name}" if self.options.prefix else name

    def flags(self, destination: BaseModel) -> Mapping[str, Any]:
        return kv2_marker.CONFIRMED

    def required_access(self, patterns: Sequence[str]) -> AccessPolicy:
        return AccessPolicy("vault", sink_policy(self.options, patterns))

    def check(self, item: DesiredItem) -> list[str]:
        problems = path_problems(item.address)
        if any(not key for key in item.data):
            problems.append(f"Item {item.address!r} has an empty key.")
        if OWNER_KEY in item.data:
            problems.append(f"Item {item.address!r} has the key {OWNER_KEY!r}, which syncd keeps for its marker.")
        return problems

    def describe(self) -> str:
        return f"vault {self.options.address} {self.options.mount}/{self.options.prefix}"

    def location(self) -> tuple[str, ...]:
        return self.options.location(self.options.prefix)

    def observe(self, desired: Sequence[DesiredItem], scope: Scope) -> Observation:
        kv = self._store()
        wanted = {item.address: item for item in desired}
        prefixes = self._listed_prefixes(scope)
        paths = walk(kv, prefixes)
        # A desired path inside the listed folders that the listing did not name has nothing stored: no read.
        listed = set(paths)
        addresses = [a for a in wanted if a in listed or not any(a.startswith(p) for p in prefixes)]
        entries: dict[str, Entry | None] = dict(zip(addresses, self.connection.map(kv.read, addresses), strict=True))
        if isinstance(kv, KvV1):
            unread = [path for path in paths if path not in entries]
            entries.update(zip(unread, self.connection.map(kv.read, unread), strict=True))
            found = {a: _v1_item(a, entries.get(a), with_data=True) for a in wanted}
            observed = {p: _v1_item(p, entries[p]) for p in paths}
        else:
            found = {a: kv2_marker.observed(a, entries.get(a), wanted[a]) for a in wanted}
            # A desired path's read answered its current version and custom_metadata: no metadata read for it.
            unread = [path for path in paths if getattr(entries.get(path), "version", None) is None]
            metas = self.connection.map(kv.metadata, unread)
            entries.update(zip(unread, [meta and meta.entry() for meta in metas], strict=True))
            observed = {p: kv2_marker.listed(p, entries[p]) for p in paths}
        owned = {a: i for a, i in observed.items() if i is not None and i.owner and i.owner.instance == scope.instance}
        return Observation({a: item for a, item in found.items() if item is not None}, owned)

    def write(self, item: DesiredItem, expected: ActualItem | None, difference: Difference) -> None:
        # A KV version holds the whole item: whatever `difference` names, the data is written whole.
        unsafe = path_problems(item.address)
        if unsafe:
            # Not the core's check again: a path Vault's URL handling would read as another path never reaches it.
            raise PermanentError(" ".join(unsafe), target=self.target, address=item.address)
        kv = self._store()
        data = {key: value.reveal() for key, value in item.data.items()}
        if isinstance(kv, KvV2):
            self._marked(kv).write(item, expected, data)
            return
        entry = kv.read(item.address)
        if entry is not None:
            owner = _v1_owner(entry.data or {})
            if owner is not None and owner.instance != item.owner.instance:
                raise errors.anothers(self.target, item.address, owner.instance)
            # The owner the plan saw, or this item's own (a retry of this write, whose answer was lost); KV v1 has no
            # versions, so the value the plan saw too, lest a person's edit since be overwritten or adopted.
            if owner != item.owner and (
                expected is None
                or owner != expected.owner
                or (expected.data is not None and _v1_item(item.address, entry, with_data=True).data != expected.data)
            ):
                raise errors.moved(self.target, item.address)
        kv.write(item.address, {**data, OWNER_KEY: f"{item.owner.instance}/{item.owner.sync}"})

    def delete(self, expected: ActualItem) -> None:
        kv = self._store()
        if isinstance(kv, KvV2):
            self._marked(kv).delete(expected)
            return
        entry = kv.read(expected.address)
        if entry is None:
            return
        if _v1_owner(entry.data or {}) != expected.owner:
            raise errors.marker_moved(self.target, expected.address)
        kv.delete(expected.address)

    def _store(self) -> KvV1 | KvV2:
        kind = KvV2 if self.connection.kv_version() == 2 else KvV1
        return kind(self.connection, name_items=True)

    def _marked(self, kv: KvV2) -> kv2_marker.MarkedWrites:
        return kv2_marker.MarkedWrites(kv, self.target, destroy_on_delete=self.options.destroy_on_delete)

    def _listed_prefixes(self, scope: Scope) -> list[str]:
        """The scope's prefixes, kept inside the target's `prefix` folder (a wider one, '*' for instance, is
        narrowed to the folder): no listing reaches beyond it."""
        folder = f"{self.options.prefix}/" if self.options.prefix else ""
        inside = {
            p if p.startswith(folder) else folder
            for p in scope.prefixes
            if p.startswith(folder) or folder.startswith(p)
        }
        return sorted(p for p in inside if not any(o != p and p.startswith(o) for o in inside))


def _v1_owner(data: Mapping[str, Any]) -> Ownership | None:
    instance, slash, sync = str(data.get(OWNER_KEY, "")).partition("/")
    return Ownership(instance, sync) if instance and slash and sync else None


def _v1_item(address: str, entry: Entry | None, *, with_data: bool = False) -> ActualItem | None:
    if entry is None:
        return None
    data = dict(entry.data or {})
    owner = _v1_owner(data)
    data.pop(OWNER_KEY, None)
    return ActualItem(
        address=address, owner=owner, data=secrets(data) if with_data else None, flags=kv2_marker.CONFIRMED
    )
