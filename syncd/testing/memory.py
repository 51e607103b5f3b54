"""In-memory source and sink: real implementations of the connector contract, with no backend.

Each instance keeps its own storage, so tests never leak state into one
another. Values are held as `Secret`s like any connector's; `values()` and
the source's `put` are the only places plain strings go in or come out.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from pydantic import BaseModel

from syncd import connector
from syncd.errors import PermanentError, SourceError
from syncd.model import ActualItem, DesiredItem, Difference, Granularity, Ownership, SourceSecret
from syncd.secret import Secret

ADDRESS_PATTERN = re.compile(r"^[A-Za-z0-9/_.+=@-]+$")
MAX_ADDRESS_LENGTH = 256


def _secrets(data: Mapping[str, str]) -> dict[str, Secret]:
    return {key: Secret(value) for key, value in data.items()}


class MemorySource(connector.Source):
    """A source held in a dict of path → keys; every `put` bumps that path's version."""

    def __init__(
        self,
        options: Any = None,
        connection: Any = None,
        secrets: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        super().__init__(options if options is not None else self.Options(), connection)
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, str]] = {}
        # Kept across `remove`, so a path that comes back gets a new version.
        self._versions: dict[str, int] = {}
        self._failures: dict[str, Exception] = {}
        self.reads = 0
        for path, data in (secrets or {}).items():
            self.put(path, data)

    def put(self, path: str, data: Mapping[str, str]) -> None:
        """Set the keys at `path` (an empty mapping makes an empty secret) and bump its version."""
        with self._lock:
            self._data[path] = dict(data)
            self._versions[path] = self._versions.get(path, 0) + 1

    def remove(self, path: str) -> None:
        """Make `path` missing; removing a missing path does nothing."""
        with self._lock:
            self._data.pop(path, None)

    def fail(self, path: str, error: Exception) -> None:
        """Make every read of `path` raise `error` until `heal`."""
        with self._lock:
            self._failures[path] = error

    def heal(self, path: str | None = None) -> None:
        """Stop failing reads of `path`, or of every path."""
        with self._lock:
            if path is None:
                self._failures.clear()
            else:
                self._failures.pop(path, None)

    def read(self, path: str) -> SourceSecret:
        with self._lock:
            self.reads += 1
            failure = self._failures.get(path)
            data = self._data.get(path)
            version = self._versions.get(path)
        if failure is not None:
            raise failure
        if data is None:
            raise SourceError(f"source path {path!r} does not exist")
        if not data:
            raise SourceError(f"source path {path!r} holds no keys")
        return SourceSecret(path=path, data=_secrets(data), version=str(version))

    def list(self, prefix: str) -> list[str]:
        """Every path below `prefix` ("" for all); "app" and "app/" both mean the folder app."""
        folder = prefix.rstrip("/")
        with self._lock:
            paths = list(self._data)
        if not folder:
            return sorted(paths)
        return sorted(p for p in paths if p.startswith(folder + "/"))

    def __repr__(self) -> str:
        return f"MemorySource(paths={len(self._data)})"


