"""The KV calls the vault source and sink make, for KV v2 and KV v1, through one VaultClient.

Absent is an answer here (None), not an error. Each call names the ACL
capability and API path it needs, so a 403 says exactly what to grant.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import hvac
import hvac.exceptions
from hvac.utils import format_url

from connectors.vault.client import VaultClient
from connectors.vault.errors import Denied, Operation
from syncd.secret import Secret

T = TypeVar("T")
State = Literal["live", "deleted", "destroyed", "missing"]


class CasMismatch(Exception):
    """A KV v2 data or metadata write whose check-and-set version no longer matched."""


class NotOffered(Exception):
    """The server has no KV v2 `detailed-metadata` listing (HashiCorp Vault, OpenBao before 2.0)."""


@dataclass(frozen=True)
class Entry:
    """One read of a KV path. `data` is None when the version read is deleted or destroyed; `created` is that
    version's created_time."""

    data: dict[str, Any] | None
    version: int | None = None
    custom_metadata: Mapping[str, str] = field(default_factory=dict)
    state: State = "live"
    created: str | None = None


@dataclass(frozen=True)
class Metadata:
    """A KV v2 path's metadata: its current version, each version's state and created_time, its custom_metadata,
    and `metadata_version`, the check-and-set version of metadata writes (OpenBao's current_metadata_version; None
    from HashiCorp Vault, which does not report it)."""

    current_version: int
    custom_metadata: Mapping[str, str]
    states: Mapping[int, State]
    created_times: Mapping[int, str] = field(default_factory=dict)
    metadata_version: int | None = None

    @property
    def live(self) -> bool:
        return self.state(self.current_version) == "live"

    def state(self, version: int) -> State:
        return self.states.get(version, "missing")

    def entry(self) -> Entry:
        """The current version as a read without its data would answer it."""
        return Entry(None, self.current_version, self.custom_metadata, self.state(self.current_version))


