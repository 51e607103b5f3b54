"""The `vault` source: each KV path is a secret, its keys the secret's keys.

The connection (it lives across runs) remembers each KV v2 path's last read: a later read fetches only the metadata,
and the data again only when the version, or that version's created_time, moved (a path removed with `kv metadata
delete` and written again restarts at version 1). `list` reads each path's metadata to leave out secrets whose latest
version is deleted. A policy without `read` on the metadata turns both off, once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.vault.client import MAX_IN_FLIGHT, VaultClient
from connectors.vault.errors import Denied
from connectors.vault.kv import KvV1, KvV2, Metadata, State, secrets, text, walk
from connectors.vault.options import VaultSourceOptions, clean_path
from connectors.vault.policy import source_policy
from syncd.connector import UNLIMITED, AccessPolicy, Capabilities, Location, RateLimiter, Source, in_parallel
from syncd.errors import SourceError
from syncd.model import SourceSecret
from syncd.secret import Secret

log = logging.getLogger("syncd.connectors.vault")


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
    """The source's connection, and what it learns across runs: each path's last read, and whether the policy lets
    it read metadata."""

    def __init__(self, options: VaultSourceOptions, client: Any = None, **kwargs: Any) -> None:
        super().__init__(options, client, permanent=SourceError, **kwargs)
        self.reads_lock = threading.Lock()
        self.reads: dict[str, _Read] = {}
        self.metadata_readable = True


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
        return self._read_v2(kv, path, key)

    def list(self, prefix: str) -> list[str]:
        folder = self._key(prefix, allow_root=True)
        kv = self._store()
        paths = walk(kv, [f"{folder}/" if folder else ""])
        metas = self._metadata(kv, paths) if isinstance(kv, KvV2) and paths else None
        if metas is None:
            return paths
        # A secret whose latest version was deleted is gone, as far as syncs of its folder go.
        return [path for path, meta in zip(paths, metas, strict=True) if meta is not None and meta.live]

    def describe(self) -> str:
        return f"vault {self.options.address} {self.options.mount}/"

    def location(self, path: str) -> Location:
        return self.options.location(path)

    def _store(self) -> KvV1 | KvV2:
        version = self.connection.kv_version()
        if version == 1 and self.options.versions:
            raise SourceError(f"versions needs KV version 2, and mount {self.options.mount!r} is KV version 1")
        return KvV2(self.connection, name_items=False) if version == 2 else KvV1(self.connection, name_items=False)

    def _read_v2(self, kv: KvV2, path: str, key: str) -> SourceSecret:
        pin = self.options.versions.get(key)
        with self.connection.reads_lock:
            cached = self.connection.reads.get(key)
        metas = self._metadata(kv, [key]) if cached is not None else None
        meta = metas[0] if metas else None
        if metas and meta is None:
            raise SourceError(self._missing(key))
        wanted = pin
        if meta is not None:
            wanted = pin or meta.current_version
            self._check(key, wanted, meta.state(wanted), pinned=pin is not None)
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

    def _metadata(self, kv: KvV2, paths: Sequence[str]) -> list[Metadata | None] | None:
        """Each path's metadata (None for a path without any); None when the policy grants no 'read' on it."""
        if not self.connection.metadata_readable:
            return None
        try:
            return in_parallel(lambda path: kv.metadata(path, optional=True), paths, MAX_IN_FLIGHT)
        except Denied:
            if self.connection.metadata_readable:
                self.connection.metadata_readable = False
                log.info(
                    "the Vault policy grants no 'read' on %s/metadata/: every run reads every secret's data again",
                    self.options.mount,
                )
            return None

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
