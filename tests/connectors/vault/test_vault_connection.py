"""The vault connection: every request through the target's rate limiter, each request sent once (no retries of
hvac's own), a Retry-After the server sends carried by the TransientError, and a connection that outlives runs."""

from __future__ import annotations

import pytest

from connectors.vault import VaultSink
from syncd.diff import Policy
from syncd.errors import TransientError
from syncd.model import Action
from syncd.ratelimit import RateLimiter
from tests.connectors.vault.vault_runs import actions, apply, plan, sink_on
from tests.connectors.vault.vault_support import (
    OWNER,
    counted_client,
    ensure_kv1,
    item,
    observe,
    sink_options,
    source_on,
    source_options,
    write,
)
from tests.fakes.openbao import OpenBaoServer

FAIL = Policy(prune=True)


class CountingLimiter(RateLimiter):
    """A limiter that never waits and counts the requests asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.acquired = 0

    def acquire(self, operation: str = "request") -> float:
        self.acquired += 1
        return 0.0


def test_every_request_of_the_connection_goes_through_the_limiter(openbao: OpenBaoServer, vault_prefix: str) -> None:
    """Token lookup, mount lookup, reads, lists, writes and deletes each wait for the rate limiter once."""
    client, session = counted_client(openbao)
    limiter = CountingLimiter()
    options = sink_options(openbao, vault_prefix)
    sink = VaultSink("t", options, VaultSink.connect("t", options, client, limiter))
    address = f"{vault_prefix}/db"
    write(sink, item(address, {"k": "v"}), None)
    sink.delete(observe(sink, [item(address, {})]).items[address])
    assert limiter.acquired == sum(session.calls.values()) > 5


def test_a_rate_limited_answer_carries_vaults_retry_after_and_is_sent_once(fresh_openbao: OpenBaoServer) -> None:
    """A 429 from a rate limit quota is a TransientError asking for the wait Vault's Retry-After names; hvac does
    not try again on its own: one request per call."""
    root = fresh_openbao.client()
    root.secrets.kv.v2.create_or_update_secret("db", {"k": "v"})
    root.adapter.post("/v1/sys/quotas/config", json={"enable_rate_limit_response_headers": True})
    root.adapter.post("/v1/sys/quotas/rate-limit/slow", json={"rate": 1, "interval": "60s", "path": "secret/"})
    client, session = counted_client(fresh_openbao)
    source = source_on(source_options(fresh_openbao, kv_version=2), client)
    with pytest.raises(TransientError) as raised:
        for _ in range(3):
            source.read("db")
    assert raised.value.retry_after is not None and 0 < raised.value.retry_after <= 60
    assert "answered HTTP 429 (rate limited)" in str(raised.value)
    assert session.count("GET", "secret/") == 2


def test_a_sealed_vault_is_asked_once_per_call(fresh_openbao: OpenBaoServer) -> None:
    """A 503 from a sealed Vault is one request: the core's retry policy is the only retry layer."""
    client, session = counted_client(fresh_openbao)
    source = source_on(source_options(fresh_openbao, kv_version=2), client)
    fresh_openbao.client().secrets.kv.v2.create_or_update_secret("db", {"k": "v"})
    source.read("db")
    fresh_openbao.client().sys.seal()
    session.reset()
    with pytest.raises(TransientError) as raised:
        source.read("db")
    assert raised.value.retry_after is None
    assert sum(session.calls.values()) == 1


@pytest.mark.parametrize("kv", [2, 1])
def test_two_plans_on_one_sink_object_see_a_change_made_between_them(
    openbao: OpenBaoServer, vault_prefix: str, kv: int
) -> None:
    """A sink object reused for a second run keeps nothing of the first: a hand edit made between the two plans
    turns the second plan's no-op into a conflict, and a path deleted between them into a create."""
    root = openbao.client()
    mount = "secret" if kv == 2 else ensure_kv1(root)
    kept, edited = f"{vault_prefix}/kept", f"{vault_prefix}/edited"
    desired = [item(kept, {"k": "v"}), item(edited, {"k": "v"})]
    sink = sink_on(openbao, vault_prefix, mount=mount, kv_version=kv)
    apply(sink, plan(sink, desired, OWNER.instance, FAIL), OWNER.instance)
    assert set(actions(plan(sink, desired, OWNER.instance, FAIL)).values()) == {Action.NOOP}
    if kv == 2:
        root.secrets.kv.v2.create_or_update_secret(edited, {"k": "by hand"})
        root.secrets.kv.v2.delete_metadata_and_all_versions(kept)
    else:
        root.secrets.kv.v1.create_or_update_secret(edited, {"k": "by hand"}, mount_point=mount)
        root.secrets.kv.v1.delete_secret(kept, mount_point=mount)
    assert actions(plan(sink, desired, OWNER.instance, FAIL)) == {kept: Action.CREATE, edited: Action.CONFLICT}
