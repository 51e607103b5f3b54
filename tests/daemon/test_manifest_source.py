"""Where the daemon's manifest comes from: a file that may change, and a Git repository served over real HTTP.

The Git server is dulwich's smart-HTTP WSGI app on a free loopback port, behind a middleware that answers 401
without the right `Authorization` header. Every git call goes through a wrapper on PATH that records its argv.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from dulwich.repo import Repo
from dulwich.server import Backend
from dulwich.web import make_wsgi_chain
from werkzeug.serving import make_server

from syncd.daemon.manifest_source import FileManifest, GitManifest, ManifestRevision, ManifestSourceError
from tests.leakscan import find_leaks, redactor_off

TOKEN = "PLANTED-gittok-5c81e0"
FORBIDDEN = "PLANTED-forbidden-0a77c3"
MANIFEST_PATH = "deploy/syncd.yaml"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Upstream:
    """A working repository the tests commit to, which the server and `file://` URLs serve."""

    path: Path
    env: Mapping[str, str]

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.path, env=dict(self.env), check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    def commit(self, files: Mapping[str, str | None], message: str = "change") -> str:
        for name, text in files.items():
            target = self.path / name
            if text is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        self.git("add", "-A")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    @property
    def url(self) -> str:
        return self.path.as_uri()


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    """An environment of git's own: no user or system configuration, and git behind a wrapper recording argv."""
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    real_git = shutil.which("git")
    assert real_git
    wrapper = bin_dir / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{tmp_path}/argv.log"\nexec "{real_git}" "$@"\n')
    wrapper.chmod(0o755)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "syncd tests",
        "GIT_AUTHOR_EMAIL": "tests@example.invalid",
        "GIT_COMMITTER_NAME": "syncd tests",
        "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    }


@pytest.fixture
def upstream(tmp_path: Path, git_env: dict[str, str]) -> Upstream:
    path = tmp_path / "upstream"
    path.mkdir()
    repo = Upstream(path, git_env)
    repo.git("init", "--quiet", "--initial-branch=main")
    repo.commit({MANIFEST_PATH: "version: 1  # one\n", "deploy/secrets.yaml": "first\n"}, "first")
    return repo


