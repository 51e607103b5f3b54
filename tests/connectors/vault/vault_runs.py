"""Plan and apply runs of the vault sink without a manifest, a transport that injects faults, and the checks that
a marker sits only on data syncd wrote: for the fault and concurrency tests."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import hvac
import requests

from connectors.vault import VaultSink
from connectors.vault.kv2_marker import MARKER_VERSION
from connectors.vault.sink import OWNER_KEY
from syncd.apply import apply_plan
from syncd.connector import MARKER_INSTANCE, Scope
from syncd.diff import Policy, PruneScope, diff_target
from syncd.model import Action, Change, ChangeResult, ConflictPolicy, DesiredItem, Plan
from syncd.retry import RetryPolicy
from tests.connectors.vault.vault_support import sink_options, sink_with
from tests.fakes.openbao import OpenBaoServer

TARGET = "vault-target"
RETRY = RetryPolicy(attempts=3, initial_delay=0)
ADOPT_AND_PRUNE = Policy(on_conflict=ConflictPolicy.ADOPT, prune=True)


class Killed(BaseException):
    """The process died here. A BaseException: no `except Exception` in syncd catches it, and the vault sink and
    apply have no `finally` that would write anything on the way out."""


def _injected_500(url: str) -> requests.Response:
    response = requests.Response()
    response.status_code = 500
    response._content = b'{"errors": ["injected fault"]}'
    response.headers["Content-Type"] = "application/json"
    response.url = url
    return response


class FaultSession(requests.Session):
    """A requests session for hvac that numbers the sink's KV calls (login and mount lookups are not counted)
    and, at call `at`, answers 500 without sending it ("error"), sends it and answers 500 ("lost"), or sends
    it and then kills the run ("kill": this and every later request raises Killed). `calls` lists them as
    'METHOD api/path'. `before`, when set, is called with each counted call before it is sent; `refuse`, when set,
    answers 500 without sending to every call it returns True for."""

    def __init__(self, fault: str | None = None, at: int = 0) -> None:
        super().__init__()
        self.fault, self.at = fault, at
        self.calls: list[str] = []
        self.killed = False
        self.before: Callable[[str], None] | None = None
        self.refuse: Callable[[str], bool] | None = None
        self._lock = threading.Lock()

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if self.killed:
            raise Killed()
        method_text = method.decode() if isinstance(method, bytes) else method
        url_text = url.decode() if isinstance(url, bytes) else url
        call = f"{method_text.upper()} {urlsplit(url_text).path.removeprefix('/v1/')}"
        if call.partition(" ")[2].startswith(("auth/", "sys/")):
            return super().request(method, url, *args, **kwargs)
        with self._lock:
            self.calls.append(call)
            number = len(self.calls)
        if self.before is not None:
            self.before(call)
        if (number == self.at and self.fault == "error") or (self.refuse is not None and self.refuse(call)):
            return _injected_500(url_text)
        response = super().request(method, url, *args, **kwargs)
        if number == self.at and self.fault == "lost":
            return _injected_500(url_text)
        if number == self.at and self.fault == "kill":
            self.killed = True
            raise Killed()
        return response


def sink_on(server: OpenBaoServer, prefix: str, session: requests.Session | None = None, **options: Any) -> VaultSink:
    """A fresh sink (its own hvac client, through `session` when given) for one run."""
    client = hvac.Client(url=server.address, token="", session=session or requests.Session())
    return sink_with(TARGET, sink_options(server, prefix, **options), client)


def plan(
    sink: VaultSink, desired: Sequence[DesiredItem], instance: str, policy: Policy = ADOPT_AND_PRUNE
) -> list[Change]:
    """What a plan of `desired` by `instance` would do: observe, diff, as the engine does (which gives
    each desired item the sink's flags)."""
    desired = [dataclasses.replace(item, flags=dict(sink.flags(sink.Destination()))) for item in desired]
    observation = sink.observe(desired, Scope(instance, ("*",)))
    actual, owned = observation.items, observation.owned
    syncs = {item.owner.sync for item in desired} | {"app"}
    scope = PruneScope(policies=dict.fromkeys(syncs, policy), known_syncs=syncs, prune_orphans=True)
    return diff_target(instance, TARGET, list(desired), actual, owned, scope)


def apply(sink: VaultSink, changes: Sequence[Change], instance: str, concurrency: int = 1) -> tuple[ChangeResult, ...]:
    the_plan = Plan(instance, "", "", (TARGET,), ("app",), tuple(changes))
    return apply_plan(the_plan, {TARGET: sink}, retry=RETRY, concurrency={TARGET: concurrency})


def actions(changes: Sequence[Change]) -> dict[str, Action]:
    return {change.address: change.action for change in changes}


def standing_markers(root: hvac.Client, paths: Sequence[str], mount: str = "secret") -> dict[str, tuple[str, dict]]:
    """Per KV v2 path whose marker names its current version: (instance, that version's data, {} when deleted)."""
    found = {}
    for path in paths:
        try:
            meta = root.secrets.kv.v2.read_secret_metadata(path, mount_point=mount)["data"]
        except hvac.exceptions.InvalidPath:
            continue
        custom = meta.get("custom_metadata") or {}
        current = meta["current_version"]
        if MARKER_INSTANCE not in custom or custom.get(MARKER_VERSION) != str(current):
            continue
        data: dict = {}
        if current and not meta["versions"][str(current)]["deletion_time"]:
            data = root.secrets.kv.v2.read_secret_version(path, mount_point=mount, raise_on_deleted_version=True)[
                "data"
            ]["data"]
        found[path] = (custom[MARKER_INSTANCE], data)
    return found


def assert_markers_only_on_syncd_data(
    root: hvac.Client, written: Mapping[str, Sequence[Mapping[str, str]]], mount: str = "secret"
) -> None:
    """Every KV v2 path whose marker names its current version holds data syncd wrote there (or none)."""
    for path, (_, data) in standing_markers(root, list(written), mount).items():
        assert not data or data in [dict(d) for d in written[path]], f"{path}: marked, holding data syncd did not write"


def syncd_keys(root: hvac.Client, path: str, mount: str = "secret") -> dict[str, str]:
    """The syncd.io/ keys in a KV v2 path's custom_metadata ({} when it has no metadata)."""
    try:
        meta = root.secrets.kv.v2.read_secret_metadata(path, mount_point=mount)["data"]
    except hvac.exceptions.InvalidPath:
        return {}
    return {key: value for key, value in (meta.get("custom_metadata") or {}).items() if key.startswith("syncd.io/")}


def assert_no_marker_keys_off_syncd_data(
    root: hvac.Client, written: Mapping[str, Sequence[Mapping[str, str]]], mount: str = "secret"
) -> None:
    """No KV v2 path carries any syncd marker key unless its current version is live and holds data syncd wrote
    there: no leftover marker (of a stopped prune or create) sits on a version someone else wrote, or on none."""
    for path, values in written.items():
        keys = syncd_keys(root, path, mount)
        if keys:
            data = v2_data(root, path)
            assert data is not None and data in [dict(d) for d in values], (
                f"{path}: {sorted(keys)} on data syncd did not write"
            )


def kv1_data(root: hvac.Client, path: str, mount: str) -> dict | None:
    try:
        return root.secrets.kv.v1.read_secret(path, mount_point=mount)["data"]
    except hvac.exceptions.InvalidPath:
        return None


def kv1_owner(data: Mapping[str, str] | None) -> str | None:
    return None if data is None or OWNER_KEY not in data else data[OWNER_KEY].partition("/")[0]


def v2_data(root: hvac.Client, path: str) -> dict | None:
    """The live current data of a KV v2 path; None when absent or deleted."""
    try:
        return root.secrets.kv.v2.read_secret_version(path, raise_on_deleted_version=True)["data"]["data"]
    except hvac.exceptions.InvalidPath:
        return None
