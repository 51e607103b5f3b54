"""The audit log: records made from apply's results, appended whole and fsynced, rotated by size without losing a
line, shared safely by several processes, read back with torn lines skipped and filters applied."""

from __future__ import annotations

import concurrent.futures
import errno
import json
import multiprocessing
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd.audit import (
    AuditLog,
    AuditRecord,
    AuditWriteError,
    audit_records,
    parse_since,
    read_audit,
)
from syncd.errors import ConfigError
from syncd.model import Action, Change, ChangeResult, Status

NOW = datetime(2026, 11, 30, 10, 0, 0, 123456, tzinfo=UTC)


def _result(address: str, *, ok: bool = True, error_class: str | None = None, **change: object) -> ChangeResult:
    fields = {"target": "env", "address": address, "action": Action.CREATE, "sync": "app", **change}
    made = Change(**fields)  # type: ignore[arg-type]
    if ok:
        return ChangeResult(made, Status.APPLIED, None, 1)
    return ChangeResult(made, Status.FAILED, "the message of a failure", 3, error_class)


def _records(count: int, *, run: str = "run", sync: str = "app", target: str = "env", when: datetime = NOW) -> list:
    results = [_result(f"{run}-KEY_{n:04d}", sync=sync, target=target) for n in range(count)]
    return audit_records(results, run_id=run, instance="i", manifest="sha256:ab", trigger="cli", now=lambda: when)


def test_records_match_the_results_applied_and_failed() -> None:
    """Each result becomes one record with its change's names, its status and error class, and no error message."""
    results = [
        _result("A", action=Action.UPDATE, reasons=("value (keys ~password)",)),
        _result("B", ok=False, error_class="ItemMoved", action=Action.DELETE, sync=None),
        _result("C", ok=False, error_class="conflict", action=Action.CONFLICT, target="other"),
    ]
    records = audit_records(
        results, run_id="r1", instance="prod", manifest="git:0123abc", trigger="schedule", now=lambda: NOW
    )
    assert records == [
        AuditRecord(
            "2026-11-30T10:00:00.123Z", "r1", "prod", "git:0123abc", "schedule", "app", "env", "A", "update",
            ("value (keys ~password)",), "applied", None, 1,
        ),
        AuditRecord(
            "2026-11-30T10:00:00.123Z", "r1", "prod", "git:0123abc", "schedule", None, "env", "B", "delete",
            (), "failed", "ItemMoved", 3,
        ),
        AuditRecord(
            "2026-11-30T10:00:00.123Z", "r1", "prod", "git:0123abc", "schedule", "app", "other", "C", "conflict",
            (), "failed", "conflict", 3,
        ),
    ]  # fmt: skip
    assert "message of a failure" not in json.dumps([r.to_dict() for r in records])


def test_an_append_writes_json_lines_as_stored_and_reads_back(tmp_path: Path) -> None:
    """Appended records are one compact JSON object a line, in a 0600 file in a 0700 folder, and read back equal."""
    log = AuditLog(tmp_path / "state" / "audit.jsonl")
    log.check()
    records = _records(3)
    log.append(records)
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    assert log.path.stat().st_mode & 0o777 == 0o600
    lines = log.path.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [r.to_dict() for r in records]
    assert list(read_audit(log.path)) == [r.to_dict() for r in records]


