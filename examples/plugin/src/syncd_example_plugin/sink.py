"""The `example-json` sink: every item in one JSON file, each stamped with syncd's ownership marker.

The file holds `{"items": {ADDRESS: {"marker": {...}, "data": {KEY: VALUE}, "version": N}}}`; an item without a
`marker` is someone else's. Every change is a read-modify-write of the whole file under an advisory lock on
`PATH.lock`, and the file is replaced atomically, so concurrent writers and a crash at any point leave it whole.
Each item's `version` counts its writes; a write or a delete goes ahead only if the item is still as the plan
saw it (`expect_unmoved`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from syncd import connector
from syncd.errors import PermanentError
from syncd.model import ActualItem, DesiredItem, Difference
from syncd.secret import Secret

Entries = dict[str, dict[str, Any]]


class JsonFileSink(connector.Sink):
    class Options(connector.Options):
        path: str = connector.path_field(description="The JSON file that holds the items; made on first write.")

    capabilities = connector.Capabilities(versions=True)

    @property
    def path(self) -> Path:
        return Path(self.options.path)

    def describe(self) -> str:
        return str(self.path)

    def location(self) -> connector.Location:
        return connector.file_location(str(self.path))

    def required_access(self, patterns: Sequence[str]) -> connector.AccessPolicy | None:
        # A local file: no access system governs it, so `syncd policy` has nothing to print for this target.
        return None

    def observe(self, desired: Sequence[DesiredItem], scope: connector.Scope) -> connector.Observation:
        entries = self._load()
        items = {i.address: self._actual(i.address, entries[i.address]) for i in desired if i.address in entries}
        owned = {
            address: actual
            for address, entry in entries.items()
            if scope.covers(address)
            and (actual := self._actual(address, entry)).owner is not None
            and actual.owner.instance == scope.instance
        }
        return connector.Observation(items, owned)

    def write(self, item: DesiredItem, expected: ActualItem | None, difference: Difference) -> None:
        # One entry holds the whole item, so every write sets all of it, whatever `difference` names.
        with self._locked() as entries:
            entry = entries.get(item.address)
            current = self._actual(item.address, entry) if entry is not None else None
            if current is not None and current.owner == item.owner and current.data == item.data:
                return  # a retry after a lost answer finds its own write done
            connector.expect_unmoved(self.target, expected, current)
            entries[item.address] = {
                "marker": connector.marker_tags(item.owner),
                "data": {key: value.reveal() for key, value in item.data.items()},
                "version": (entry or {}).get("version", 0) + 1,
            }

    def delete(self, expected: ActualItem) -> None:
        with self._locked() as entries:
            entry = entries.get(expected.address)
            if entry is None:
                return
            connector.expect_unmoved(self.target, expected, self._actual(expected.address, entry))
            del entries[expected.address]

    def _actual(self, address: str, entry: Mapping[str, Any]) -> ActualItem:
        return ActualItem(
            address=address,
            owner=connector.owner_of(entry.get("marker") or {}),
            data={key: Secret(value) for key, value in entry["data"].items()},
            version=str(entry.get("version", 0)),
        )

    def _load(self) -> Entries:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise PermanentError(f"cannot read {self.path}: {exc.strerror}", target=self.target) from None
        try:
            document = connector.load_json(text) if text.strip() else {"items": {}}
        except connector.DocumentError as exc:
            raise PermanentError(f"{self.path} is not valid JSON: {exc}", target=self.target) from None
        entries = document.get("items") if isinstance(document, dict) else None
        if not isinstance(entries, dict) or not all(_is_entry(e) for e in entries.values()):
            raise PermanentError(f"{self.path} does not hold example-json items", target=self.target)
        return entries

    @contextlib.contextmanager
    def _locked(self) -> Iterator[Entries]:
        """The file's entries, read under the lock and written back (atomically) when the block ends without
        an error."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = self._load()
            before = json.dumps(entries, sort_keys=True)
            yield entries
            if json.dumps(entries, sort_keys=True) != before:  # a retry or a delete of nothing writes nothing
                self._save(entries)

    def _save(self, entries: Entries) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"items": entries}, out, indent=2, sort_keys=True, ensure_ascii=False)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def _is_entry(entry: Any) -> bool:
    """An item as this sink writes it: string data, and a marker and a version of the right kinds if present."""
    if not isinstance(entry, dict):
        return False
    data, marker, version = entry.get("data"), entry.get("marker", {}), entry.get("version", 0)
    return (
        isinstance(data, dict)
        and all(isinstance(v, str) for v in data.values())
        and isinstance(marker, dict)
        and all(isinstance(v, str) for v in marker.values())
        and isinstance(version, int)
        and not isinstance(version, bool)
    )
