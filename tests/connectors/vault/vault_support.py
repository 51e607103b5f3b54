"""Helpers for the vault connector tests: connectors pointed at an OpenBao server, policies, roles, a clock."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import hvac

from connectors.vault import VaultSink, VaultSinkOptions, VaultSource, VaultSourceOptions
from connectors.vault.source import SourceConnection
from syncd.connector import Observation, Scope, Sink
from syncd.diff import difference
from syncd.model import ActualItem, DesiredItem, Granularity, Ownership
from syncd.secret import Secret
from tests.fakes.openbao import CountingSession, OpenBaoServer

OWNER = Ownership("vault-test", "app")


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def token_auth(token: str = "root") -> dict[str, str]:
    return {"method": "token", "token": token}


def source_options(server: OpenBaoServer, **options: Any) -> VaultSourceOptions:
    return VaultSourceOptions.model_validate({"address": server.address, "auth": token_auth(), **options})


def sink_options(server: OpenBaoServer, prefix: str, **options: Any) -> VaultSinkOptions:
    return VaultSinkOptions.model_validate(
        {"address": server.address, "auth": token_auth(), "prefix": prefix, **options}
    )


def counted_client(server: OpenBaoServer) -> tuple[hvac.Client, CountingSession]:
    """An hvac client (no token yet) whose requests are counted."""
    session = CountingSession()
    return hvac.Client(url=server.address, token="", session=session), session


def make_source(server: OpenBaoServer, **options: Any) -> VaultSource:
    return VaultSource(source_options(server, **options))


def source_on(
    options: VaultSourceOptions, client: hvac.Client | None = None, clock: Callable[[], float] | None = None
) -> VaultSource:
    """A source on a connection of its own (through `client`, on `clock` when given)."""
    return VaultSource(options, SourceConnection(options, client, **({"clock": clock} if clock else {})))


def make_sink(server: OpenBaoServer, prefix: str, target: str = "vault-target", **options: Any) -> VaultSink:
    return VaultSink(target, sink_options(server, prefix, **options))


def sink_with(target: str, options: VaultSinkOptions, client: hvac.Client | None = None) -> VaultSink:
    """A sink on a connection of its own, through `client` when given."""
    return VaultSink(target, options, VaultSink.connect(target, options, client))


# The sink's three calls, as the core makes them.


def observe(sink: Sink, desired: Sequence[DesiredItem] = (), instance: str = OWNER.instance) -> Observation:
    """What `sink` observes for `desired`, with a scope covering the whole target."""
    return sink.observe(desired, Scope(instance, ("*",)))


def read(sink: Sink, addresses: Sequence[str]) -> dict[str, ActualItem]:
    """What `observe` finds at `addresses` (desired items holding no data)."""
    return dict(observe(sink, [item(address, {}) for address in addresses]).items)


def owned(sink: Sink, instance: str = OWNER.instance) -> dict[str, ActualItem]:
    """What `observe` reports as `instance`'s, in the whole target."""
    return dict(observe(sink, [], instance).owned)


def write(sink: Sink, desired: DesiredItem, expected: ActualItem | None) -> None:
    """Write `desired` over `expected` with the difference the core computes (adopting an item found without a
    marker, taking over one of another sync)."""
    found = difference(desired, expected)
    if expected is not None and expected.owner is None:
        found = replace(found, adopt=True)
    elif expected is not None and expected.owner != desired.owner:
        found = replace(found, owner_was=expected.owner.sync)
    sink.write(desired, expected, found)


def item(address: str, data: Mapping[str, str], owner: Ownership = OWNER, target: str = "vault-target") -> DesiredItem:
    return DesiredItem(
        target=target,
        address=address,
        owner=owner,
        data={key: Secret(value) for key, value in data.items()},
        granularity=Granularity.DOCUMENT,
    )


def plain(data: Mapping[str, Secret] | None) -> dict[str, str]:
    return {key: value.reveal() for key, value in (data or {}).items()}


def ensure_kv1(root: hvac.Client, path: str = "kv1") -> str:
    """A KV version 1 mount at `path`, enabled once per server."""
    if f"{path}/" not in root.sys.list_mounted_secrets_engines()["data"]:
        root.sys.enable_secrets_engine("kv", path=path, options={"version": "1"})
    return path


def ensure_approle(root: hvac.Client) -> None:
    if "approle/" not in root.sys.list_auth_methods()["data"]:
        root.sys.enable_auth_method("approle")


def approle_for(root: hvac.Client, policy_hcl: str, **role: Any) -> tuple[str, str]:
    """A new AppRole whose tokens carry only a new policy made of `policy_hcl`: (role_id, secret_id)."""
    ensure_approle(root)
    name = f"role-{uuid.uuid4().hex[:10]}"
    root.sys.create_or_update_policy(name, policy_hcl)
    root.auth.approle.create_or_update_approle(name, token_policies=[name], **role)
    role_id = root.auth.approle.read_role_id(name)["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id(name)["data"]["secret_id"]
    return role_id, secret_id


def token_with_policy(root: hvac.Client, policy_hcl: str, **token: Any) -> str:
    """A new token carrying the default policy and a new policy made of `policy_hcl`."""
    name = f"policy-{uuid.uuid4().hex[:10]}"
    root.sys.create_or_update_policy(name, policy_hcl)
    return root.auth.token.create(policies=[name], **token)["auth"]["client_token"]
