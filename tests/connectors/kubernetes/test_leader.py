"""Leader election on a Lease, against the fake API server over real HTTP through the official client.

Most tests drive the electors' clocks by hand (a shared virtual time; each replica with its own monotonic origin
and a wall clock hours off, since expiry must never be judged from another machine's renewTime); two use short real
leases and poll with a deadline.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient

from connectors.kubernetes.leader import LeaderElector, LeaseAccessDenied, lease_rbac, micro_time
from connectors.kubernetes.options import RbacSubject
from syncd.errors import ConfigError
from tests.fakes.kubernetes import ADMIN_TOKEN, KubeClientFactory, KubeFake

NAMESPACE, LEASE = "default", "syncd-leader"
LEASES = r"/apis/coordination\.k8s\.io/v1/namespaces/default/leases"
# Virtual timings: a leader that cannot renew stops within 6 s; others wait 10 s after the last change they saw.
DURATION, DEADLINE, RETRY = 10.0, 6.0, 2.0
EPOCH = datetime(2026, 12, 1, tzinfo=UTC)


class World:
    """Virtual time shared by every replica of a test; each replica reads it through its own clocks."""

    def __init__(self) -> None:
        self.t = 0.0

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def client_for(kube_fake: KubeFake, kube_client: KubeClientFactory) -> Callable[[str], ApiClient]:
    """An official ApiClient of the fake for a bearer token, built from a kubeconfig file as production builds it."""
    return lambda token=ADMIN_TOKEN: kube_client(kube_fake, token)


@pytest.fixture
def elector(client_for: Callable[[str], ApiClient], world: World) -> Callable[..., LeaderElector]:
    """A replica named `identity` on the virtual clocks; replica i's monotonic clock starts elsewhere and its wall
    clock is i hours ahead."""
    count = 0

    def make(identity: str, token: str = ADMIN_TOKEN, **timings: float) -> LeaderElector:
        nonlocal count
        skew = 3600.0 * count
        origin = 1000.0 * (count + 1)
        count += 1
        return LeaderElector(
            client_for(token),
            namespace=NAMESPACE,
            name=LEASE,
            identity=identity,
            lease_duration=timings.get("lease_duration", DURATION),
            renew_deadline=timings.get("renew_deadline", DEADLINE),
            retry_period=timings.get("retry_period", RETRY),
            monotonic=lambda: origin + world.t,
            now=lambda: EPOCH + timedelta(seconds=world.t + skew),
        )

    return make


def spec(fake: KubeFake) -> dict[str, Any]:
    lease = fake.lease(NAMESPACE, LEASE)
    assert lease is not None
    return lease["spec"]


def leaders(*electors: LeaderElector) -> list[str]:
    return [e.identity for e in electors if e.is_leader]


def test_the_first_round_creates_the_lease_holding_it_with_client_gos_record(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """An absent Lease is created naming the replica, with duration, acquire and renew times (MicroTime) and 0
    transitions."""
    a = elector("a")
    assert a.try_acquire_or_renew() and a.is_leader
    assert spec(kube_fake) == {
        "holderIdentity": "a",
        "leaseDurationSeconds": 10,
        "acquireTime": "2026-12-01T00:00:00.000000Z",
        "renewTime": "2026-12-01T00:00:00.000000Z",
        "leaseTransitions": 0,
    }


def test_two_electors_racing_for_an_absent_lease_leave_exactly_one_leader(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector]
) -> None:
    """Both read the Lease absent before either creates it: one create wins, the other gets 409 and follows."""
    a, b = elector("a"), elector("b")
    both_read = threading.Barrier(2, timeout=10)
    kube_fake.before("GET", LEASES, lambda *_: both_read.wait())
    results: dict[str, bool] = {}
    threads = [
        threading.Thread(target=lambda e=e: results.update({e.identity: e.try_acquire_or_renew()})) for e in (a, b)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results.values()) == [False, True]
    assert kube_fake.count("POST", LEASES) == 2, "both created: the race happened"
    assert leaders(a, b) == [spec(kube_fake)["holderIdentity"]]
    assert spec(kube_fake)["leaseTransitions"] == 0


def test_two_electors_racing_for_an_expired_lease_leave_exactly_one_leader(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """Both see the old holder expired and PUT on the same resourceVersion: one wins, the other gets 409."""
    old, a, b = elector("old"), elector("a"), elector("b")
    assert old.try_acquire_or_renew()
    assert not a.try_acquire_or_renew() and not b.try_acquire_or_renew()
    world.advance(DURATION + 0.1)
    both_read = threading.Barrier(2, timeout=10)
    kube_fake.before("GET", LEASES, lambda *_: both_read.wait())
    threads = [threading.Thread(target=e.try_acquire_or_renew) for e in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert leaders(old, a, b) == [spec(kube_fake)["holderIdentity"]]
    assert spec(kube_fake)["leaseTransitions"] == 1
    assert kube_fake.count("PUT", LEASES) == 2, "both took over: the race happened"


def test_a_renewal_keeps_leadership_and_the_acquire_time(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """The leader renews every retry period: renewTime moves, acquireTime and transitions stay, and a follower that
    watches for far longer than the lease duration never takes over."""
    a, b = elector("a"), elector("b")
    assert a.try_acquire_or_renew()
    acquired = spec(kube_fake)["acquireTime"]
    for _ in range(20):
        world.advance(RETRY)
        assert a.try_acquire_or_renew()
        assert not b.try_acquire_or_renew()
        assert leaders(a, b) == ["a"]
    assert world.t > 3 * DURATION
    assert spec(kube_fake)["acquireTime"] == acquired
    assert spec(kube_fake)["renewTime"] == micro_time(EPOCH + timedelta(seconds=world.t))
    assert spec(kube_fake)["leaseTransitions"] == 0


def test_failover_happens_once_the_holder_stops_renewing_for_the_lease_duration(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """A follower takes over only after it has seen the record unchanged for leaseDurationSeconds on its own clock;
    the transition count goes up by one and acquireTime is the takeover's."""
    a, b = elector("a"), elector("b")
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()  # b sees a's record now, at t=0
    world.advance(DEADLINE)
    assert not a.is_leader, "a stopped counting itself leader within the renew deadline"
    world.advance(DURATION - DEADLINE - 0.1)
    assert not b.try_acquire_or_renew(), "b waits the whole lease duration"
    world.advance(0.2)
    assert b.try_acquire_or_renew()
    assert leaders(a, b) == ["b"]
    assert spec(kube_fake)["holderIdentity"] == "b"
    assert spec(kube_fake)["leaseTransitions"] == 1
    # b's wall clock is an hour ahead of a's: the times it writes are its own.
    assert spec(kube_fake)["acquireTime"] == micro_time(EPOCH + timedelta(seconds=world.t + 3600))
    assert not a.try_acquire_or_renew() and leaders(a, b) == ["b"]


