"""The `git` command for the daemon's manifest: a bare repository, shallow fetches of one ref, one tree per commit.

Every call goes through `GitRepository.run`: no shell, a deadline that kills git and its helpers, English
messages (`LC_ALL=C`) so failures can be told apart, and no prompt. A credential reaches git only through the
environment (`GIT_CONFIG_COUNT`), never argv, the URL or `.git/config`. git's own stderr never reaches a
message as it is: a failure becomes one sentence; where a line of it is kept, credentials are cut out first.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Where each fetch puts the commit it found, so it stays reachable until it is checked out.
FETCHED_REF = "refs/syncd/fetched"
_REPOSITORY_VARIABLES = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_CEILING_DIRECTORIES",
    }
)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


@dataclass(frozen=True)
class GitFailure:
    """What a failed git call printed, already stripped of credentials; `timed_out` when it was killed."""

    returncode: int
    stderr: str
    timed_out: bool = False


class GitCallFailed(Exception):
    def __init__(self, failure: GitFailure) -> None:
        self.failure = failure
        super().__init__(failure.stderr)


def strip_credentials(text: str, secrets: Sequence[str] = ()) -> str:
    """`text` without a URL's user and password and without any of `secrets`."""
    text = _USERINFO.sub(r"\g<scheme>", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


class GitRepository:
    """A bare repository at `path` driven by the `git` command.

    `config` holds git settings passed through the environment (`http.extraHeader` with the token); `secrets`
    are the strings cut out of anything git printed before it is kept.
    """

    def __init__(
        self,
        path: Path,
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        config: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        self.path = path
        self.timeout = timeout
        self._secrets = tuple(secrets)
        self._env = _git_environment(os.environ if env is None else env, config or {})

    def run(self, *args: str, env: Mapping[str, str] | None = None, git_dir: Path | None = None) -> str:
        """Run `git --git-dir=PATH ARGS`; its stdout, or GitCallFailed. FileNotFoundError when there is no git."""
        command = ["git", f"--git-dir={git_dir or self.path}", *args]
        environment = {**self._env, **(env or {})}
        # A session of its own, so a timeout kills git's helpers (git-remote-http) too: they hold the pipes open.
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.communicate()
            raise GitCallFailed(GitFailure(returncode=-1, stderr="", timed_out=True)) from None
        finally:
            if process.poll() is None:
                _kill_group(process)
                process.wait()
        if process.returncode != 0:
            text = stderr.decode("utf-8", errors="replace")
            raise GitCallFailed(GitFailure(process.returncode, strip_credentials(text, self._secrets)))
        return stdout.decode("utf-8", errors="replace")

    def ensure(self) -> None:
        """Create the bare repository when it is not there yet."""
        if (self.path / "HEAD").is_file():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Made in a temporary folder and renamed, so a crash never leaves half a repository behind.
        staging = Path(tempfile.mkdtemp(prefix=".repo-", dir=self.path.parent))
        try:
            self.run("init", "--bare", "--quiet", git_dir=staging)
            staging.rename(self.path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def fetch(self, url: str, ref: str) -> str:
        """Fetch only `ref` (a branch, a tag or a full commit id) of `url`, one commit deep; the commit's id."""
        self.run("fetch", "--quiet", "--depth=1", "--no-tags", "--end-of-options", url, f"+{ref}:{FETCHED_REF}")
        return self.run("rev-parse", "--verify", "--quiet", f"{FETCHED_REF}^{{commit}}").strip()

    def object_type(self, commit: str, path: str) -> str | None:
        """The type of the object at `path` in `commit` ("blob", "tree"), None when there is none."""
        try:
            return self.run("cat-file", "-t", f"{commit}:{path}").strip()
        except GitCallFailed as failed:
            if failed.failure.timed_out:
                raise
            return None

    def check_out(self, commit: str, tree: Path) -> None:
        """Write `commit`'s files to the new folder `tree`, complete or not at all (built aside, then renamed)."""
        tree.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{commit}-", dir=tree.parent))
        try:
            # An index of its own, so the bare repository has no index and no HEAD is moved.
            files = staging / "files"
            files.mkdir()
            aside = {"GIT_INDEX_FILE": str(staging / "index"), "GIT_WORK_TREE": str(files)}
            self.run("read-tree", commit, env=aside)
            self.run("checkout-index", "--all", "--force", env=aside)
            files.rename(tree)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _git_environment(base: Mapping[str, str], config: Mapping[str, str]) -> dict[str, str]:
    # A repository or work tree the daemon's own environment may name must not redirect these calls.
    environment = {key: value for key, value in base.items() if key not in _REPOSITORY_VARIABLES}
    environment.update({"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never", "LC_ALL": "C", "LANGUAGE": "C"})
    # Settings through GIT_CONFIG_COUNT, after any the environment already holds.
    count = int(environment.get("GIT_CONFIG_COUNT", "0") or "0")
    for key, value in config.items():
        environment[f"GIT_CONFIG_KEY_{count}"] = key
        environment[f"GIT_CONFIG_VALUE_{count}"] = value
        count += 1
    if config:
        environment["GIT_CONFIG_COUNT"] = str(count)
    return environment


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
