"""`syncd run` as a real process on one-second schedules: a file source, a dotenv file and a Kubernetes cluster (the
fake API server) as sinks. It converges, repairs an out-of-band edit on the next tick, follows a new manifest on
SIGHUP and keeps the last good one when the new one is invalid, serves metrics and a guarded trigger, writes an
audit record per change, leaks no value, and exits 0 on SIGTERM."""

from __future__ import annotations

import base64
import json
import signal
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.daemon.process import DaemonProcess, wait_until
from tests.fakes.kubernetes import ADMIN_TOKEN, KubeFake, kubeconfig_for
from tests.leakscan import assert_no_leaks

PASSWORD = "pw-e2e-7f3a91c2d4"
PASSWORD_2 = "pw-e2e-rotated-55b0e1"
TOKEN = "tok-e2e-api-8c21"
TRIGGER_TOKEN = "trigger-e2e-4be90d17"

MANIFEST = """\
version: 1
instance: e2e
defaults:
  schedule: 1s
  prune: true
daemon:
  trigger_token: ${{env:E2E_TRIGGER_TOKEN}}
source:
  type: file
  path: secrets.yaml
targets:
  app-env: {{type: dotenv, path: out/app.env}}
  cluster: {{type: kubernetes, kubeconfig: kubeconfig.yaml, context: fake}}
syncs:
  - name: db
    from: apps/db
    to:
      - target: app-env
        name: "DB_{{key|env}}"
      - target: cluster
        namespace: team-a
        name: db
{extra}"""

EXTRA_SYNC = """\
  - name: api
    from: apps/api
    to:
      - target: app-env
        name: "API_{key|env}"
"""


def _write_source(root: Path, password: str) -> None:
    (root / "secrets.yaml").write_text(
        f"apps:\n  db:\n    password: {password}\n    user: app\n  api:\n    token: {TOKEN}\n", encoding="utf-8"
    )


def _env_file(root: Path) -> str:
    path = root / "out" / "app.env"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _cluster_password(fake: KubeFake) -> str | None:
    secret = fake.secret("team-a", "db")
    if secret is None:
        return None
    return base64.b64decode(secret["data"]["password"]).decode()


@pytest.fixture
def workdir(tmp_path: Path, kube_fake: KubeFake) -> Path:
    root = tmp_path / "deployment"
    root.mkdir()
    kubeconfig_for(kube_fake, ADMIN_TOKEN, root / "kubeconfig.yaml")
    _write_source(root, PASSWORD)
    (root / "syncd.yaml").write_text(MANIFEST.format(extra=""), encoding="utf-8")
    return root