class _FreshRepo(Backend):
    """Opens the repository anew for every request, so commits made between requests are served."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def open_repository(self, path: str) -> Repo:
        return Repo(str(self.path))


def _requiring(header: str, app: Callable) -> Callable:
    """401 without `header`, 403 for the token FORBIDDEN, else the app."""
    forbidden = "Basic " + base64.b64encode(f"oauth2:{FORBIDDEN}".encode()).decode()

    def guarded(environ: dict, start_response: Callable) -> object:
        if environ.get("HTTP_AUTHORIZATION") == forbidden:
            start_response("403 Forbidden", [])
            return [b"forbidden\n"]
        if environ.get("HTTP_AUTHORIZATION") != header:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"')])
            return [b"authentication required\n"]
        return app(environ, start_response)

    return guarded


@pytest.fixture
def git_server(upstream: Upstream) -> Iterator[str]:
    """The upstream repository over smart HTTP on a free loopback port; it wants `oauth2:TOKEN`."""
    header = "Basic " + base64.b64encode(f"oauth2:{TOKEN}".encode()).decode()
    app = _requiring(header, make_wsgi_chain(_FreshRepo(upstream.path)))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/repo.git"
    finally:
        server.shutdown()
        thread.join()


def git_manifest(url: str, tmp_path: Path, env: Mapping[str, str], **options: object) -> GitManifest:
    options.setdefault("ref", "main")
    options.setdefault("path", MANIFEST_PATH)
    return GitManifest(url, workdir=tmp_path / "work", env=env, timeout=30.0, **options)  # type: ignore[arg-type]


def recorded_argv(tmp_path: Path) -> str:
    return (tmp_path / "argv.log").read_text()


# --- Git over HTTP with a token


def test_fetch_over_http_gives_the_manifest_at_the_branch_commit(
    git_server: str, upstream: Upstream, tmp_path: Path, git_env: dict[str, str]
) -> None:
    """A fetch clones just the ref and hands out the manifest's file in the commit's own tree, its sha256, the
    commit, and an origin naming URL, ref and path."""
    source = git_manifest(git_server, tmp_path, git_env, token=TOKEN)
    revision = source.fetch()
    head = upstream.git("rev-parse", "HEAD")
    assert revision.commit == head
    assert revision.path == tmp_path / "work" / "trees" / head / MANIFEST_PATH
    assert revision.path.read_text() == "version: 1  # one\n"
    assert revision.digest == sha256(upstream.path / MANIFEST_PATH)
    assert revision.origin == f"{git_server}@main:{MANIFEST_PATH}"
    assert (revision.path.parent / "secrets.yaml").read_text() == "first\n"
    assert upstream.git("rev-parse", "HEAD") == head


def test_poll_gives_nothing_while_the_ref_stays_put(
    git_server: str, upstream: Upstream, tmp_path: Path, git_env: dict[str, str]
) -> None:
    """Polling again with no new commit gives None."""
    source = git_manifest(git_server, tmp_path, git_env, token=TOKEN)
    source.fetch()
    assert source.poll() is None
    assert source.poll() is None


def test_a_new_commit_is_a_new_revision_and_the_old_tree_stays_intact(
    git_server: str, upstream: Upstream, tmp_path: Path, git_env: dict[str, str]
) -> None:
    """A commit on the branch gives a new revision in a tree of its own; the old revision's files, which a run may
    still be reading, are exactly as they were."""
    source = git_manifest(git_server, tmp_path, git_env, token=TOKEN)
    old = source.fetch()
    new_commit = upstream.commit({MANIFEST_PATH: "version: 1  # two\n", "deploy/secrets.yaml": "second\n"})
    new = source.poll()
    assert new is not None
    assert new.commit == new_commit != old.commit
    assert new.digest == sha256(upstream.path / MANIFEST_PATH) != old.digest
    assert new.path.read_text() == "version: 1  # two\n"
    assert (new.path.parent / "secrets.yaml").read_text() == "second\n"
    assert old.path.read_text() == "version: 1  # one\n"
    assert (old.path.parent / "secrets.yaml").read_text() == "first\n"
    assert source.poll() is None


def test_only_the_current_and_the_previous_trees_are_kept(
    git_server: str, upstream: Upstream, tmp_path: Path, git_env: dict[str, str]
) -> None:
    """After three revisions the first one's tree is gone; the last two remain."""
    source = git_manifest(git_server, tmp_path, git_env, token=TOKEN)
    first = source.fetch()
    upstream.commit({MANIFEST_PATH: "version: 1  # two\n"})
    second = source.poll()
    upstream.commit({MANIFEST_PATH: "version: 1  # three\n"})
    third = source.poll()
    assert second is not None and third is not None
    trees = {entry.name for entry in (tmp_path / "work" / "trees").iterdir()}
    assert trees == {second.commit, third.commit}
    assert not first.path.exists()


def test_the_tree_in_force_is_kept_while_newer_revisions_are_refused(
    git_server: str, upstream: Upstream, tmp_path: Path, git_env: dict[str, str]
) -> None:
    """When the daemon keeps running an older revision (it refused the newer ones), that revision's tree is not
    removed however many revisions come after it."""
    source = git_manifest(git_server, tmp_path, git_env, token=TOKEN)
    good = source.fetch()
    source.in_force(good)
    for n in range(3):
        upstream.commit({MANIFEST_PATH: f"not: [valid {n}\n"})
        assert source.poll() is not None
    assert good.path.read_text() == "version: 1  # one\n"
    assert (good.path.parent / "secrets.yaml").read_text() == "first\n"


def test_a_wrong_token_is_one_sentence_without_the_token(
    git_server: str, tmp_path: Path, git_env: dict[str, str], caplog: pytest.LogCaptureFixture, capfd
) -> None:
    """A refused token fails with one sentence naming --git-token and the URL, and neither the token nor its
    header shows up in the message, the logs or anything printed (checked with the redactor off)."""
    wrong = "PLANTED-wrongtok-9d2f17"
    caplog.set_level(logging.DEBUG)
    with redactor_off():
        source = git_manifest(git_server, tmp_path, git_env, token=wrong)
        with pytest.raises(ManifestSourceError) as raised:
            source.fetch()
        message = str(raised.value)
    assert message == (
        f"cannot fetch the manifest from --git-url {git_server} (ref main): the server refused the --git-token "
        "(HTTP 401)"
    )
    header = base64.b64encode(f"oauth2:{wrong}".encode()).decode()
    out, err = capfd.readouterr()
    leaks = find_leaks(
        {"token": wrong, "header": header},
        texts={"message": message, "repr": repr(raised.value), "logs": caplog.text, "stdout": out, "stderr": err},
        paths=[tmp_path / "work"],
    )
    assert not leaks


