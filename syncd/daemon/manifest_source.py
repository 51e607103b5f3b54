"""Where the daemon's manifest comes from, and when it changed: a file on disk, or a path in a Git repository.

Both give `ManifestRevision`s: `fetch()` the manifest as it is now, `poll()` a new revision only when its content
(a file) or its commit (Git) changed since the last one handed out, else None. A failure is a
`ManifestSourceError`; the object stays usable, and the next poll can succeed. The daemon keeps the last good
manifest in force meanwhile, and tells the source which revision that is (`in_force`), so its Git tree is kept.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from syncd.daemon.git_checkout import GitCallFailed, GitFailure, GitRepository, last_line, strip_credentials
from syncd.errors import ConfigError
from syncd.secret import REDACTOR

__all__ = ["FileManifest", "GitManifest", "ManifestRevision", "ManifestSource", "ManifestSourceError"]

_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
T = TypeVar("T")
# What a ref given on the command line may not hold: git's own forbidden characters, and a leading "-" or "+"
# that would make it an option or a forced refspec.
_BAD_REF = re.compile(r"[\s:~^?*\[\\]|\.\.|@\{|^[-+/]|/$|\.lock$|^$")


class ManifestSourceError(ConfigError):
    """The manifest could not be read from where `syncd run` follows it (a file, a Git repository): one sentence
    naming what failed and where, never a credential. The daemon keeps running the last good manifest."""


@dataclass(frozen=True)
class ManifestRevision:
    """One version of the manifest: the file to load, the sha256 of its bytes, the Git commit it came from (None
    for a plain file), and where it came from, for messages and the info metric."""

    path: Path
    digest: str
    commit: str | None
    origin: str


class ManifestSource(Protocol):
    def fetch(self) -> ManifestRevision: ...

    def poll(self) -> ManifestRevision | None: ...

    def in_force(self, revision: ManifestRevision) -> None: ...


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class _FileState:
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int


class FileManifest:
    """A manifest file that may change: edited in place, replaced by rename, or swapped behind a symlink (as
    git-sync does). `poll` compares the file's stat (device, inode, size, mtime, ctime, through symlinks) first
    and reads and hashes the file only when that moved."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._state: _FileState | None = None
        self._revision: ManifestRevision | None = None

    def fetch(self) -> ManifestRevision:
        with self._lock:
            self._revision = self._read()
            return self._revision

    def poll(self) -> ManifestRevision | None:
        with self._lock:
            if self._revision is not None and self._stat() == self._state:
                return None
            revision = self._read()
            if self._revision is not None and revision.digest == self._revision.digest:
                return None
            self._revision = revision
            return revision

    def in_force(self, revision: ManifestRevision) -> None:
        """Nothing to keep for a plain file: there is only the one."""

    def _stat(self) -> _FileState:
        try:
            stat = os.stat(self.path)
        except OSError as error:
            raise self._unreadable(error) from None
        return _FileState(stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)

    def _read(self) -> ManifestRevision:
        # The stat taken before the read: a change made during the read shows at the next poll.
        state = self._stat()
        try:
            data = self.path.read_bytes()
        except OSError as error:
            raise self._unreadable(error) from None
        self._state = state
        return ManifestRevision(path=self.path, digest=_digest(data), commit=None, origin=str(self.path))

    def _unreadable(self, error: OSError) -> ManifestSourceError:
        reason = (error.strerror or type(error).__name__).lower()
        return ManifestSourceError(f"the manifest file {self.path} cannot be read: {reason}")


