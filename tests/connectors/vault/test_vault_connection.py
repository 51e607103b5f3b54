"""The vault connection: every request through the target's rate limiter, each request sent once (no retries of
hvac's own), a Retry-After the server sends carried by the TransientError, a connection that outlives runs, a
session that reads nothing from the environment, and one bounded pool of threads for all its runs."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from connectors.vault import VaultSink, VaultSource, VaultSourceOptions
from connectors.vault.client import MAX_IN_FLIGHT
from syncd.connector import Scope
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
    make_source,
    observe,
    plain,
    sink_options,
    source_on,
    source_options,
    token_auth,
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


def test_the_session_reads_no_proxy_ca_bundle_or_netrc_from_the_environment(
    openbao: OpenBaoServer, vault_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proxy variables naming a port where nothing listens, a CA bundle that does not exist and a .netrc with other
    credentials change nothing: the connection's session is set up from the options alone, once."""
    openbao.client().secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/db", {"k": "v"})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{probe.getsockname()[1]}"
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password not-the-token\n")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, nobody)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(tmp_path / "no-such-ca.pem"))
    monkeypatch.setenv("NETRC", str(netrc))
    source = make_source(openbao, kv_version=2)
    assert plain(source.read(f"{vault_prefix}/db").data) == {"k": "v"}
    assert source.list(f"{vault_prefix}/") == [f"{vault_prefix}/db"]
    sink = VaultSink("t", sink_options(openbao, vault_prefix, kv_version=2))
    assert sink.observe([], Scope(OWNER.instance, ("*",))).owned == {}


def test_one_pool_of_threads_serves_every_run_of_a_connection(
    openbao: OpenBaoServer, vault_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listings and reads of every run on a connection share its one pool: two runs of a source over 40 secrets in
    two folders, and two observations of a sink holding them, start at most MAX_IN_FLIGHT threads per connection."""
    root = openbao.client()
    names = [f"{folder}/s{i}" for folder in ("one", "two") for i in range(20)]
    for name in names:
        root.secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/{name}", {"k": name})
    started: list[str] = []
    start = threading.Thread.start

    def counted_start(thread: threading.Thread) -> None:
        started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted_start)
    options = source_options(openbao, kv_version=2)
    source = source_on(options)
    sink = VaultSink("t", sink_options(openbao, vault_prefix, kv_version=2))
    desired = [item(f"{vault_prefix}/{name}", {"k": name}) for name in names]
    for _ in range(2):
        run = VaultSource(options, source.connection)
        found = run.read_many(run.list(f"{vault_prefix}/"))
        assert len(found) == len(names) and not any(isinstance(s, Exception) for s in found.values())
        assert len(observe(VaultSink("t", sink.options, sink.connection), desired).items) == len(names)
    assert 0 < len(started) <= 2 * MAX_IN_FLIGHT, started


def test_a_server_that_never_answers_fails_the_call_after_the_timeout() -> None:
    """A server that takes the connection and never answers fails the call once `timeout` has passed, as a
    transient error that says so."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        options = VaultSourceOptions.model_validate(
            {"address": f"http://127.0.0.1:{silent.getsockname()[1]}", "auth": token_auth(), "timeout": 0.3}
        )
        with pytest.raises(TransientError, match=r"did not answer within 0\.3s"):
            VaultSource(options).read("db")
