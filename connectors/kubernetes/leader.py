"""Leader election on a `coordination.k8s.io/v1` Lease, as client-go's `tools/leaderelection` does it.

Several syncd replicas share one Lease; the one whose identity it names writes, the others wait. The interface
the daemon uses:

    elector = LeaderElector(api_client, namespace="syncd", name="syncd-leader")
    threading.Thread(target=elector.run, args=(stop,), daemon=True).start()
    ...
    if elector.is_leader:      # checked before every write
        ...
    stop.set()                 # run() releases the Lease on its way out, so a follower takes over at once

`is_leader` is True only while the last successful renewal started less than `renew_deadline` ago on the local monotonic
clock; it is the gate for writes. The callbacks of `run` are notifications, run on the renewing thread (they must return
quickly): `on_stopped_leading` may come up to `retry_period + renew_deadline` after `is_leader` turned False. A write in
flight when it turns False may land after; the sinks' conditional writes keep that safe. Another replica takes the Lease
over only after seeing its record unchanged for the record's `leaseDurationSeconds` on its own clock, so a leader that
cannot renew stops counting itself leader (`lease_duration - renew_deadline` seconds) before anyone else may start.
Expiry is never judged from the remote `renewTime`: clocks of different machines may disagree, only their rates are
assumed close.

A round (`try_acquire_or_renew`) is one GET, then a CREATE when the Lease is absent, or a PUT carrying the
resourceVersion it read when the Lease is free, expired, or this replica's own: a 409 means another replica wrote it in
between. The round's calls share its renew deadline (each call's timeout is the time left). A 403 or 401 raises
`LeaseAccessDenied` naming the verb and the Lease (`lease_rbac` prints the Role that grants it); a 5xx, 429, timeout or
lost connection only fails that round. docs/leader-election.md has the rest.
"""

from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import urllib3.exceptions
from kubernetes.client import ApiClient, CoordinationV1Api
from kubernetes.client.exceptions import ApiException

from connectors.kubernetes import rules
from connectors.kubernetes.client import build_api_client, no_retries
from connectors.kubernetes.errors import by_rbac, status_of
from connectors.kubernetes.options import KubernetesTargetOptions, RbacSubject
from connectors.kubernetes.policy import lease_rules, rbac_documents
from syncd.connector import LeaderElection
from syncd.errors import ConfigError, PermanentError

# client-go's wait.JitterUntil factor: a candidate waits retry_period × (1 + up to 1.2) between attempts, so
# candidates started together spread out; renew_deadline must exceed retry_period × this.
JITTER_FACTOR = 1.2


class LeaseAccessDenied(PermanentError):
    """The cluster refused the credentials (401) or RBAC refused a call on the Lease (403): retrying will not help."""