def test_every_append_is_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each append fsyncs the log file itself before it returns, once per run whatever its number of records."""
    log = AuditLog(tmp_path / "audit.jsonl")
    log.check()
    real_fsync = os.fsync
    synced: list[bool] = []

    def counting_fsync(fd: int) -> None:
        synced.append(os.path.samestat(os.fstat(fd), log.path.stat()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    for run in range(3):
        log.append(_records(4, run=f"r{run}"))
    assert synced.count(True) == 3


def test_rotation_keeps_keep_files_and_loses_no_line(tmp_path: Path) -> None:
    """Past max_bytes the log rotates to .1 … .keep, the oldest dropped; the records left are the newest, in order,
    each whole, with no gap."""
    line_size = len(json.dumps(_records(1)[0].to_dict(), separators=(",", ":"))) + 1
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=line_size * 7, keep=3)
    appended = []
    for run in range(40):
        records = _records(3, run=f"r{run:02d}")
        log.append(records)
        appended += [r.to_dict() for r in records]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3", "audit.jsonl.lock",
    ]  # fmt: skip
    assert all(p.stat().st_size <= line_size * 7 for p in tmp_path.glob("audit.jsonl*"))
    reading = read_audit(log.path)
    kept = list(reading)
    assert reading.skipped == 0
    assert kept == appended[-len(kept) :]
    assert len(kept) == 4 * 6  # four files of two runs each


def test_no_line_is_lost_across_rotation_with_enough_files(tmp_path: Path) -> None:
    """With enough rotated files, every appended record is read back, oldest first."""
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=2000, keep=1000)
    appended = []
    for run in range(60):
        records = _records(5, run=f"r{run:02d}")
        log.append(records)
        appended += [r.to_dict() for r in records]
    assert len(list(tmp_path.glob("audit.jsonl.*"))) > 10
    assert list(read_audit(log.path)) == appended


def _no_fsync(fd: int) -> None:
    """fsync has its own test; the concurrency tests need the locking, not the wait for the disk."""


def _append_runs(path: str, worker: int, runs: int) -> None:
    os.fsync = _no_fsync  # in a process of its own (spawned), or a test that patches it too
    log = AuditLog(Path(path), max_bytes=4000, keep=10_000)
    for run in range(runs):
        log.append(_records(3, run=f"w{worker}-r{run:03d}"))


def test_concurrent_appends_from_several_processes_leave_only_whole_lines(tmp_path: Path) -> None:
    """Processes appending and rotating at once leave every line whole: each record read back once, each run's
    records together, none skipped."""
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_runs, args=(str(path), n, 40)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    reading = read_audit(path)
    records = list(reading)
    assert reading.skipped == 0
    assert len(records) == 4 * 40 * 3
    assert len({r["address"] for r in records}) == len(records)
    # One run's records are written with one write: never interleaved with another's.
    runs = [r["run_id"] for r in records]
    assert all(runs[i] == runs[i + 1] == runs[i + 2] for i in range(0, len(runs), 3))


def test_concurrent_appends_from_threads_of_one_process_leave_only_whole_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon's runs append from several threads: each append opens and locks the log on its own, so threads
    exclude each other as processes do."""
    path = tmp_path / "audit.jsonl"
    monkeypatch.setattr(os, "fsync", _no_fsync)
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        for done in [pool.submit(_append_runs, str(path), n, 30) for n in range(6)]:
            done.result()
    reading = read_audit(path)
    records = list(reading)
    assert reading.skipped == 0
    assert len({r["address"] for r in records}) == len(records) == 6 * 30 * 3


def test_a_torn_last_line_is_skipped_and_the_next_append_is_whole(tmp_path: Path) -> None:
    """A line cut by a crash mid-write is skipped and counted; the next run's records start on a line of their own."""
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(_records(2, run="before"))
    whole = log.path.read_bytes()
    with log.path.open("ab") as file:
        file.write(whole.splitlines()[0][:40])  # a crash mid-write leaves part of a line, no newline
    reading = read_audit(log.path)
    assert [r["run_id"] for r in reading] == ["before", "before"]
    assert reading.skipped == 1
    log.append(_records(2, run="after"))
    reading = read_audit(log.path)
    assert [r["run_id"] for r in reading] == ["before", "before", "after", "after"]
    assert reading.skipped == 1


def test_a_line_that_is_not_a_record_is_skipped_and_counted(tmp_path: Path) -> None:
    """Lines that are not JSON objects with a record's fields are skipped, and the records around them kept."""
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(_records(1, run="one"))
    with log.path.open("a") as file:
        file.write('not json\n[1, 2]\n{"time": "2026-11-30T10:00:00Z"}\n{"time": "soon", "run_id": "x", '
                   '"target": "t", "address": "a", "action": "create", "result": "applied"}\n')  # fmt: skip
    log.append(_records(1, run="two"))
    reading = read_audit(log.path)
    assert [r["run_id"] for r in reading] == ["one", "two"]
    assert reading.skipped == 4


