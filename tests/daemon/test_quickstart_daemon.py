"""The README's daemon step: `syncd run` on the offline quickstart converges, answers its probes and its status,
and stops with exit code 0 on Ctrl-C (SIGINT)."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

from tests.daemon.process import DaemonProcess, wait_until

ROOT = Path(__file__).parent.parent.parent


def test_syncd_run_on_the_quickstart(tmp_path: Path) -> None:
    """The quickstart as the README runs it, on a copy of the examples, with the JSON logs of the default."""
    shutil.copytree(ROOT / "examples" / "quickstart", tmp_path / "quickstart", ignore=shutil.ignore_patterns("out"))
    manifest = tmp_path / "quickstart" / "syncd.yaml"
    out = tmp_path / "quickstart" / "out"
    daemon = DaemonProcess(["-c", str(manifest), "--listen", "127.0.0.1:0", "--state-dir", str(tmp_path / "state")])
    try:
        daemon.started()
        wait_until(
            lambda: (out / "worker.env").exists() and (out / "api.env").exists(), "the first run", process=daemon
        )
        finished = daemon.wait_for_event("run finished", lambda e: e["sync"] == "third-party")
        assert finished["result"] == "ok" and finished["trigger"] == "start" and finished["applied"] == 2
        assert daemon.http("GET", "/healthz")[0] == 200 and daemon.http("GET", "/readyz")[0] == 200
        status = json.loads(daemon.http("GET", "/v1/status")[2])
        assert status["instance"] == "quickstart"
        assert {name: sync["last_run"]["result"] for name, sync in status["syncs"].items()} == {
            "payments-db": "ok",
            "third-party": "ok",
        }
        assert status["syncs"]["payments-db"]["schedule"] == "every 5m"
        daemon.send(signal.SIGINT)
        assert daemon.wait(timeout=30) == 0
    finally:
        daemon.kill()
    assert "DB_PASSWORD=" in (out / "api.env").read_text()