def text(value: Any) -> str | None:
    """A KV value as text: strings as they are, numbers and booleans in their JSON spelling; None otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


def plain(data: Mapping[str, Any]) -> dict[str, str]:
    """A KV version's data as text: a number, list or object another writer stored reads as its JSON text, which
    differs from any string syncd writes."""
    return {
        key: found if (found := text(value)) is not None else json.dumps(value, sort_keys=True)
        for key, value in data.items()
    }


def secrets(data: Mapping[str, Any]) -> dict[str, Secret]:
    return {key: Secret(value) for key, value in plain(data).items()}


class _Kv:
    """What both KV versions share: the connection, the mount, and one way to make a call."""

    def __init__(self, vault: VaultClient, *, name_items: bool) -> None:
        self.vault = vault
        self.mount = vault.options.mount
        # Sink errors name the item (the path); source errors name the path in their sentence instead.
        self._name_items = name_items

    def _call(self, fn: Callable[[hvac.Client], T], capability: str, api_path: str, path: str) -> T | None:
        """`fn(client)`, a 404 answering None; its errors name `capability` on `MOUNT/api_path`."""

        def run(client: hvac.Client) -> T | None:
            try:
                return fn(client)
            except hvac.exceptions.InvalidPath:
                return None

        address = path if self._name_items else None
        return self.vault.call(run, Operation(capability, f"{self.mount}/{api_path}", address))


class KvV2(_Kv):
    """KV version 2: data, metadata with custom_metadata, versions, check-and-set."""

    def read(self, path: str, version: int | None = None) -> Entry | None:
        def get(client: hvac.Client) -> Entry | None:
            try:
                answer = client.secrets.kv.v2.read_secret_version(
                    path, version=version, mount_point=self.mount, raise_on_deleted_version=True
                )
            except hvac.exceptions.InvalidPath as exc:
                # A deleted or destroyed version answers 404 with its metadata.
                meta = ((exc.json or {}).get("data") or {}).get("metadata") if isinstance(exc.json, dict) else None
                if not meta:
                    return None
                custom = meta.get("custom_metadata") or {}
                return Entry(None, meta.get("version"), custom, _state(meta), meta.get("created_time"))
            meta = answer["data"]["metadata"]
            custom = meta.get("custom_metadata") or {}
            return Entry(answer["data"]["data"] or {}, meta["version"], custom, "live", meta.get("created_time"))

        return self._call(get, "read", f"data/{path}", path)

    def metadata(self, path: str) -> Metadata | None:
        """The path's metadata, None when it has none."""

        def get(client: hvac.Client) -> Metadata:
            return _metadata(client.secrets.kv.v2.read_secret_metadata(path, mount_point=self.mount)["data"])

        return self._call(get, "read", f"metadata/{path}", path)

    def list_detailed(
        self, folder: str, *, after: str | None = None, limit: int | None = None
    ) -> tuple[list[str], dict[str, Metadata]] | None:
        """One folder level with each secret's metadata, in one request (OpenBao's `LIST detailed-metadata/`):
        the names, as `list` gives them, and the metadata by name; with `after` and `limit`, at most `limit` names
        sorting after `after`. None for a folder holding nothing; Denied when the policy grants no `list` on it,
        NotOffered when the server has no such endpoint."""
        below = folder + "/" if folder else ""
        url = format_url("/v1/{mount}/detailed-metadata/{path}", mount=self.mount, path=below)
        params: dict[str, Any] = {}
        if after is not None:
            params["after"] = after
        if limit is not None:
            params["limit"] = limit

        def get(client: hvac.Client) -> tuple[list[str], dict[str, Metadata]] | None:
            try:
                data = client.adapter.list(url, params=params)["data"]
            except hvac.exceptions.InvalidPath as exc:
                # A folder holding nothing answers 404 with no error; a path the KV engine does not know answers
                # 404 with the warning "Invalid path for a versioned K/V secrets engine".
                if "Invalid path" in str((exc.json or {}).get("warnings") if isinstance(exc.json, dict) else ""):
                    raise NotOffered() from None
                return None
            except hvac.exceptions.UnsupportedOperation:
                raise NotOffered() from None
            keys = list(data.get("keys") or [])
            described = data.get("key_info") or {}
            return keys, {key: _metadata(described[key]) for key in keys if described.get(key) and key[-1:] != "/"}

        api_path = f"{self.mount}/detailed-metadata/{below}"
        return self.vault.call(get, Operation("list", api_path, below if self._name_items else None, optional=True))

    def list(self, folder: str) -> list[str] | None:
        below = folder + "/" if folder else ""
        return self._call(
            lambda c: c.secrets.kv.v2.list_secrets(folder, mount_point=self.mount)["data"]["keys"],
            "list",
            f"metadata/{below}",
            below,
        )

    def write(self, path: str, data: Mapping[str, str], cas: int) -> int:
        """Write a new version if the current one is still `cas` (0: none yet); returns the new version."""

        def post(client: hvac.Client) -> int:
            try:
                answer = client.secrets.kv.v2.create_or_update_secret(path, dict(data), cas=cas, mount_point=self.mount)
            except hvac.exceptions.InvalidRequest as exc:
                if any("check-and-set" in str(error) for error in exc.errors or []):
                    raise CasMismatch() from None
                raise
            return int(answer["data"]["version"])

        return self.vault.call(post, Operation("create|update", f"{self.mount}/data/{path}", path))

    def set_custom_metadata(
        self, path: str, custom: Mapping[str, str], *, exists: bool, metadata_cas: int | None = None
    ) -> None:
        """Replace the path's custom_metadata; with `metadata_cas`, only while the metadata is still at that
        metadata version (0: the path has no metadata yet), else CasMismatch. HashiCorp Vault ignores it."""
        # A POST carrying only custom_metadata leaves max_versions and the other settings as they are.
        url = f"/v1/{self.mount}/metadata/{path}"
        body: dict[str, Any] = {"custom_metadata": dict(custom)}
        if metadata_cas is not None:
            body["metadata_cas"] = metadata_cas

        def post(client: hvac.Client) -> None:
            try:
                client.adapter.post(url, json=body)
            except hvac.exceptions.InvalidRequest as exc:
                if any("check-and-set" in str(e) or "metadata_cas" in str(e) for e in exc.errors or []):
                    raise CasMismatch() from None
                raise

        self.vault.call(post, Operation("update" if exists else "create", f"{self.mount}/metadata/{path}", path))

    def delete_version(self, path: str, version: int) -> None:
        self.vault.call(
            lambda client: client.secrets.kv.v2.delete_secret_versions(path, [version], mount_point=self.mount),
            Operation("update", f"{self.mount}/delete/{path}", path),
        )

    def destroy(self, path: str) -> None:
        self.vault.call(
            lambda client: client.secrets.kv.v2.delete_metadata_and_all_versions(path, mount_point=self.mount),
            Operation("delete", f"{self.mount}/metadata/{path}", path),
        )