class MemorySink(connector.Sink):
    """A thread-safe sink held in a dict of address → ActualItem.

    Every change (a write, a plant, a delete of a present item) bumps the
    sink's `version`; a written item's version is the sink's version after
    that write.
    """

    class Options(connector.Options):
        # A quota: a write that would create an item past it raises PermanentError.
        max_items: int | None = None

    class Destination(connector.Options):
        # Reported by `flags`, so tests can see the core compare flags.
        flavor: str | None = None

    capabilities = connector.Capabilities(
        granularities=(Granularity.DOCUMENT, Granularity.PER_KEY), tags=True, description=True, versions=True
    )

    def __init__(self, target: str = "memory", options: Any = None, connection: Any = None) -> None:
        super().__init__(target, options if options is not None else self.Options(), connection)
        self._lock = threading.Lock()
        self._items: dict[str, ActualItem] = {}
        self._version = 0

    @property
    def version(self) -> int:
        """A counter that moves on every change to the sink; compare it to tell nothing was written."""
        return self._version

    def flags(self, destination: BaseModel) -> Mapping[str, Any]:
        flavor = getattr(destination, "flavor", None)
        return {"flavor": flavor} if flavor is not None else {}

    def check(self, item: DesiredItem) -> list[str]:
        address = item.address
        if not address:
            return ["The item address is empty."]
        problems = []
        if len(address) > MAX_ADDRESS_LENGTH:
            problems.append(
                f"The item address {address[:40]!r}… is {len(address)} characters long, more than {MAX_ADDRESS_LENGTH}."
            )
        if not ADDRESS_PATTERN.match(address):
            problems.append(f"The item address {address!r} holds characters other than letters, digits and /_.+=@-.")
        return problems

    def observe(self, desired: Sequence[DesiredItem], scope: connector.Scope) -> connector.Observation:
        """The desired addresses' items, and the scope's owned items without their values (`data` is None)."""
        with self._lock:
            items = {i.address: _copy(self._items[i.address]) for i in desired if i.address in self._items}
            owned = {
                address: replace(_copy(item), data=None)
                for address, item in self._items.items()
                if item.owner is not None and item.owner.instance == scope.instance and scope.covers(address)
            }
        return connector.Observation(items, owned)

    def write(self, item: DesiredItem, expected: ActualItem | None, difference: Difference) -> None:
        limit = self.options.max_items
        with self._lock:
            current = self._items.get(item.address)
            if not _holds(current, item):
                # A retry after a lost answer finds its own write done; anything else must be as planned.
                connector.expect_unmoved(self.target, expected, current)
            if current is None and limit is not None and len(self._items) >= limit:
                raise PermanentError(
                    f"the sink already holds its maximum of {limit} items",
                    target=self.target,
                    address=item.address,
                )
            if current is None:
                self._store(item.address, item.owner, item.data, item.tags, item.description, item.flags)
                return
            self._store(
                item.address,
                item.owner,
                item.data if difference.value else current.data or {},
                {**current.tags, **item.tags},
                item.description if difference.description else current.description,
                {**current.flags, **item.flags},
            )

    def delete(self, expected: ActualItem) -> None:
        with self._lock:
            current = self._items.get(expected.address)
            if current is None:
                return
            connector.expect_unmoved(self.target, expected, current)
            del self._items[expected.address]
            self._version += 1

    def describe(self) -> str:
        return "in memory"

    def put_unowned(self, address: str, data: Mapping[str, str], tags: Mapping[str, str] | None = None) -> None:
        """Plant an item with no ownership marker, as if someone else had made it."""
        with self._lock:
            self._store(address, None, _secrets(data), dict(tags or {}), None, {})

    def put_owned(
        self,
        address: str,
        data: Mapping[str, str],
        owner: Ownership,
        *,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        flags: Mapping[str, Any] | None = None,
    ) -> None:
        """Plant an item carrying `owner`'s marker, as if an earlier run had written it."""
        with self._lock:
            self._store(address, owner, _secrets(data), dict(tags or {}), description, dict(flags or {}))

    def snapshot(self) -> dict[str, ActualItem]:
        """A copy of every item, values still hidden."""
        with self._lock:
            return {address: _copy(item) for address, item in self._items.items()}

    def values(self) -> dict[str, dict[str, str]]:
        """Every item's keys with their values revealed, for test assertions only."""
        with self._lock:
            return {
                address: {key: value.reveal() for key, value in (item.data or {}).items()}
                for address, item in self._items.items()
            }

    def _store(
        self,
        address: str,
        owner: Ownership | None,
        data: Mapping[str, Secret],
        tags: Mapping[str, str],
        description: str | None,
        flags: Mapping[str, Any],
    ) -> None:
        # The caller holds the lock.
        self._version += 1
        self._items[address] = ActualItem(
            address=address,
            owner=owner,
            data=dict(data),
            tags=dict(tags),
            description=description,
            flags=dict(flags),
            version=str(self._version),
        )

    def __repr__(self) -> str:
        return f"MemorySink(target={self.target!r}, items={len(self._items)})"


def _holds(current: ActualItem | None, item: DesiredItem) -> bool:
    """Whether `current` is already `item` as written: owner, data, tags, description and flags."""
    return (
        current is not None
        and current.owner == item.owner
        and current.data == item.data
        and all(current.tags.get(k) == v for k, v in item.tags.items())
        and (item.description is None or current.description == item.description)
        and all(current.flags.get(k) == v for k, v in item.flags.items())
    )


def _copy(item: ActualItem) -> ActualItem:
    """An item whose mappings the caller may change without touching the sink's own."""
    data = dict(item.data) if item.data is not None else None
    return replace(item, data=data, tags=dict(item.tags), flags=dict(item.flags))