def test_no_token_for_a_server_that_wants_one_says_to_give_it(
    git_server: str, tmp_path: Path, git_env: dict[str, str]
) -> None:
    """Without --git-token, a server asking for credentials fails at once (no prompt) with a sentence saying so."""
    source = git_manifest(git_server, tmp_path, git_env)
    with pytest.raises(ManifestSourceError, match=r"the server asks for credentials; give --git-token$"):
        source.fetch()


def test_a_token_without_access_is_one_sentence(git_server: str, tmp_path: Path, git_env: dict[str, str]) -> None:
    """A token the server knows but denies (HTTP 403) fails with a sentence saying access was denied."""
    source = git_manifest(git_server, tmp_path, git_env, token=FORBIDDEN)
    with redactor_off(), pytest.raises(ManifestSourceError) as raised:
        source.fetch()
    assert str(raised.value) == (
        f"cannot fetch the manifest from --git-url {git_server} (ref main): the server denied access (HTTP 403)"
    )


def test_the_token_is_in_no_argv_and_in_no_file_git_writes(
    git_server: str, upstream: Upstream, tmp_path: Path, git_env: dict[str, str]
) -> None:
    """The token and its Basic header reach git through the environment only: no git command line held them, and
    neither the repository's config nor any other file under the work folder does."""
    source = git_manifest(git_server, tmp_path, git_env, token=TOKEN)
    source.fetch()
    upstream.commit({MANIFEST_PATH: "version: 1  # two\n"})
    assert source.poll() is not None
    header = base64.b64encode(f"oauth2:{TOKEN}".encode()).decode()
    argv = recorded_argv(tmp_path)
    assert "fetch" in argv and git_server in argv
    config = (tmp_path / "work" / "repo.git" / "config").read_text()
    assert "extraHeader" not in config and "127.0.0.1" not in config
    leaks = find_leaks({"token": TOKEN, "header": header}, texts={"argv": argv}, paths=[tmp_path / "work"])
    assert not leaks


def test_a_url_with_a_password_is_refused(tmp_path: Path, git_env: dict[str, str]) -> None:
    """A URL carrying user and password is refused before any git call, pointing to --git-token, without the
    password in the message."""
    with pytest.raises(ManifestSourceError) as raised:
        git_manifest(f"https://someone:{TOKEN}@git.example.invalid/repo.git", tmp_path, git_env)
    assert "--git-token" in str(raised.value)
    assert TOKEN not in str(raised.value)
    assert not (tmp_path / "argv.log").exists()


# --- Refs, paths and failures (local file:// repositories)


def test_a_lightweight_and_an_annotated_tag_give_the_tagged_commit(
    upstream: Upstream, tmp_path: Path, git_env: dict[str, str]
) -> None:
    """--git-ref may name a tag, lightweight or annotated; the revision is the commit it points at."""
    tagged = upstream.git("rev-parse", "HEAD")
    upstream.git("tag", "v1")
    upstream.git("tag", "--annotate", "-m", "release", "v2")
    upstream.commit({MANIFEST_PATH: "version: 1  # later\n"})
    for tag in ("v1", "v2"):
        revision = git_manifest(upstream.url, tmp_path / tag, git_env, ref=tag).fetch()
        assert revision.commit == tagged
        assert revision.path.read_text() == "version: 1  # one\n"


def test_a_full_commit_id_gives_that_commit(upstream: Upstream, tmp_path: Path, git_env: dict[str, str]) -> None:
    """--git-ref may be a full commit id, also one no branch points at any more; polling it never gives more."""
    pinned = upstream.git("rev-parse", "HEAD")
    upstream.commit({MANIFEST_PATH: "version: 1  # later\n"})
    source = git_manifest(upstream.url, tmp_path, git_env, ref=pinned)
    revision = source.fetch()
    assert revision.commit == pinned
    assert revision.path.read_text() == "version: 1  # one\n"
    upstream.commit({MANIFEST_PATH: "version: 1  # even later\n"})
    assert source.poll() is None