def test_the_daemon_converges_repairs_reloads_and_stops(workdir: Path, kube_fake: KubeFake, tmp_path: Path) -> None:
    """The whole life of `syncd run` on one-second schedules, watched from outside."""
    state = tmp_path / "state"
    daemon = DaemonProcess(
        ["-c", str(workdir / "syncd.yaml"), "--listen", "127.0.0.1:0", "--state-dir", str(state),
         "--shutdown-timeout", "20s"],
        env={"E2E_TRIGGER_TOKEN": TRIGGER_TOKEN},
    )  # fmt: skip
    try:
        daemon.started()
        # Converges: the first run at start writes both sinks.
        wait_until(lambda: f"DB_PASSWORD='{PASSWORD}'" in _env_file(workdir), "the first apply", process=daemon)
        wait_until(lambda: _cluster_password(kube_fake) == PASSWORD, "the Secret written", process=daemon)

        # An out-of-band edit of a sink is repaired on the next tick.
        env_file = workdir / "out" / "app.env"
        env_file.write_text(_env_file(workdir).replace(PASSWORD, "edited-by-hand"), encoding="utf-8")
        wait_until(lambda: f"DB_PASSWORD='{PASSWORD}'" in _env_file(workdir), "the repair", process=daemon)

        # A rotation at the source reaches both sinks.
        _write_source(workdir, PASSWORD_2)
        wait_until(lambda: _cluster_password(kube_fake) == PASSWORD_2, "the rotation", process=daemon)

        # SIGHUP with a new valid manifest: its new sync is applied.
        (workdir / "syncd.yaml").write_text(MANIFEST.format(extra=EXTRA_SYNC), encoding="utf-8")
        daemon.send(signal.SIGHUP)
        daemon.wait_for_event("manifest reloaded")
        wait_until(lambda: f"API_TOKEN='{TOKEN}'" in _env_file(workdir), "the new sync applied", process=daemon)

        # An invalid manifest is logged with its errors, and the last good one keeps running.
        (workdir / "syncd.yaml").write_text(MANIFEST.format(extra="  - name: broken\n    from: x\n"), encoding="utf-8")
        daemon.send(signal.SIGHUP)
        invalid = daemon.wait_for_event("invalid manifest; the last good one keeps running")
        assert any("to" in error for error in invalid["errors"]), invalid
        env_file.write_text(_env_file(workdir).replace(f"API_TOKEN='{TOKEN}'", "API_TOKEN='x'"), encoding="utf-8")
        wait_until(
            lambda: f"API_TOKEN='{TOKEN}'" in _env_file(workdir), "a repair after the bad reload", process=daemon
        )

        # The metrics, parsed as Prometheus parses them.
        code, _, text = daemon.http("GET", "/metrics")
        assert code == 200
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
        names = {name for name, _ in samples}
        for expected in (
            "syncd_runs_total",
            "syncd_drift_items",
            "syncd_last_success_timestamp_seconds",
            "syncd_api_calls_total",
            "syncd_manifest_reloads_total",
            "syncd_leader",
            "syncd_build_info",
        ):
            assert expected in names, (expected, sorted(names))
        assert samples[("syncd_manifest_reloads_total", (("result", "invalid"),))] >= 1
        assert samples[("syncd_manifest_reloads_total", (("result", "ok"),))] >= 1
        assert samples[("syncd_leader", ())] == 1
        ok_runs = [v for (n, labels), v in samples.items() if n == "syncd_runs_total" and ("result", "ok") in labels]
        assert sum(ok_runs) >= 3
        assert any(n == "syncd_api_calls_total" and ("connector", "kubernetes") in labels for n, labels in samples)

        # The trigger: refused without the token or with a wrong one, accepted with it.
        assert daemon.http("POST", "/v1/syncs/db/run")[0] == 401
        assert daemon.http("POST", "/v1/syncs/db/run", {"Authorization": "Bearer wrong"})[0] == 401
        bearer = {"Authorization": f"Bearer {TRIGGER_TOKEN}"}
        assert daemon.http("POST", "/v1/syncs/nope/run", bearer)[0] == 404
        before = len(daemon.events())
        assert daemon.http("POST", "/v1/syncs/db/run", bearer)[0] == 202
        daemon.wait_for_event("run finished", lambda e: e.get("trigger") == "api" and e["sync"] == "db", after=before)

        code, _, body = daemon.http("GET", "/v1/status")
        status = json.loads(body)
        assert code == 200 and status["instance"] == "e2e" and set(status["syncs"]) == {"db", "api"}
        assert status["syncs"]["db"]["last_run"]["result"] == "ok"

        # SIGTERM: exit 0 within the deadline.
        daemon.send(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
        daemon.wait_for_event("syncd run stopped")
    finally:
        daemon.kill()

    # One audit record per applied change, each naming what changed and never a value.
    records = [json.loads(line) for line in (state / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    applied = [(r["target"], r["address"], r["action"]) for r in records if r["result"] == "applied"]
    changes = [e for e in daemon.events() if e.get("event") == "run finished"]
    assert sum(e["applied"] for e in changes) == len(applied)
    assert ("cluster", "team-a/db", "create") in applied and ("cluster", "team-a/db", "update") in applied
    assert ("app-env", "DB_PASSWORD", "update") in applied
    assert {r["trigger"] for r in records} >= {"start", "schedule"}
    # Each run's id is on its audit records and on every log line the run wrote, its worker threads' included.
    run_ids = {e["run_id"] for e in changes}
    change_events = [e for e in daemon.events() if e.get("event") == "change"]
    assert change_events and {e["run_id"] for e in change_events} <= run_ids
    assert {r["run_id"] for r in records} <= run_ids
    assert all(r["manifest"].startswith("sha256:") and r["instance"] == "e2e" for r in records)

    planted = {"password": PASSWORD, "rotated": PASSWORD_2, "token": TOKEN, "trigger token": TRIGGER_TOKEN}
    assert_no_leaks(
        planted,
        texts={"stdout": "".join(daemon.stdout), "stderr": "".join(daemon.stderr), "status": body, "metrics": text},
        paths=[state],
    )


def test_sigterm_leaves_at_the_deadline_when_an_apply_hangs(workdir: Path, kube_fake: KubeFake, tmp_path: Path) -> None:
    """An apply stuck on a server that does not answer holds SIGTERM only until --shutdown-timeout: the process
    then leaves with exit 0, releasing nothing (the kernel drops the instance lock with it)."""
    import threading
    import time

    from syncd.instance_lock import InstanceLock

    gate = threading.Event()
    kube_fake.before("POST", r"/secrets$", lambda *_: gate.wait(60))
    state = tmp_path / "state"
    daemon = DaemonProcess(
        ["-c", str(workdir / "syncd.yaml"), "--listen", "127.0.0.1:0", "--state-dir", str(state),
         "--shutdown-timeout", "1s"],
        env={"E2E_TRIGGER_TOKEN": TRIGGER_TOKEN},
    )  # fmt: skip
    try:
        daemon.started()
        wait_until(lambda: kube_fake.count("POST", r"/secrets$") >= 1, "the stuck create", process=daemon)
        stopped_at = time.monotonic()
        daemon.send(signal.SIGTERM)
        assert daemon.wait(timeout=20) == 0
        assert time.monotonic() - stopped_at < 10
        daemon.wait_for_event("runs still going at the shutdown deadline; leaving them")
        with InstanceLock(state, "e2e", "test") as lock:
            lock.acquire(0)
    finally:
        gate.set()
        daemon.kill()
