"""The `vault` source: each KV path is a secret, its keys the secret's keys.

A KV v2 read is one request for the data, whose answer carries the version, its created_time, its deletion state
and the custom_metadata (a deleted or destroyed version answers 404 with that metadata): there is no metadata pass.

Where the server offers OpenBao's KV v2 `LIST detailed-metadata/` (every child of a folder with its versions and
their created_times, in one request), `list` uses it to leave out secrets whose latest version is deleted, and
`read_many` uses it, a page for the paths of one folder it is asked for, to skip every path whose version, and that
version's created_time, are those of the connection's last read of it: the connection lives across runs, so in the
daemon an unchanged path costs no request (a path removed with `kv metadata delete` and written again restarts at
version 1, with a new created_time). Without it (HashiCorp Vault, or a policy with no `list` there; the connection
stops asking), `list` reads each listed path's data to tell whether its latest version is live, and every read
reads the data. Each call asks Vault afresh: nothing one call learnt answers another.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.vault.client import MAX_IN_FLIGHT, VaultClient
from connectors.vault.errors import Denied
from connectors.vault.kv import KvV1, KvV2, Metadata, NotOffered, State, secrets, text, walk
from connectors.vault.options import VaultSourceOptions, clean_path
from connectors.vault.policy import source_policy
from syncd.connector import UNLIMITED, AccessPolicy, Capabilities, Location, RateLimiter, Source
from syncd.errors import SourceError, SyncdError
from syncd.model import SourceSecret
from syncd.secret import Secret

log = logging.getLogger("syncd.connectors.vault")

# A folder's detailed listing pays for itself in `read_many` from this many remembered paths in it.
LISTED_FROM = 2
# Names asked for beyond the wanted ones in a page of a folder's detailed listing: other names sorting between them.
PAGE_SLACK = 16


@dataclass(frozen=True)
class _Read:
    version: int
    # The version's created_time: a path deleted with `kv metadata delete` and written again restarts at 1.
    created: str | None
    data: Mapping[str, Secret]

    def still(self, version: int, meta: Metadata) -> bool:
        """Whether `version` in `meta` is the very version read, not only one with the same number."""
        return self.version == version and self.created is not None and self.created == meta.created_times.get(version)


class SourceConnection(VaultClient):
    """The source's connection, and what it learns across runs: each KV v2 path's last read."""

    def __init__(self, options: VaultSourceOptions, client: Any = None, **kwargs: Any) -> None:
        super().__init__(options, client, permanent=SourceError, **kwargs)
        self.reads_lock = threading.Lock()
        self.reads: dict[str, _Read] = {}
        self.told_no_detailed_listing = False
        # Folders whose detailed listing the policy denies (a sync of single paths is granted their data only): their
        # paths are read as usual, and the listing stays on for the other folders.
        self.unlisted_folders: set[str] = set()


class VaultSource(Source):
    """Reads secrets from a KV v2 or KV v1 mount; see the module docstring for what is remembered."""

    Options = VaultSourceOptions
    capabilities = Capabilities(max_concurrency=MAX_IN_FLIGHT)

    def __init__(self, options: VaultSourceOptions, connection: SourceConnection | None = None) -> None:
        super().__init__(options, connection)
        self.options: VaultSourceOptions = options
        self.connection: SourceConnection = connection or self.connect(options)

    @classmethod
    def connect(cls, options: VaultSourceOptions, client: Any = None, limiter: RateLimiter = UNLIMITED) -> Any:
        return SourceConnection(options, client, limiter=limiter)

    def required_access(self, patterns: Sequence[str]) -> AccessPolicy:
        return AccessPolicy("vault", source_policy(self.options, patterns))

    def read(self, path: str) -> SourceSecret:
        key = self._key(path, allow_root=False)
        kv = self._store()
        if isinstance(kv, KvV1):
            entry = kv.read(key)
            if entry is None:
                raise SourceError(self._missing(key))
            return SourceSecret(path=path, data=self._values(key, entry.data), version=None)
        return self._read_v2(kv, path, key, None)

    def read_many(self, paths: Sequence[str]) -> dict[str, SourceSecret | SyncdError]:
        """Each path's secret or the error reading it, on the connection's pool; on KV v2, the remembered paths of
        a folder are first checked against one page of its detailed listing."""
        unique = list(dict.fromkeys(paths))
        keys: dict[str, str] = {}
        kv: KvV1 | KvV2 | None = None
        with contextlib.suppress(SyncdError):  # a path or a mount in error: each read raises it for its path
            keys = {path: self._key(path, allow_root=False) for path in unique}
            kv = self._store()
        described = self._described(kv, list(keys.values())) if isinstance(kv, KvV2) else {}

        def read_one(path: str) -> SourceSecret | SyncdError:
            try:
                if isinstance(kv, KvV2) and path in keys:
                    return self._read_v2(kv, path, keys[path], described.get(keys[path]))
                return self.read(path)
            except SyncdError as exc:
                return exc

        return dict(zip(unique, self.connection.map(read_one, unique), strict=True))

    def list(self, prefix: str) -> list[str]:
        folder = self._key(prefix, allow_root=True)
        kv = self._store()
        if isinstance(kv, KvV1):
            return walk(kv, [f"{folder}/" if folder else ""])
        described: dict[str, Metadata] = {}
        paths = walk(kv, [f"{folder}/" if folder else ""], described)
        self._note_listing()
        unknown = [path for path in paths if path not in described]
        read = dict(zip(unknown, self.connection.map(lambda key: self._live_by_read(kv, key), unknown), strict=True))
        # A secret whose latest version was deleted is gone, as far as syncs of its folder go.
        return [path for path in paths if (described[path].live if path in described else read[path])]

    def _live_by_read(self, kv: KvV2, key: str) -> bool:
        """Whether a path's latest version is live, from a read of its data; a failed read keeps the path, for its
        read to report."""
        try:
            entry = kv.read(key)
        except SyncdError:
            return True
        return entry is not None and entry.state == "live"

    def _described(self, kv: KvV2, keys: Sequence[str]) -> dict[str, Metadata]:
        """The current metadata of the remembered paths among `keys`, from one page of each folder's detailed
        listing; a path it does not answer for is read as usual."""
        if not self.connection.detailed_listing:
            return {}
        with self.connection.reads_lock:
            remembered = [key for key in keys if key in self.connection.reads and key not in self.options.versions]
        by_folder: dict[str, list[str]] = defaultdict(list)
        for key in remembered:
            folder, _, name = key.rpartition("/")
            by_folder[folder].append(name)
        found: dict[str, Metadata] = {}
        for folder, names in by_folder.items():
            if len(names) < LISTED_FROM or not self.connection.detailed_listing:
                continue
            with self.connection.reads_lock:
                if folder in self.connection.unlisted_folders:
                    continue
            names.sort()
            try:
                page = kv.list_detailed(folder, after=_just_before(names[0]), limit=len(names) + PAGE_SLACK)
            except Denied:
                with self.connection.reads_lock:
                    self.connection.unlisted_folders.add(folder)
                continue
            except NotOffered:
                self.connection.detailed_listing = False
                self._note_listing()
                return found
            except SyncdError:
                continue  # each read of the folder's paths asks on its own, and reports what goes wrong
            base = f"{folder}/" if folder else ""
            described = page[1] if page else {}
            found.update({base + name: described[name] for name in names if name in described})
        return found

    def _note_listing(self) -> None:
        """Say once per connection that it lists without metadata."""
        if not self.connection.detailed_listing and not self.connection.told_no_detailed_listing:
            self.connection.told_no_detailed_listing = True
            log.info(
                "Vault offers no LIST on %s/detailed-metadata/ (an older server, or the policy grants no 'list' "
                "there): a listed folder costs a data read per secret, and every run reads every secret again",
                self.options.mount,
            )

    def describe(self) -> str:
        return f"vault {self.options.address} {self.options.mount}/"

    def location(self, path: str) -> Location:
        return self.options.location(path)

    def _store(self) -> KvV1 | KvV2:
        version = self.connection.kv_version()
        if version == 1 and self.options.versions:
            raise SourceError(f"versions needs KV version 2, and mount {self.options.mount!r} is KV version 1")
        return KvV2(self.connection, name_items=False) if version == 2 else KvV1(self.connection, name_items=False)

    def _read_v2(self, kv: KvV2, path: str, key: str, meta: Metadata | None) -> SourceSecret:
        """The path's secret; with `meta`, its metadata as just listed, the data is read only when it differs from
        the connection's last read."""
        pin = self.options.versions.get(key)
        wanted = pin
        if meta is not None:
            wanted = pin or meta.current_version
            self._check(key, wanted, meta.state(wanted), pinned=pin is not None)
            with self.connection.reads_lock:
                cached = self.connection.reads.get(key)
            if cached is not None and cached.still(wanted, meta):
                return SourceSecret(path=path, data=cached.data, version=str(wanted))
        entry = kv.read(key, wanted)
        if entry is None or entry.version is None:
            if pin is not None:
                self._check(key, pin, "missing", pinned=True)
            raise SourceError(self._missing(key))
        self._check(key, entry.version, entry.state, pinned=pin is not None)
        data = self._values(key, entry.data)
        with self.connection.reads_lock:
            self.connection.reads[key] = _Read(entry.version, entry.created, data)
        return SourceSecret(path=path, data=data, version=str(entry.version))

    def _check(self, key: str, version: int, state: State, *, pinned: bool) -> None:
        if state == "live":
            return
        if state == "missing" and not pinned:
            raise SourceError(self._missing(key))
        which = f"version {version}" if pinned else f"the latest version ({version})"
        where = f"{key!r} in mount {self.options.mount!r}"
        raise SourceError(f"{which} of {where} " + ("does not exist" if state == "missing" else f"is {state}"))

    def _values(self, key: str, data: Mapping[str, Any] | None) -> dict[str, Secret]:
        if not data:
            raise SourceError(f"secret {key!r} in mount {self.options.mount!r} has no keys")
        for name, value in data.items():
            if text(value) is None:
                kind = "null" if value is None else "list" if isinstance(value, list) else "nested object"
                raise SourceError(
                    f"key {name!r} of secret {key!r} in mount {self.options.mount!r} holds a {kind}, "
                    f"which syncd cannot copy; store it as text"
                )
        return secrets(data)

    def _missing(self, key: str) -> str:
        return f"no secret at {key!r} in mount {self.options.mount!r}"

    def _key(self, path: str, *, allow_root: bool) -> str:
        try:
            return clean_path("" if path.strip("/") == "." else path, "the path", allow_empty=allow_root)
        except ValueError as exc:
            raise SourceError(f"{exc} (source path {path!r})") from None


def _just_before(name: str) -> str:
    """A string sorting just before `name`, for a listing page's `after`: the greatest name before it is unknown, so
    its last character is stepped back one and followed by the greatest code point, which leaves out every name
    that only starts like it (a surrogate, which no request can carry, is stepped over)."""
    last = ord(name[-1]) - 1
    if 0xD800 <= last <= 0xDFFF:
        last = 0xD7FF
    return name[:-1] + (chr(last) + "\U0010ffff" if last >= 0 else "")