def test_repository_variables_of_the_daemon_do_not_redirect_git(
    upstream: Upstream, tmp_path: Path, git_env: dict[str, str]
) -> None:
    """GIT_DIR, GIT_OBJECT_DIRECTORY and the like in the daemon's environment neither redirect nor break the
    fetch."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    redirected = {name: str(elsewhere / name.lower()) for name in ("GIT_DIR", "GIT_OBJECT_DIRECTORY", "GIT_INDEX_FILE")}
    revision = git_manifest(upstream.url, tmp_path, {**git_env, **redirected}).fetch()
    assert revision.path.read_text() == "version: 1  # one\n"
    assert list(elsewhere.iterdir()) == []


def test_an_unknown_ref_is_named(upstream: Upstream, tmp_path: Path, git_env: dict[str, str]) -> None:
    """A ref the repository does not have fails with a sentence naming --git-ref."""
    source = git_manifest(upstream.url, tmp_path, git_env, ref="no-such-branch")
    with pytest.raises(ManifestSourceError, match=r": --git-ref no-such-branch is not in the repository$"):
        source.fetch()


def test_a_missing_path_names_git_path_and_the_commit_and_a_later_commit_recovers(
    upstream: Upstream, tmp_path: Path, git_env: dict[str, str]
) -> None:
    """A commit without the manifest fails naming --git-path and that commit, the revision handed out before stays
    intact, and the next commit that has the file again is a new revision."""
    source = git_manifest(upstream.url, tmp_path, git_env)
    before = source.fetch()
    without = upstream.commit({MANIFEST_PATH: None})
    with pytest.raises(ManifestSourceError) as raised:
        source.poll()
    assert str(raised.value) == (
        f"--git-path {MANIFEST_PATH} is missing at commit {without} of --git-url {upstream.url} (ref main)"
    )
    assert before.path.read_text() == "version: 1  # one\n"
    fixed = upstream.commit({MANIFEST_PATH: "version: 1  # back\n"})
    after = source.poll()
    assert after is not None and after.commit == fixed
    assert after.path.read_text() == "version: 1  # back\n"


def test_a_folder_at_the_path_is_not_a_manifest(upstream: Upstream, tmp_path: Path, git_env: dict[str, str]) -> None:
    """--git-path naming a folder fails with a sentence saying it is not a file."""
    source = git_manifest(upstream.url, tmp_path, git_env, path="deploy")
    with pytest.raises(ManifestSourceError, match=r"^--git-path deploy is not a file at commit [0-9a-f]{40} "):
        source.fetch()


@pytest.mark.parametrize("path", ["../outside.yaml", "deploy/../../outside.yaml", "/etc/passwd", "", "."])
def test_a_path_leaving_the_repository_is_refused(path: str, tmp_path: Path, git_env: dict[str, str]) -> None:
    """A --git-path that is absolute, climbs out with '..' or names no file is refused before any git call."""
    with pytest.raises(ManifestSourceError, match=r"^--git-path .* must be a path inside the repository"):
        git_manifest("https://git.example.invalid/repo.git", tmp_path, git_env, path=path)
    assert not (tmp_path / "argv.log").exists()


@pytest.mark.parametrize("ref", ["--upload-pack=touch", "+main", "main:refs/heads/x", "a b", "main..other", ""])
def test_a_ref_that_is_no_name_is_refused(ref: str, tmp_path: Path, git_env: dict[str, str]) -> None:
    """A --git-ref that git would read as an option, a refspec or a range is refused before any git call."""
    with pytest.raises(ManifestSourceError, match=r"^--git-ref .* is not a branch, tag or commit name$"):
        git_manifest("https://git.example.invalid/repo.git", tmp_path, git_env, ref=ref)
    assert not (tmp_path / "argv.log").exists()


def test_a_symlink_leading_out_of_the_tree_is_refused(
    upstream: Upstream, tmp_path: Path, git_env: dict[str, str]
) -> None:
    """A manifest that is a symlink pointing outside the checked-out tree is refused, naming --git-path and the
    commit."""
    outside = tmp_path / "outside.yaml"
    outside.write_text("version: 1\n")
    (upstream.path / "deploy" / "link.yaml").symlink_to(outside)
    commit = upstream.commit({})
    source = git_manifest(upstream.url, tmp_path, git_env, path="deploy/link.yaml")
    with pytest.raises(ManifestSourceError, match=rf"^--git-path deploy/link.yaml leads outside .* commit {commit} "):
        source.fetch()


def test_a_silent_server_times_out(tmp_path: Path, git_env: dict[str, str]) -> None:
    """A server that accepts the connection and never answers fails after the timeout with one sentence (git and
    its HTTP helper are killed together, or the call would hang on their pipes)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/repo.git"
        source = GitManifest(url, "main", MANIFEST_PATH, tmp_path / "work", env=git_env, timeout=1.0)
        with pytest.raises(ManifestSourceError) as raised:
            source.fetch()
    assert str(raised.value) == (
        f"cannot fetch the manifest from --git-url {url} (ref main): git did not finish within 1s"
    )


