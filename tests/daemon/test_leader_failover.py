"""Two `syncd run --leader-elect` processes share one Lease on the fake API server: only the leader applies; when it
dies the follower takes over within one lease duration and applies the next tick; never both write."""

from __future__ import annotations

import base64
import json
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.daemon.process import DaemonProcess, wait_until
from tests.fakes.kubernetes import ADMIN_TOKEN, KubeFake, kubeconfig_for

MANIFEST = """\
version: 1
instance: ha
defaults: {schedule: 1s}
source: {type: file, path: secrets.yaml}
targets:
  cluster: {type: kubernetes, kubeconfig: kubeconfig.yaml, context: fake}
syncs:
  - name: db
    from: apps/db
    to:
      - {target: cluster, namespace: team-a, name: db}
"""
LEASE_SECONDS = 3.0


def _password(fake: KubeFake) -> str | None:
    secret = fake.secret("team-a", "db")
    return base64.b64decode(secret["data"]["password"]).decode() if secret else None


def _audit(state: Path) -> list[dict[str, object]]:
    path = state / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _status(daemon: DaemonProcess) -> dict[str, object]:
    code, _, body = daemon.http("GET", "/v1/status")
    assert code == 200, body
    return json.loads(body)


def _start(root: Path, name: str) -> tuple[DaemonProcess, Path]:
    state = root / f"state-{name}"
    daemon = DaemonProcess(
        [
            "-c", str(root / "syncd.yaml"), "--listen", "127.0.0.1:0", "--state-dir", str(state),
            "--leader-elect", "--lease-kubeconfig", str(root / "kubeconfig.yaml"), "--lease-context", "fake",
            "--lease-namespace", "team-a", "--lease-name", "syncd-ha",
            "--lease-duration", f"{LEASE_SECONDS:g}s", "--renew-deadline", "2s", "--retry-period", "500ms",
            "--shutdown-timeout", "10s",
        ],
        env={"POD_NAME": name},
    )  # fmt: skip
    daemon.started()
    return daemon, state


@pytest.fixture
def root(tmp_path: Path, kube_fake: KubeFake) -> Path:
    kubeconfig_for(kube_fake, ADMIN_TOKEN, tmp_path / "kubeconfig.yaml")
    (tmp_path / "secrets.yaml").write_text("apps:\n  db:\n    password: first\n", encoding="utf-8")
    (tmp_path / "syncd.yaml").write_text(MANIFEST, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_the_follower_takes_over_when_the_leader_dies_and_never_both_write(
    root: Path, kube_fake: KubeFake, how: str
) -> None:
    """Killed (SIGKILL: the Lease must expire) or stopped (SIGTERM: the Lease is released), the leader's place is
    taken within one lease duration, and the new leader applies the change the old one never saw."""
    first, first_state = _start(root, "replica-a")
    second, second_state = _start(root, "replica-b")
    daemons = {"replica-a": (first, first_state), "replica-b": (second, second_state)}
    try:
        wait_until(lambda: _password(kube_fake) == "first", "the first apply", process=first)
        holder = wait_until(
            lambda: (kube_fake.lease("team-a", "syncd-ha") or {}).get("spec", {}).get("holderIdentity"), "a leader"
        )
        leader_name = holder.split("_")[0]
        follower_name = "replica-b" if leader_name == "replica-a" else "replica-a"
        leader, leader_state = daemons[leader_name]
        follower, follower_state = daemons[follower_name]
        # The follower serves health and metrics, knows it follows, and has written nothing.
        assert follower.http("GET", "/healthz")[0] == 200
        # Ready once its first round has read the Lease: the leader state is known.
        wait_until(lambda: follower.http("GET", "/readyz")[0] == 200, "the follower ready", process=follower)
        assert _status(follower)["leader"]["is_leader"] is False and _status(leader)["leader"]["is_leader"] is True
        assert _audit(follower_state) == [] and _audit(leader_state)
        assert follower.http("POST", "/v1/syncs/db/run")[0] in (401, 403)  # no token configured: the trigger is off
        transitions = kube_fake.lease("team-a", "syncd-ha")["spec"].get("leaseTransitions", 0)

        if how == "killed":
            leader.kill()
        else:
            leader.send(signal.SIGTERM)
            assert leader.wait(timeout=20) == 0
        gone = time.time()
        (root / "secrets.yaml").write_text("apps:\n  db:\n    password: second\n", encoding="utf-8")
        wait_until(lambda: _password(kube_fake) == "second", "the follower's apply", deadline=LEASE_SECONDS + 15)
        took_over = follower.wait_for_event("became the leader")
        taken_at = datetime.fromisoformat(took_over["timestamp"]).timestamp()
        assert taken_at - gone < LEASE_SECONDS + 2, "the follower took longer than one lease duration (and a round)"
        assert kube_fake.lease("team-a", "syncd-ha")["spec"]["leaseTransitions"] == transitions + 1

        # Never both: every write of the old leader happened before it went, every write of the new one after.
        assert all(datetime.fromisoformat(str(r["time"])).timestamp() <= gone for r in _audit(leader_state))
        # The record is appended once the run's applies are done, just after the write itself.
        new_writes = wait_until(lambda: _audit(follower_state), "the new leader's audit record", process=follower)
        assert all(datetime.fromisoformat(str(r["time"])).timestamp() >= taken_at for r in new_writes)
        assert {(r["address"], r["action"], r["result"]) for r in new_writes} == {("team-a/db", "update", "applied")}
    finally:
        first.kill()
        second.kill()
