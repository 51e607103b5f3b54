"""An error at, or a kill right after, each filesystem call of a dotenv apply; then the next run converges.

The apply (creates, an update and prune deletes, all flushed in one batch)
runs in a forked child whose `connectors.local.dotenv_file` module, which
makes every filesystem call of the sink, sees `os` and `fcntl` through a
proxy that counts each call. At call N the proxy either raises OSError (EIO)
instead of making it, or makes it and ends the process with `os._exit`,
which runs no `finally`, `except` or cleanup: what SIGKILL would do at that
instant.

After each fault: the file holds the old variables or the new ones, never a
mix, and every marker sits above a value syncd wrote; a second apply exits
0; a third plan finds nothing to do; no temporary file is left and the lock
file does not get in the way.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from connectors.local import dotenv_file, dotenv_sink
from tests.connectors.local.dotenv_support import (
    apply_args,
    markers_sit_on_syncd_lines,
    results,
    run,
    variables,
    write_manifest,
)

# Every os and fcntl function the sink calls; any other attribute passes through uncounted.
COUNTED = {
    "makedirs",
    "open",
    "close",
    "read",
    "write",
    "fstat",
    "stat",
    "fsync",
    "fchmod",
    "utime",
    "replace",
    "unlink",
    "listdir",
    "flock",
}
KILLED = 137
PERSON = "# by hand\nPERSON=hand\n"
BEFORE = {"KEEP": "1", "CHANGE": "old", "DROP": "x", "DROP_TOO": "y"}
AFTER = {"KEEP": "1", "CHANGE": "new", "ADD": "2", "ADD_TOO": 'it\'s "3"'}


class Faulty:
    """Stands in for a module inside the sink: counts calls, logs their names, and fails or dies at one.

    Counting starts when apply opens the sink's batch: the plan's reads before it write nothing.
    """

    armed = False

    def __init__(self, real: Any, log: str, fail_at: int | None, kill: bool) -> None:
        self._real, self._log, self._fail_at, self._kill = real, log, fail_at, kill

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._real, name)
        if name not in COUNTED or not Faulty.armed:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with open(self._log, "a", encoding="utf-8") as log:
                log.write(name + "\n")
            with open(self._log, encoding="utf-8") as log:
                number = sum(1 for _ in log)
            if number == self._fail_at and not self._kill:
                raise OSError(errno.EIO, "Input/output error (injected)")
            result = attribute(*args, **kwargs)
            if number == self._fail_at:
                os._exit(KILLED)
            return result

        return call


def faulty(log: Path, fail_at: int | None, kill: bool) -> Any:
    def install() -> None:
        dotenv_file.os = Faulty(os, str(log), fail_at, kill)  # type: ignore[assignment]
        dotenv_file.fcntl = Faulty(fcntl, str(log), fail_at, kill)  # type: ignore[assignment]
        batch = dotenv_sink.DotenvSink.batch

        def armed_batch(self: dotenv_sink.DotenvSink) -> Any:
            Faulty.armed = True
            return batch(self)

        dotenv_sink.DotenvSink.batch = armed_batch  # type: ignore[method-assign]

    return install


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The file after a first apply, the manifest of the second, and the calls a clean second apply makes."""
    root = tmp_path_factory.mktemp("faults")
    target = root / "env" / "app.env"
    target.parent.mkdir()
    target.write_text(PERSON)
    assert run(apply_args(write_manifest(root / "m", "solo", target, BEFORE)), root / "first.out") == 0
    before = target.read_bytes()
    manifest = write_manifest(root / "m", "solo", target, AFTER)
    log = root / "clean.log"
    assert run(apply_args(manifest), root / "clean.out", faulty(log, None, kill=False)) == 0
    calls = log.read_text().split()
    return {"root": root, "target": target, "before": before, "manifest": manifest, "calls": calls}


def test_a_clean_apply_makes_every_expected_call(scene: dict[str, Any]) -> None:
    """The counted calls cover lock, read, temporary write, fsync, rename, folder sync and unlock."""
    calls = scene["calls"]
    for name in ("makedirs", "open", "flock", "read", "write", "fsync", "replace", "close", "listdir"):
        assert name in calls
    assert calls.count("flock") == 2  # lock and unlock
    assert calls.index("replace") > calls.index("fsync")


@pytest.mark.parametrize("kill", [False, True], ids=["error", "kill"])
def test_each_call_fails_or_dies_and_the_next_run_converges(scene: dict[str, Any], kill: bool) -> None:
    """At every call of the apply, an error or a kill leaves the old or the new file and a run that converges."""
    target: Path = scene["target"]
    root: Path = scene["root"]
    old = variables_of(scene["before"], root)
    new = {name: ("solo", value) for name, value in AFTER.items()} | {"PERSON": (None, "hand")}
    for number in range(1, len(scene["calls"]) + 1):
        where = f"{'kill after' if kill else 'error at'} call {number} ({scene['calls'][number - 1]})"
        shutil.rmtree(target.parent)
        target.parent.mkdir()
        target.write_bytes(scene["before"])
        code = run(apply_args(scene["manifest"]), root / "fault.out", faulty(root / "fault.log", number, kill))
        (root / "fault.log").unlink()
        assert code == (KILLED if kill else 1) or (not kill and code == 0), where
        found = variables(target)
        # Each variable is as it was or as it should be, never anything else; an error fails whole changes.
        assert all(found.get(name) in (old.get(name), new.get(name)) for name in old | new), where
        if not kill:
            for result in results(root / "fault.out"):
                assert found.get(result["address"]) == (new if result["status"] == "applied" else old).get(
                    result["address"]
                ), where
        assert markers_sit_on_syncd_lines(target, {"solo": BEFORE}, {"solo": AFTER}) == [], where
        assert PERSON in target.read_text(), where
        assert run(apply_args(scene["manifest"]), root / "second.out") == 0, where
        assert variables(target) == new, where
        assert markers_sit_on_syncd_lines(target, {"solo": AFTER}) == [], where
        assert run(["plan", "-c", str(scene["manifest"]), "--detailed-exitcode"], root / "third.out") == 0, where
        assert sorted(os.listdir(target.parent)) == ["app.env", "app.env.lock"], where


def variables_of(content: bytes, root: Path) -> dict[str, tuple[str | None, str]]:
    copy = root / "copy" / "app.env"
    copy.parent.mkdir(exist_ok=True)
    copy.write_bytes(content)
    return variables(copy)