def test_an_unreachable_server_is_one_sentence(tmp_path: Path, git_env: dict[str, str]) -> None:
    """A port nobody listens on fails with a sentence saying the server cannot be reached."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/repo.git"
    source = git_manifest(url, tmp_path, git_env)
    with pytest.raises(ManifestSourceError, match=r"\(ref main\): the server cannot be reached$"):
        source.fetch()


def test_a_missing_git_command_is_one_sentence(tmp_path: Path, git_env: dict[str, str]) -> None:
    """Without git on PATH, the fetch fails saying the git command is not installed."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    source = git_manifest("https://git.example.invalid/repo.git", tmp_path, {**git_env, "PATH": str(empty)})
    with pytest.raises(ManifestSourceError, match=r": the git command is not installed$"):
        source.fetch()


def test_a_failed_poll_leaves_the_source_usable(upstream: Upstream, tmp_path: Path, git_env: dict[str, str]) -> None:
    """When the repository disappears for a while, polls fail; once it is back, the next poll finds the new
    commit."""
    source = git_manifest(upstream.url, tmp_path, git_env)
    source.fetch()
    moved = upstream.path.with_name("moved-away")
    upstream.path.rename(moved)
    with pytest.raises(ManifestSourceError, match=r"no repository at --git-url$"):
        source.poll()
    moved.rename(upstream.path)
    commit = upstream.commit({MANIFEST_PATH: "version: 1  # two\n"})
    revision = source.poll()
    assert revision is not None and revision.commit == commit


# --- A plain file


@pytest.fixture
def manifest_file(tmp_path: Path) -> Path:
    path = tmp_path / "syncd.yaml"
    path.write_text("version: 1  # one\n")
    return path


def test_a_file_is_fetched_with_its_digest(manifest_file: Path) -> None:
    """A file's revision is the file itself, the sha256 of its bytes, no commit, and the path as origin."""
    revision = FileManifest(manifest_file).fetch()
    assert revision == ManifestRevision(manifest_file, sha256(manifest_file), None, str(manifest_file))


def test_a_file_edited_in_place_is_a_new_revision(manifest_file: Path) -> None:
    """Writing the file in place gives a new revision once, then None."""
    source = FileManifest(manifest_file)
    source.fetch()
    assert source.poll() is None
    manifest_file.write_text("version: 1  # two, longer\n")
    revision = source.poll()
    assert revision is not None and revision.digest == sha256(manifest_file)
    assert source.poll() is None


def test_a_file_touched_without_a_change_is_no_new_revision(manifest_file: Path) -> None:
    """A new modification time over the same bytes gives None: the content decides."""
    source = FileManifest(manifest_file)
    source.fetch()
    stat = manifest_file.stat()
    os.utime(manifest_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert source.poll() is None


def test_a_file_replaced_by_rename_is_a_new_revision(manifest_file: Path) -> None:
    """An editor's save (a new file renamed over the old one), even with the same size and modification time, is
    seen."""
    source = FileManifest(manifest_file)
    source.fetch()
    stat = manifest_file.stat()
    replacement = manifest_file.with_name(".syncd.yaml.swp")
    replacement.write_text("version: 1  # TWO\n")
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, manifest_file)
    revision = source.poll()
    assert revision is not None and revision.digest == sha256(manifest_file)


def test_a_symlink_swap_as_git_sync_does_is_a_new_revision(tmp_path: Path) -> None:
    """git-sync points a symlink at a new folder and swaps it by rename; the manifest read through it changes."""
    for name, text in (("rev-a", "version: 1  # a\n"), ("rev-b", "version: 1  # b\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "syncd.yaml").write_text(text)
    (tmp_path / "current").symlink_to("rev-a")
    path = tmp_path / "current" / "syncd.yaml"
    source = FileManifest(path)
    first = source.fetch()
    (tmp_path / "next").symlink_to("rev-b")
    os.replace(tmp_path / "next", tmp_path / "current")
    revision = source.poll()
    assert revision is not None and revision.digest != first.digest
    assert revision.path == path and revision.digest == sha256(tmp_path / "rev-b" / "syncd.yaml")


def test_a_deleted_file_fails_and_a_later_poll_recovers(manifest_file: Path) -> None:
    """A deleted manifest is an error naming the file; when a changed file is back, the next poll gives it; when
    the same content is back, there is nothing new."""
    source = FileManifest(manifest_file)
    source.fetch()
    manifest_file.unlink()
    with pytest.raises(ManifestSourceError, match=rf"^the manifest file {manifest_file} cannot be read: no such file"):
        source.poll()
    manifest_file.write_text("version: 1  # one\n")
    assert source.poll() is None
    manifest_file.write_text("version: 1  # back, changed\n")
    revision = source.poll()
    assert revision is not None and revision.digest == sha256(manifest_file)
