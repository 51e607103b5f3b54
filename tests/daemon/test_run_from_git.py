"""`syncd run --git-url` as a real process: the manifest followed in a Git repository. Its first commit converges;
a new commit is reloaded within one --git-poll, with its commit in every audit record; a second daemon following the
same repository from the same state directory is refused, naming the first."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from tests.daemon.process import DaemonProcess, wait_until

MANIFEST = """\
version: 1
instance: from-git
defaults: {{schedule: 1h}}
source: {{type: file, path: secrets.yaml}}
targets: {{env: {{type: dotenv, path: {out}}}}}
syncs: [{{name: app, from: apps/app, to: [{{target: env, name: "{name}_{{key|env}}"}}]}}]
"""


def _git(repo: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def _commit(repo: Path, env: dict[str, str], name: str, out: Path) -> str:
    (repo / "syncd.yaml").write_text(MANIFEST.format(out=out, name=name))
    (repo / "secrets.yaml").write_text("apps:\n  app:\n    password: from-git-pw-3c9e\n")
    _git(repo, env, "add", "-A")
    _git(repo, env, "commit", "--quiet", "-m", name)
    return _git(repo, env, "rev-parse", "HEAD")


def test_the_daemon_follows_its_manifest_in_git(tmp_path: Path) -> None:
    """From a commit to the sink, then a new commit to the sink, each audit record naming its commit."""
    author = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    committer = {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    env = {**os.environ, "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1", **author, **committer}
    repo, out, state = tmp_path / "repo", tmp_path / "app.env", tmp_path / "state"
    repo.mkdir()
    _git(repo, env, "init", "--quiet", "--initial-branch=main")
    first = _commit(repo, env, "FIRST", out)
    argv = ["--git-url", repo.as_uri(), "--git-path", "syncd.yaml", "--git-poll", "1s",
            "--listen", "127.0.0.1:0", "--state-dir", str(state)]  # fmt: skip
    daemon = DaemonProcess(argv)
    try:
        assert daemon.started() and daemon.wait_for_event("syncd run started")["commit"] == first
        wait_until(lambda: out.exists() and "FIRST_PASSWORD=" in out.read_text(), "the first apply", process=daemon)
        second = _commit(repo, env, "SECOND", out)
        daemon.wait_for_event("manifest reloaded", lambda e: e["commit"] == second)
        wait_until(lambda: "SECOND_PASSWORD=" in out.read_text(), "the new commit applied", process=daemon)

        other = DaemonProcess(argv)
        assert other.wait(timeout=30) == 1
        assert "the Git work folder of" in other.output() and "is locked by syncd run" in other.output()

        daemon.send(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    finally:
        daemon.kill()
    records = [json.loads(line) for line in (state / "audit.jsonl").read_text().splitlines()]
    assert {r["manifest"] for r in records} == {f"git:{first}", f"git:{second}"}
    assert "from-git-pw-3c9e" not in daemon.output()