class KvV1(_Kv):
    """KV version 1: plain key/value paths, no versions, no metadata."""

    def read(self, path: str) -> Entry | None:
        return self._call(
            lambda c: Entry(c.secrets.kv.v1.read_secret(path, mount_point=self.mount)["data"] or {}), "read", path, path
        )

    def list(self, folder: str) -> list[str] | None:
        below = folder + "/" if folder else ""
        return self._call(
            lambda c: c.secrets.kv.v1.list_secrets(folder, mount_point=self.mount)["data"]["keys"], "list", below, below
        )

    def write(self, path: str, data: Mapping[str, str]) -> None:
        # With a method, hvac sends the write alone instead of reading the path first to pick POST or PUT.
        def put(client: hvac.Client) -> None:
            client.secrets.kv.v1.create_or_update_secret(path, dict(data), method="PUT", mount_point=self.mount)

        self.vault.call(put, Operation("create|update", f"{self.mount}/{path}", path))

    def delete(self, path: str) -> None:
        self.vault.call(
            lambda client: client.secrets.kv.v1.delete_secret(path, mount_point=self.mount),
            Operation("delete", f"{self.mount}/{path}", path),
        )


def walk(kv: KvV1 | KvV2, prefixes: Sequence[str], details: dict[str, Metadata] | None = None) -> list[str]:
    """Every secret path that starts with one of `prefixes` ('' for the whole mount), recursively, sorted. LIST
    answers one folder level (folders end in '/'): only folders inside a prefix or leading to one are listed, each
    once, a level's folders together on the connection's pool; a missing folder lists nothing.

    With `details` (KV v2), folders are listed with their secrets' metadata where the connection can
    (`detailed-metadata`), and `details` gets each found path's; a path missing from it was listed without."""

    def wanted(name: str) -> bool:
        return any(name.startswith(p) or (name.endswith("/") and p.startswith(name)) for p in prefixes)

    def list_folder(folder: str) -> tuple[list[str], dict[str, Metadata]]:
        if details is not None and isinstance(kv, KvV2) and kv.vault.detailed_listing:
            try:
                return kv.list_detailed(folder) or ([], {})
            except (Denied, NotOffered):
                kv.vault.detailed_listing = False
        return kv.list(folder) or [], {}

    found: list[str] = []
    listed: set[str] = set()
    level = sorted({p.rpartition("/")[0] for p in prefixes})
    while level:
        listed.update(level)
        below: set[str] = set()
        for base, (keys, described) in zip(level, kv.vault.map(list_folder, level), strict=True):
            for key in keys:
                # A name may be both a secret ("db") and a folder ("db/").
                name = f"{base}/{key}" if base else key
                if not wanted(name):
                    continue
                if key.endswith("/"):
                    below.add(name.rstrip("/"))
                else:
                    found.append(name)
                    if details is not None and key in described:
                        details[name] = described[key]
        level = sorted(below - listed)
    return sorted(found)


def _metadata(data: Mapping[str, Any]) -> Metadata:
    """A KV v2 metadata answer (of one path, or one entry of a detailed listing) as a Metadata."""
    versions = {int(number): info for number, info in (data.get("versions") or {}).items()}
    states = {number: _state(info) for number, info in versions.items()}
    created = {number: info["created_time"] for number, info in versions.items() if info.get("created_time")}
    custom = data.get("custom_metadata") or {}
    current = data.get("current_version") or 0
    return Metadata(current, custom, states, created, data.get("current_metadata_version"))


def _state(meta: Mapping[str, Any]) -> State:
    if meta.get("destroyed"):
        return "destroyed"
    # With `delete_version_after` set, a live version carries the future time it will be deleted at.
    deletion = meta.get("deletion_time")
    if deletion and _passed(deletion):
        return "deleted"
    return "live"


def _passed(moment: str) -> bool:
    try:
        when = dt.datetime.fromisoformat(moment)
    except ValueError:
        return True
    return when <= dt.datetime.now(dt.UTC)