@dataclass(frozen=True)
class LeaseRecord:
    """The Lease's spec, as leader election reads and writes it. Times are MicroTime strings, kept as the server
    sent them, so comparing two records finds any change."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: int = 0

    @classmethod
    def of(cls, lease: dict[str, Any]) -> LeaseRecord:
        spec = lease.get("spec") or {}
        return cls(
            holder_identity=spec.get("holderIdentity") or "",
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            lease_transitions=int(spec.get("leaseTransitions") or 0),
        )

    def spec(self) -> dict[str, Any]:
        """The spec as the client sends it: times as `MicroTime`, so they reach the wire as the apiserver wants."""
        return {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "acquireTime": MicroTime.parse(self.acquire_time),
            "renewTime": MicroTime.parse(self.renew_time),
            "leaseTransitions": self.lease_transitions,
        }


class MicroTime(datetime):
    """A datetime the client serialises as a Kubernetes MicroTime. The client validates a body into its models and
    writes each datetime with `isoformat()`, which drops the fraction of a whole second; the apiserver parses
    MicroTime with exactly six fractional digits (apimachinery's RFC3339Micro) and refuses anything else."""

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return micro_time(self)

    @classmethod
    def parse(cls, text: str | None) -> MicroTime | None:
        if not text:
            return None
        m = datetime.fromisoformat(text).astimezone(UTC)
        return cls(m.year, m.month, m.day, m.hour, m.minute, m.second, m.microsecond, tzinfo=UTC)


def micro_time(moment: datetime) -> str:
    """A MicroTime as the apiserver parses it: RFC 3339 in UTC with exactly six fractional digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    """The host name and a random suffix: two replicas on one host (or one restarted) never share an identity."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def check_timings(lease_duration: float, renew_deadline: float, retry_period: float) -> None:
    """client-go's rules: lease_duration > renew_deadline > retry_period × 1.2 > 0, in one ConfigError."""
    if not (retry_period > 0 and renew_deadline > retry_period * JITTER_FACTOR and lease_duration > renew_deadline):
        raise ConfigError(
            f"leader election needs lease_duration > renew_deadline > {JITTER_FACTOR} × retry_period > 0 "
            f"(got lease_duration {lease_duration:g}, renew_deadline {renew_deadline:g}, retry_period {retry_period:g})"
        )


class LeaderElector:
    """One replica's view of the Lease `namespace/name`; see the module docstring. Thread-safe: `run` drives it on
    one thread while others read `is_leader`."""

    def __init__(
        self,
        api_client: ApiClient,
        *,
        namespace: str,
        name: str,
        identity: str | None = None,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random.random,
    ) -> None:
        check_timings(lease_duration, renew_deadline, retry_period)
        # A namespace is a DNS-1123 label, a Lease's name a subdomain: the apiserver refuses anything else.
        if not rules.is_dns1123_label(namespace):
            raise ConfigError(f"leader election namespace {namespace!r} is not {rules.LABEL_RULE}")
        if not rules.is_dns1123_subdomain(name):
            raise ConfigError(f"leader election Lease name {name!r} is not {rules.SUBDOMAIN_RULE}")
        if identity is not None and not identity.strip():
            raise ConfigError("leader election identity is empty")
        # Each round sends each call once: a retry inside urllib3 (it retries a PUT answered 503 with Retry-After)
        # would outlast the renew deadline unseen.
        self.api = CoordinationV1Api(no_retries(api_client))
        self.namespace, self.name = namespace, name
        self.identity = identity or default_identity()
        self.lease_duration, self.renew_deadline, self.retry_period = lease_duration, renew_deadline, retry_period
        self._monotonic, self._now, self._jitter = monotonic, now, jitter
        # `_round` serialises rounds and release (each a few HTTP calls); `_state` guards what they leave behind, so
        # reading `is_leader` never waits for a call in flight.
        self._round = threading.Lock()
        self._state = threading.Lock()
        # What this replica last saw of the Lease, and when it saw it change (local monotonic seconds).
        self._observed: LeaseRecord | None = None
        self._observed_at = 0.0
        # The Lease object this replica last wrote (for release's conditional PUT), and when that round started.
        self._written: dict[str, Any] | None = None
        self._renewed_at: float | None = None

    def describe(self) -> str:
        return f"Lease {self.namespace}/{self.name}"

    @property
    def is_leader(self) -> bool:
        """Whether this replica may write now: the Lease names it, and its last successful renewal started less than
        `renew_deadline` ago."""
        with self._state:
            return (
                self._renewed_at is not None
                and self._observed is not None
                and self._observed.holder_identity == self.identity
                and self._monotonic() - self._renewed_at < self.renew_deadline
            )

    def try_acquire_or_renew(self) -> bool:
        """One round: True when this replica wrote the Lease (created, took over or renewed it). A round that fails
        on a 5xx, 429, timeout or 409 returns False; `is_leader` stays True until `renew_deadline` has passed since
        the last success (a 409 ends it at once); so does an admission check's 403. Raises LeaseAccessDenied on a
        401 or RBAC's 403, ending leadership."""
        with self._round:
            try:
                return self._round_once()
            except LeaseAccessDenied:
                with self._state:
                    self._renewed_at = None
                raise

    def _round_once(self) -> bool:
        started = self._monotonic()
        # The round's calls share the renew deadline, as client-go bounds its renew with a context timeout: a round
        # never outlasts the time in which its success could still count.
        deadline = started + self.renew_deadline
        moment = micro_time(self._now())
        mine = LeaseRecord(self.identity, _whole_seconds(self.lease_duration), moment, moment, 0)
        current = self._call("get", self.api.read_namespaced_lease, self.name, self.namespace, deadline=deadline)
        if current is None:
            return False
        if current is _ABSENT:
            body = {"metadata": {"name": self.name, "namespace": self.namespace}, "spec": mine.spec()}
            created = self._call("create", self.api.create_namespaced_lease, self.namespace, body, deadline=deadline)
            return self._wrote(created, started)
        record = LeaseRecord.of(current)
        with self._state:
            if record != self._observed:
                self._observed, self._observed_at = record, self._monotonic()
            expires = self._observed_at + record.lease_duration_seconds
        ours = record.holder_identity == self.identity
        if record.holder_identity and not ours and self._monotonic() < expires:
            return False
        if ours:
            mine = replace(mine, acquire_time=record.acquire_time, lease_transitions=record.lease_transitions)
        else:
            mine = replace(mine, lease_transitions=record.lease_transitions + 1)
        body = _with(current, mine)
        replaced = self._call(
            "update", self.api.replace_namespaced_lease, self.name, self.namespace, body, deadline=deadline
        )
        return self._wrote(replaced, started)

    def release(self) -> bool:
        """Give the Lease up (client-go's ReleaseOnCancel): an empty holder, a 1-second duration and renewTime now,
        on the version this replica last wrote, so a follower takes over at its next round instead of waiting for
        expiry. True when released, or when there was nothing of ours to release (another replica wrote the Lease
        since: 409; also when our own last renewal was applied but its answer lost, the Lease then staying held
        until it expires). Leadership ends here whatever the answer."""
        with self._round:
            with self._state:
                written, self._renewed_at = self._written, None
            if written is None or LeaseRecord.of(written).holder_identity != self.identity:
                return True
            moment = micro_time(self._now())
            released = LeaseRecord("", 1, moment, moment, LeaseRecord.of(written).lease_transitions)
            body = _with(written, released)
            try:
                answer = self._call("update", self.api.replace_namespaced_lease, self.name, self.namespace, body)
            except LeaseAccessDenied:
                return False
            if answer is None:
                return False
            with self._state:
                self._written = None
                if answer is not _CONFLICT:
                    self._observed, self._observed_at = LeaseRecord.of(answer), self._monotonic()
            return True

    def run(
        self,
        stop: threading.Event,
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
    ) -> None:
        """Campaign and renew until `stop` is set: a round every `retry_period` while leading, every retry_period × (1 +
        up to 1.2) while not (client-go's jitter). `on_started_leading` runs after the round in which `is_leader` turned
        True, `on_stopped_leading` after the round that finds it False (renewal failed for `renew_deadline`, another
        replica took the Lease, or stop): up to `retry_period + renew_deadline` late, so `is_leader`, not the callback,
        gates writes. Both run on this thread and must return quickly. On stop, a leader calls `on_stopped_leading`
        first, then releases the Lease. A LeaseAccessDenied ends the loop the same way and is raised."""
        leading = False
        try:
            while not stop.is_set():
                self.try_acquire_or_renew()
                now_leading = self.is_leader
                if now_leading != leading:
                    leading = now_leading
                    callback = on_started_leading if leading else on_stopped_leading
                    if callback is not None:
                        callback()
                if leading:
                    stop.wait(self.retry_period)
                else:
                    stop.wait(self.retry_period * (1 + JITTER_FACTOR * self._jitter()))
        finally:
            if leading and on_stopped_leading is not None:
                on_stopped_leading()
            self.release()

    # The calls, their errors in one place.

    def _call(self, verb: str, method: Callable[..., Any], *args: Any, deadline: float | None = None) -> Any:
        """The Lease as a dict from one API call, given the time left until `deadline` (local monotonic seconds;
        `renew_deadline` when None); _ABSENT on a GET's 404, _CONFLICT on a write's 409, None when the round failed
        for a reason worth retrying or no time is left; LeaseAccessDenied on a 401 or RBAC's 403."""
        timeout = self.renew_deadline if deadline is None else deadline - self._monotonic()
        if timeout <= 0:
            return None
        try:
            response = method(*args, _preload_content=False, _request_timeout=timeout)
        except ApiException as exc:
            if exc.status == 401 or (exc.status == 403 and by_rbac(status_of(exc))):
                raise self._denied(verb, exc.status) from None
            # Any other 403 is an admission check's (a quota, a namespace being deleted, a webhook), which may pass
            # later: this round failed, as for a 5xx.
            if exc.status == 404 and verb == "get":
                return _ABSENT
            if exc.status == 409 and verb != "get":
                return _CONFLICT
            return None
        except (urllib3.exceptions.HTTPError, OSError):
            return None
        try:
            return json.loads(response.data)
        except ValueError:
            return None

    def _wrote(self, written: Any, started: float) -> bool:
        """Record a CREATE's or PUT's answer. A 409 means another replica wrote the Lease since the GET: leadership
        ends at once even within the renew deadline (it is theirs now, or about to be)."""
        with self._state:
            if written is _CONFLICT:
                self._renewed_at = None
                return False
            if not isinstance(written, dict):
                return False
            self._written = written
            self._observed, self._observed_at = LeaseRecord.of(written), self._monotonic()
            self._renewed_at = started
            return True

    def _denied(self, verb: str, status: int) -> LeaseAccessDenied:
        if status == 401:
            return LeaseAccessDenied(f"the cluster rejected the credentials while trying to {verb} {self.describe()}")
        return LeaseAccessDenied(
            f"Kubernetes RBAC does not allow syncd to {verb} leases (API group coordination.k8s.io) named "
            f"{self.name!r} in namespace {self.namespace!r}; grant get, create and update on it "
            "(connectors.kubernetes.leader.lease_rbac prints the Role)"
        )


_ABSENT: Any = object()
_CONFLICT: Any = object()


def _whole_seconds(seconds: float) -> int:
    """leaseDurationSeconds is an integer: a fraction is rounded up, so others never wait less than configured."""
    return max(1, int(-(-seconds // 1)))


def _with(lease: dict[str, Any], record: LeaseRecord) -> dict[str, Any]:
    """The Lease object as read, its spec replaced: a PUT of it carries the resourceVersion read."""
    return {**lease, "spec": {**(lease.get("spec") or {}), **record.spec()}}


def lease_rbac(namespace: str, lease_name: str, subject: RbacSubject) -> str:
    """The Role and RoleBinding (YAML for `kubectl apply -f -`) that let `subject` run leader election on the Lease
    `namespace/lease_name`: get and update on that Lease by name, create on leases (RBAC cannot restrict create by
    name)."""
    return rbac_documents(
        namespace,
        f"syncd-lease-{lease_name}",
        lease_rules(lease_name),
        subject,
        header=f"# syncd leader election: Lease {namespace}/{lease_name}",
    )


# The namespace of the pod's service account, where a Lease goes by default.
SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def elector_for(election: LeaderElection, env: Mapping[str, str] | None = None) -> LeaderElector:
    """The elector `syncd run --leader-elect` asks for: the Lease in `election.namespace`, else `$POD_NAMESPACE`, else
    the pod's own namespace; reached through `election.kubeconfig` or from inside the cluster."""
    env = os.environ if env is None else env
    namespace = election.namespace or env.get("POD_NAMESPACE") or _pod_namespace()
    if not namespace:
        raise ConfigError(
            "leader election needs a namespace for its Lease: give --lease-namespace, or set POD_NAMESPACE "
            "(outside a pod, the service account namespace file is not there)"
        )
    options = KubernetesTargetOptions(
        kubeconfig=election.kubeconfig, context=election.context, in_cluster=election.kubeconfig is None
    )
    api_client = build_api_client("leader election", options)
    identity = election.identity or (f"{env['POD_NAME']}_{uuid.uuid4().hex[:8]}" if env.get("POD_NAME") else None)
    return LeaderElector(
        api_client,
        namespace=namespace,
        name=election.name,
        identity=identity,
        lease_duration=election.lease_duration,
        renew_deadline=election.renew_deadline,
        retry_period=election.retry_period,
    )


def _pod_namespace() -> str | None:
    try:
        with open(SERVICE_ACCOUNT_NAMESPACE, encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None