def test_filters_by_time_sync_and_target(tmp_path: Path) -> None:
    """since keeps records at or after it; sync and target keep that sync's and that target's."""
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(_records(1, run="old", when=NOW - timedelta(days=2)))
    log.append(_records(1, run="a", sync="s1", target="t1"))
    log.append(_records(1, run="b", sync="s2", target="t1"))
    log.append(_records(1, run="c", sync="s1", target="t2"))

    def runs(**filters: object) -> list[str]:
        return [r["run_id"] for r in read_audit(log.path, **filters)]  # type: ignore[arg-type]

    assert runs() == ["old", "a", "b", "c"]
    assert runs(since=NOW - timedelta(days=1)) == ["a", "b", "c"]
    stamped = NOW.replace(microsecond=123000)  # the records' time, to the millisecond
    assert runs(since=stamped) == ["a", "b", "c"]
    assert runs(since=datetime(2026, 11, 30, 10, 0, 1)) == []  # naive: UTC
    assert runs(sync="s1") == ["a", "c"]
    assert runs(target="t1") == ["a", "b"]
    assert runs(sync="s1", target="t2", since=stamped) == ["c"]


def test_since_reads_durations_dates_and_times() -> None:
    """--since is a duration back from now, a date at midnight UTC, or a time (UTC unless it gives an offset)."""
    assert parse_since("1h", now=lambda: NOW) == NOW - timedelta(hours=1)
    assert parse_since("2d", now=lambda: NOW) == NOW - timedelta(days=2)
    assert parse_since("2026-11-30") == datetime(2026, 11, 30, tzinfo=UTC)
    assert parse_since("2026-11-30T10:00:00Z") == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert parse_since("2026-11-30T12:00:00+02:00") == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert parse_since("2026-11-30T10:00:00") == datetime(2026, 11, 30, 10, tzinfo=UTC)
    for bad in ("yesterday", "2026-13-01", "-1h", ""):
        with pytest.raises(ValueError, match="--since") as caught:
            parse_since(bad)
        assert len(str(caught.value).splitlines()) == 1


def test_check_names_the_path_and_the_reason(tmp_path: Path) -> None:
    """A state directory that cannot be made is a ConfigError naming the log's path and the system's reason."""
    (tmp_path / "a-file").write_text("")
    log = AuditLog(tmp_path / "a-file" / "state" / "audit.jsonl")
    with pytest.raises(ConfigError) as caught:
        log.check()
    assert str(log.path) in str(caught.value) and "Not a directory" in str(caught.value)


def test_a_write_error_names_the_path_and_leaves_earlier_records_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fills mid-write raises AuditWriteError naming the path and the reason, and takes back the part of
    the run it wrote: the log still ends with a whole record, and the next append reads back whole."""
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(_records(2, run="before"))
    before = log.path.read_bytes()
    real_write = os.write

    def full_disk(fd: int, data: bytes) -> int:
        real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(AuditWriteError) as caught:
        log.append(_records(3, run="lost"))
    assert str(log.path) in str(caught.value) and "No space left on device" in str(caught.value)
    assert log.path.read_bytes() == before
    monkeypatch.setattr(os, "write", real_write)
    log.append(_records(1, run="after"))
    reading = read_audit(log.path)
    assert [r["run_id"] for r in reading] == ["before", "before", "after"]
    assert reading.skipped == 0


def test_a_reading_sees_the_log_as_it_was_when_it_began(tmp_path: Path) -> None:
    """Records appended while a reading goes on are not part of it, so a half-written one is never taken for a
    line torn by a crash."""
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append(_records(2, run="first"))
    reading = read_audit(log.path)
    assert next(reading)["run_id"] == "first"
    log.append(_records(3, run="later"))
    assert [record["run_id"] for record in reading] == ["first"]
    assert reading.skipped == 0
    assert [r["run_id"] for r in read_audit(log.path)] == ["first"] * 2 + ["later"] * 3