def test_expiry_is_judged_from_when_the_record_was_seen_to_change_not_from_its_renew_time(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """A holder whose renewTime lies far in the past (its wall clock is behind) still counts as live while it keeps
    changing the record; a newcomer waits a whole lease duration from its first sight of the record."""
    a = elector("a")
    assert a.try_acquire_or_renew()
    lease = kube_fake.lease(NAMESPACE, LEASE)
    assert lease is not None
    lease["spec"]["renewTime"] = "2001-01-01T00:00:00.000000Z"
    kube_fake.put_object(lease)
    world.advance(50.0)
    newcomer = elector("newcomer")
    assert not newcomer.try_acquire_or_renew()
    world.advance(DURATION - 0.1)
    assert not newcomer.try_acquire_or_renew()
    world.advance(0.2)
    assert newcomer.try_acquire_or_renew()


def test_a_renewal_whose_answer_was_lost_is_made_again_at_the_next_round(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """The apiserver applies a renewal and its answer is lost: that round fails, the leader keeps counting itself
    leader only within its renew deadline, and the next round finds its own record and renews it; no follower
    takes over and no transition is counted."""
    a, b = elector("a"), elector("b")
    assert a.try_acquire_or_renew() and not b.try_acquire_or_renew()
    world.advance(RETRY)
    kube_fake.lose_next_answer("PUT", LEASES)
    assert not a.try_acquire_or_renew()
    assert spec(kube_fake)["renewTime"] == micro_time(EPOCH + timedelta(seconds=world.t)), "the renewal took effect"
    assert leaders(a, b) == ["a"]
    world.advance(RETRY)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    assert leaders(a, b) == ["a"]
    assert spec(kube_fake)["leaseTransitions"] == 0


def test_a_release_whose_answer_was_lost_still_hands_the_lease_over(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """The apiserver applies a release and its answer is lost: the replica no longer counts itself leader, and a
    follower takes the Lease at its next round."""
    a, b = elector("a"), elector("b")
    assert a.try_acquire_or_renew() and not b.try_acquire_or_renew()
    kube_fake.lose_next_answer("PUT", LEASES)
    a.release()
    assert not a.is_leader
    assert spec(kube_fake)["holderIdentity"] in ("", None)
    assert b.try_acquire_or_renew() and leaders(a, b) == ["b"]


def test_release_hands_the_lease_over_at_once(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """A released Lease has no holder and a 1-second duration: a follower takes it at its next round, no waiting."""
    a, b = elector("a"), elector("b")
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    assert a.release() and not a.is_leader
    released = spec(kube_fake)
    assert released["holderIdentity"] in ("", None)
    assert released["leaseDurationSeconds"] == 1
    assert released["leaseTransitions"] == 0
    assert b.try_acquire_or_renew() and leaders(a, b) == ["b"]
    assert spec(kube_fake)["leaseTransitions"] == 1


def test_a_release_after_another_took_over_changes_nothing(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """A replica whose Lease was taken over releases nothing: its conditional PUT is refused and the new holder
    keeps the Lease."""
    a, b = elector("a"), elector("b")
    assert a.try_acquire_or_renew() and not b.try_acquire_or_renew()
    world.advance(DURATION + 1)
    assert b.try_acquire_or_renew()
    assert a.release()
    assert spec(kube_fake)["holderIdentity"] == "b" and b.is_leader


def test_a_leader_that_cannot_renew_stops_leading_within_the_renew_deadline(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """Its PUTs answering 500, the leader counts itself leader until renew_deadline after its last successful
    renewal began, and not a moment longer; the follower takes over only later, a lease duration after it saw that
    renewal."""
    a, b = elector("a"), elector("b")
    assert a.try_acquire_or_renew() and not b.try_acquire_or_renew()
    world.advance(RETRY)
    assert a.try_acquire_or_renew() and not b.try_acquire_or_renew()
    renewed = world.t
    kube_fake.fail_next("PUT", LEASES, 500, times=3)
    for step in (RETRY, RETRY, 1.75):
        world.advance(step)
        assert not a.try_acquire_or_renew()
        assert a.is_leader and world.t - renewed < DEADLINE
        assert not b.try_acquire_or_renew()
    world.advance(0.25)
    assert world.t - renewed == DEADLINE and not a.is_leader
    world.advance(DURATION - DEADLINE - 0.25)
    assert not b.try_acquire_or_renew()
    world.advance(0.25)
    assert b.try_acquire_or_renew() and leaders(a, b) == ["b"]


def test_a_renewal_answered_503_is_one_put_on_the_wire(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """The caller's ApiClient is made to send each request once: a renewal answered 503 with Retry-After (which
    urllib3 would retry by itself, the PUT being idempotent) fails that round after one PUT."""
    a = elector("a")
    assert a.try_acquire_or_renew()
    world.advance(RETRY)
    kube_fake.fail_next("PUT", LEASES, 503, retry_after=0)
    before = kube_fake.count("PUT", LEASES)
    assert not a.try_acquire_or_renew()
    assert kube_fake.count("PUT", LEASES) - before == 1
    assert a.is_leader


def test_a_slow_renewal_counts_from_when_it_was_sent(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """The renew deadline runs from the start of the round that renewed, not from its answer: followers saw the new
    record as soon as it was written, so the time the answer took is not the leader's to count."""
    a = elector("a")
    assert a.try_acquire_or_renew()
    world.advance(RETRY)
    sent = world.t
    kube_fake.before("PUT", LEASES, lambda *_: world.advance(3.0) if world.t == sent else None)
    assert a.try_acquire_or_renew()
    world.advance(sent + DEADLINE - world.t - 0.25)
    assert a.is_leader
    world.advance(0.25)
    assert not a.is_leader


def test_each_call_of_a_round_is_bounded_by_the_time_left_of_its_renew_deadline(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """A round's calls share the renew deadline from the round's start (client-go's context timeout): the PUT after
    a GET that took 4 s may take only what is left, and after a GET that took the whole deadline no PUT is sent and
    the round fails."""
    a = elector("a")
    assert a.try_acquire_or_renew()
    timeouts: list[float] = []
    replace = a.api.replace_namespaced_lease

    def spy(*args: Any, **kwargs: Any) -> Any:
        timeouts.append(kwargs["_request_timeout"])
        return replace(*args, **kwargs)

    a.api.replace_namespaced_lease = spy  # type: ignore[method-assign]
    world.advance(RETRY)
    kube_fake.before("GET", LEASES, lambda *_: world.advance(4.0), times=1)
    assert a.try_acquire_or_renew()
    assert timeouts == [pytest.approx(DEADLINE - 4.0)]
    world.advance(RETRY)
    kube_fake.before("GET", LEASES, lambda *_: world.advance(DEADLINE), times=1)
    before = kube_fake.count("PUT", LEASES)
    assert not a.try_acquire_or_renew()
    assert kube_fake.count("PUT", LEASES) == before and timeouts == [pytest.approx(DEADLINE - 4.0)]


def test_a_conflict_on_renewal_ends_leadership_at_once(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """A 409 on the leader's PUT means someone wrote the Lease since its GET: it stops counting itself leader now,
    and takes the Lease up again without a transition when the record still names it."""
    a = elector("a")
    assert a.try_acquire_or_renew()
    kube_fake.fail_next("PUT", LEASES, 409)
    world.advance(RETRY)
    assert not a.try_acquire_or_renew() and not a.is_leader
    world.advance(RETRY)
    assert a.try_acquire_or_renew() and a.is_leader
    assert spec(kube_fake)["leaseTransitions"] == 0


def test_never_two_leaders_across_many_interleaved_rounds_with_faults(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """Three replicas take a thousand rounds in a random order at random times, some calls answer 500, 503, 429
    or 409, and another replica's whole round sometimes runs while a PUT is in flight: at every step at most one
    leads, and leadership changes hands at least twenty times."""
    rng = random.Random(20261201)
    replicas = [elector(name) for name in ("a", "b", "c")]
    in_flight: list[LeaderElector] = []
    holders: list[str] = []
    violations: list[list[str]] = []
    nested = 0

    def check(*_: Any) -> None:
        if len(leaders(*replicas)) > 1:
            violations.append(leaders(*replicas))

    def interleave(*_: Any) -> None:
        nonlocal nested
        check()
        if len(in_flight) == 1 and rng.random() < 0.3:
            nested += 1
            other = rng.choice([r for r in replicas if r is not in_flight[0]])
            in_flight.append(other)
            try:
                other.try_acquire_or_renew()
            finally:
                in_flight.pop()
            check()

    kube_fake.before("PUT", LEASES, interleave)
    kube_fake.before("POST", LEASES, interleave)
    for _ in range(1000):
        world.advance(rng.choice([0.0, 0.5, 1.0, RETRY, RETRY, 3.0, 5.0]))
        check()
        if rng.random() < 0.2:
            kube_fake.fail_next(rng.choice(["GET", "PUT"]), LEASES, rng.choice([500, 503, 429, 409]))
        # The leader is late more often than the others: that is when takeovers happen.
        replica = rng.choice(replicas)
        in_flight.append(replica)
        try:
            replica.try_acquire_or_renew()
        finally:
            in_flight.pop()
        check()
        assert not violations, violations
        now = leaders(*replicas)
        if now and (not holders or holders[-1] != now[0]):
            holders.append(now[0])
    assert len(holders) >= 20 and nested >= 50, (len(holders), nested)


def test_a_forbidden_call_names_the_verb_the_resource_the_namespace_and_the_lease(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector]
) -> None:
    """RBAC that does not grant the Lease's get fails with one sentence naming what to grant, not a retry."""
    kube_fake.add_user("nobody-token", "nobody")
    kube_fake.load_rbac(lease_rbac(NAMESPACE, "another-lease", RbacSubject(kind="User", name="nobody", namespace=None)))
    a = elector("a", token="nobody-token")
    with pytest.raises(LeaseAccessDenied) as raised:
        a.try_acquire_or_renew()
    message = str(raised.value)
    assert "get leases" in message and "coordination.k8s.io" in message
    assert f"{LEASE!r}" in message and f"namespace {NAMESPACE!r}" in message
    assert not a.is_leader


def test_a_403_from_admission_fails_the_round_and_is_not_taken_for_rbac(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """A Lease write refused by an admission check (a quota, a namespace being deleted, a webhook) also answers 403;
    it is not RBAC's refusal, so the round fails as for a 5xx and the next round succeeds."""
    a = elector("a")
    kube_fake.fail_next("POST", LEASES, 403, message='leases "syncd-leader" is forbidden: exceeded quota: leases')
    assert not a.try_acquire_or_renew()
    assert not a.is_leader
    world.advance(RETRY)
    assert a.try_acquire_or_renew() and a.is_leader


def test_run_ends_on_a_forbidden_call_and_raises_it(
    kube_fake: KubeFake, client_for: Callable[[str], ApiClient]
) -> None:
    """A replica whose RBAC was taken away while it led calls on_stopped_leading and raises the 403, not a retry."""
    granted = lease_rbac(NAMESPACE, LEASE, RbacSubject(kind="User", name="replica", namespace=None))
    revoked = yaml.safe_dump_all(
        [{**d, "rules": []} if d["kind"] == "Role" else d for d in yaml.safe_load_all(granted)]
    )
    kube_fake.add_user("replica-token", "replica")
    kube_fake.load_rbac(granted)
    replica = LeaderElector(client_for("replica-token"), namespace=NAMESPACE, name=LEASE, identity="r", **SHORT)
    events: list[str] = []

    def started() -> None:
        events.append("started")
        kube_fake.load_rbac(revoked)

    with pytest.raises(LeaseAccessDenied, match="to get leases"):
        replica.run(threading.Event(), started, lambda: events.append("stopped"))
    assert events == ["started", "stopped"] and not replica.is_leader


def test_an_unknown_token_is_a_credentials_error(kube_fake: KubeFake, elector: Callable[..., LeaderElector]) -> None:
    """A 401 is not retried as a failed round: it says the cluster rejected the credentials."""
    with pytest.raises(LeaseAccessDenied, match="rejected the credentials"):
        elector("a", token="no-such-token").try_acquire_or_renew()


def test_lease_rbac_is_enough_and_each_of_its_verbs_is_needed(
    kube_fake: KubeFake, elector: Callable[..., LeaderElector], world: World
) -> None:
    """With exactly the Role lease_rbac prints, a replica creates, renews, releases and takes over the Lease; with
    any one verb taken out, some step fails naming that verb."""
    subject = RbacSubject(kind="User", name="replica", namespace=None)
    kube_fake.add_user("replica-token", "replica")
    full = lease_rbac(NAMESPACE, LEASE, subject)

    def steps() -> None:
        a, b = elector(f"a{world.t}", token="replica-token"), elector(f"b{world.t}", token="replica-token")
        assert a.try_acquire_or_renew()
        world.advance(RETRY)
        assert a.try_acquire_or_renew()
        assert a.release()
        assert b.try_acquire_or_renew()
        world.advance(1)

    kube_fake.load_rbac(full)
    steps()
    for verb in ("get", "create", "update"):
        kube_fake.delete_object("Lease", NAMESPACE, LEASE)
        documents = list(yaml.safe_load_all(full))
        for rule in documents[0]["rules"]:
            rule["verbs"] = [v for v in rule["verbs"] if v != verb]
        documents[0]["rules"] = [rule for rule in documents[0]["rules"] if rule["verbs"]]
        kube_fake.load_rbac(yaml.safe_dump_all(documents))
        with pytest.raises(LeaseAccessDenied, match=f"to {verb} leases"):
            steps()


def test_timings_are_checked_as_client_go_checks_them(client_for: Callable[[str], ApiClient]) -> None:
    """lease_duration > renew_deadline > 1.2 × retry_period > 0, else one ConfigError naming the three values."""
    client = client_for(ADMIN_TOKEN)
    for lease, renew, retry in ((10, 10, 2), (10, 2.4, 2), (10, 5, 0), (5, 10, 2)):
        with pytest.raises(ConfigError, match="lease_duration > renew_deadline") as raised:
            LeaderElector(
                client, namespace=NAMESPACE, name=LEASE, lease_duration=lease, renew_deadline=renew, retry_period=retry
            )
        assert f"retry_period {retry:g}" in str(raised.value)
    with pytest.raises(ConfigError, match="DNS-1123 label"):
        LeaderElector(client, namespace="Team_A", name=LEASE)
    with pytest.raises(ConfigError, match="DNS-1123 subdomain"):
        LeaderElector(client, namespace=NAMESPACE, name="syncd/leader")


def test_the_default_identity_is_unique_per_replica(client_for: Callable[[str], ApiClient]) -> None:
    """Two replicas on one host get different identities (host name and a random suffix)."""
    client = client_for(ADMIN_TOKEN)
    first, second = (LeaderElector(client, namespace=NAMESPACE, name=LEASE) for _ in range(2))
    assert first.identity != second.identity


def test_micro_time_always_has_six_fractional_digits_in_utc() -> None:
    """The apiserver parses MicroTime with exactly six digits: a whole second is written `.000000Z`."""
    assert micro_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
    plus_two = datetime(2026, 1, 2, 7, 4, 5, 7, tzinfo=timezone(timedelta(hours=2)))
    assert micro_time(plus_two) == "2026-01-02T05:04:05.000007Z"


# Real time: short leases, polled with a deadline.

SHORT = {"lease_duration": 1.0, "renew_deadline": 0.6, "retry_period": 0.2}


def real_elector(client_for: Callable[[str], ApiClient], identity: str) -> LeaderElector:
    return LeaderElector(client_for(ADMIN_TOKEN), namespace=NAMESPACE, name=LEASE, identity=identity, **SHORT)


def wait_for(
    condition: Callable[[], bool], invariant: Callable[[], bool] = lambda: True, seconds: float = 15.0
) -> None:
    """Poll until `condition` holds, checking `invariant` at every poll."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert invariant(), "the invariant broke while waiting"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_run_takes_over_from_a_silent_holder_and_releases_on_stop(
    kube_fake: KubeFake, client_for: Callable[[str], ApiClient]
) -> None:
    """With a 1-second lease: a holder that stops renewing is replaced once the lease expires, callbacks mark the
    start and the end, and stopping the new leader leaves the Lease released."""
    silent, runner = real_elector(client_for, "silent"), real_elector(client_for, "runner")
    assert silent.try_acquire_or_renew()
    events: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=runner.run, args=(stop, lambda: events.append("started"), lambda: events.append("stopped"))
    )
    thread.start()
    try:
        wait_for(lambda: runner.is_leader)
        assert not silent.is_leader
        assert spec(kube_fake)["holderIdentity"] == "runner" and spec(kube_fake)["leaseTransitions"] == 1
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive()
    # A machine too busy to renew within 0.6 s may see leadership end and start again; it always alternates.
    assert events[:1] == ["started"] and events[-1:] == ["stopped"]
    assert all(event == ("started", "stopped")[i % 2] for i, event in enumerate(events))
    assert spec(kube_fake)["holderIdentity"] in ("", None) and not runner.is_leader


def test_run_loops_keep_one_leader_and_hand_over_when_it_stops(
    kube_fake: KubeFake, client_for: Callable[[str], ApiClient]
) -> None:
    """Two replicas running side by side: one leads while the other waits, then the leader stops, releases, and the
    other leads; at no poll do both lead."""
    replicas = {name: real_elector(client_for, name) for name in ("one", "two")}
    stops = {name: threading.Event() for name in replicas}
    threads = {name: threading.Thread(target=e.run, args=(stops[name],)) for name, e in replicas.items()}
    for thread in threads.values():
        thread.start()

    def at_most_one() -> bool:
        return len(leaders(*replicas.values())) <= 1

    try:
        wait_for(lambda: len(leaders(*replicas.values())) == 1, at_most_one)
        first = leaders(*replicas.values())[0]
        renewed = spec(kube_fake)["renewTime"]
        wait_for(lambda: spec(kube_fake)["renewTime"] != renewed, at_most_one)
        stops[first].set()
        threads[first].join(timeout=15)
        (other,) = set(replicas) - {first}
        wait_for(lambda: replicas[other].is_leader, at_most_one)
        assert spec(kube_fake)["holderIdentity"] == other and spec(kube_fake)["leaseTransitions"] >= 1
        assert not replicas[first].is_leader
    finally:
        for name, stop in stops.items():
            stop.set()
            threads[name].join(timeout=15)