class GitManifest:
    """The manifest at `path` in the Git repository `url`, at `ref` (a branch, a tag or a full commit id).

    Each fetch is shallow (one commit of just `ref`) into a bare repository in `workdir`; each commit is checked
    out into its own folder, `workdir/trees/<commit>`, written aside and renamed into place, never over a tree a
    run may be reading. The trees of the last two revisions handed out and of the last two in force are kept,
    older ones removed. `token` reaches git as an `Authorization: Basic` header through the environment
    (`username:token`), for HTTPS.
    """

    def __init__(
        self,
        url: str,
        ref: str,
        path: str,
        workdir: Path,
        *,
        token: str | None = None,
        username: str = "oauth2",
        timeout: float = 60.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.url = _checked_url(url, token)
        self.ref = _checked_ref(ref)
        self.path = _checked_path(path)
        self.workdir = workdir.absolute()
        self.origin = f"{self.url}@{self.ref}:{self.path}"
        config: dict[str, str] = {}
        secrets: list[str] = []
        if token:
            encoded = base64.b64encode(f"{username}:{token}".encode()).decode("ascii")
            config["http.extraHeader"] = f"Authorization: Basic {encoded}"
            secrets = [token, encoded]
            for secret in secrets:
                REDACTOR.add(secret)
        self._git = GitRepository(self.workdir / "repo.git", timeout=timeout, env=env, config=config, secrets=secrets)
        self._timeout = timeout
        self._token_given = bool(token)
        self._lock = threading.Lock()
        self._handed_out: list[str] = []
        self._in_force: list[str] = []
        self._revision: ManifestRevision | None = None

    def fetch(self) -> ManifestRevision:
        with self._lock:
            return self._fetch()

    def poll(self) -> ManifestRevision | None:
        with self._lock:
            previous = self._revision
            revision = self._fetch()
            if previous is not None and revision.commit == previous.commit:
                return None
            return revision

    def in_force(self, revision: ManifestRevision) -> None:
        """The daemon runs on `revision` now: its tree and the one in force before it are kept, whatever commits
        come and are refused after it."""
        with self._lock:
            if revision.commit is not None:
                _remember(self._in_force, revision.commit)
                self._prune()

    def _fetch(self) -> ManifestRevision:
        commit = self._call("fetch", self._fetch_commit)
        tree = self.workdir / "trees" / commit
        if not tree.is_dir():
            kind = self._call("read", lambda: self._git.object_type(commit, self.path))
            if kind != "blob":
                what = "is missing" if kind is None else "is not a file"
                raise ManifestSourceError(f"--git-path {self.path} {what} at commit {commit} of {self._where()}")
            self._call("check out", lambda: self._git.check_out(commit, tree))
        manifest = tree / self.path
        if not _inside(tree, manifest) or not manifest.is_file():
            raise ManifestSourceError(
                f"--git-path {self.path} leads outside the repository or to no file at commit {commit} "
                f"of {self._where()}"
            )
        data = self._call("read", manifest.read_bytes)
        revision = ManifestRevision(path=manifest, digest=_digest(data), commit=commit, origin=self.origin)
        self._revision = revision
        _remember(self._handed_out, commit)
        self._prune()
        return revision

    def _fetch_commit(self) -> str:
        self._git.ensure()
        commit = self._git.fetch(self.url, self.ref)
        if not _FULL_SHA.fullmatch(commit):
            raise GitCallFailed(GitFailure(returncode=0, stderr="no commit"))
        return commit

    def _call(self, action: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except FileNotFoundError:
            raise ManifestSourceError(
                f"cannot {action} the manifest from {self._where()}: the git command is not installed"
            ) from None
        except GitCallFailed as failed:
            raise ManifestSourceError(self._sentence(action, failed.failure)) from None
        except OSError as error:
            reason = (error.strerror or type(error).__name__).lower()
            raise ManifestSourceError(f"cannot {action} the manifest from {self._where()}: {reason}") from None

    def _sentence(self, action: str, failure: GitFailure) -> str:
        where = self._where()
        if failure.timed_out:
            return f"cannot {action} the manifest from {where}: git did not finish within {self._timeout:g}s"
        text = failure.stderr
        lowered = text.lower()
        if any(
            sign in lowered
            for sign in ("could not read username", "could not read password", "authentication failed", "error: 401")
        ):
            if self._token_given:
                return f"cannot {action} the manifest from {where}: the server refused the --git-token (HTTP 401)"
            return f"cannot {action} the manifest from {where}: the server asks for credentials; give --git-token"
        if "error: 403" in lowered:
            return f"cannot {action} the manifest from {where}: the server denied access (HTTP 403)"
        if "couldn't find remote ref" in lowered or "unadvertised object" in lowered or "not our ref" in lowered:
            return f"cannot {action} the manifest from {where}: --git-ref {self.ref} is not in the repository"
        if "could not resolve host" in lowered:
            return f"cannot {action} the manifest from {where}: the host name does not resolve"
        if "failed to connect" in lowered or "couldn't connect" in lowered or "connection refused" in lowered:
            return f"cannot {action} the manifest from {where}: the server cannot be reached"
        if "error: 404" in lowered or "does not appear to be a git repository" in lowered or "not found" in lowered:
            return f"cannot {action} the manifest from {where}: no repository at --git-url"
        detail = last_line(strip_credentials(text, ()))
        return f"cannot {action} the manifest from {where}: git failed" + (f" ({detail})" if detail else "")

    def _where(self) -> str:
        return f"--git-url {self.url} (ref {self.ref})"

    def _prune(self) -> None:
        """Remove the trees no revision handed out or in force needs, and what a crash left half written."""
        trees = self.workdir / "trees"
        if not trees.is_dir():
            return
        keep = set(self._handed_out) | set(self._in_force)
        for entry in trees.iterdir():
            if entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)


def _remember(commits: list[str], commit: str) -> None:
    """Keep the last two distinct commits, newest last."""
    if commit in commits:
        commits.remove(commit)
    commits.append(commit)
    del commits[:-2]


def _inside(tree: Path, manifest: Path) -> bool:
    try:
        manifest.resolve().relative_to(tree.resolve())
    except ValueError:
        return False
    return True


def _checked_url(url: str, token: str | None) -> str:
    parts = urlsplit(url)
    if parts.password or (parts.username and parts.scheme in ("http", "https")):
        raise ManifestSourceError(
            "--git-url holds a user name or password; give the URL without them and the token with --git-token"
        )
    if token and parts.scheme not in ("http", "https"):
        raise ManifestSourceError(f"--git-token works only with an https:// --git-url, not {urlunsplit(parts)}")
    return url


def _checked_ref(ref: str) -> str:
    if _BAD_REF.search(ref):
        raise ManifestSourceError(f"--git-ref {ref!r} is not a branch, tag or commit name")
    return ref


def _checked_path(path: str) -> str:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise ManifestSourceError(f"--git-path {path} must be a path inside the repository, without '..'")
    return pure.as_posix()
