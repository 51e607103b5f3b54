"""The audit log: one JSON line per applied (or attempted) change, never a value.

Append-only JSON Lines in the state directory, written once per run under an advisory lock on a sibling file (several
processes may share the directory), rotated by size, fsynced before `append` returns. A run's records are written
after its changes are made: a crash in between loses that run's records and never touches earlier ones; a line torn
by a crash mid-write is ended before the next append and skipped by the reader.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from syncd.durations import parse_duration
from syncd.errors import ConfigError, SyncdError
from syncd.model import ChangeResult
from syncd.secret import REDACTOR

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_KEEP = 5
# The fields a line must hold, as strings, to be taken for a record.
_REQUIRED = ("time", "run_id", "target", "address", "action", "result")


class AuditWriteError(SyncdError):
    """The audit log could not be written (a full disk, a permission taken away); the run's changes are made."""


@dataclass(frozen=True)
class AuditRecord:
    """One applied (or attempted) change: names and classes only, never a value."""

    time: str  # RFC 3339 UTC, when the change finished
    run_id: str
    instance: str
    manifest: str  # "git:<commit>" when the manifest came from Git, else "sha256:<digest>"
    trigger: str  # "cli" | "start" | "schedule" | "api"
    sync: str | None
    target: str
    address: str
    action: str  # create | update | delete | conflict
    reasons: tuple[str, ...]
    result: str  # applied | failed
    error_class: str | None
    attempts: int

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        return data


def rfc3339(moment: datetime) -> str:
    """`moment` in UTC as RFC 3339 with milliseconds and a "Z" (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def manifest_reference(digest: str, commit: str | None = None) -> str:
    """How a record names the manifest in force: its Git commit when it came from Git, else its sha256."""
    return f"git:{commit}" if commit else f"sha256:{digest}"


def audit_records(
    results: Sequence[ChangeResult],
    *,
    run_id: str,
    instance: str,
    manifest: str,
    trigger: str,
    now: Callable[[], datetime] = _utc_now,
) -> list[AuditRecord]:
    """One record per result, stamped with the time it is made (right after the run's changes finished). The
    result's `error` message is left out: its class says what failed, and a message is not the log's to keep."""
    return [
        AuditRecord(
            time=rfc3339(now()),
            run_id=run_id,
            instance=instance,
            manifest=manifest,
            trigger=str(trigger),
            sync=result.change.sync,
            target=result.change.target,
            address=result.change.address,
            action=result.change.action.value,
            reasons=tuple(result.change.reasons),
            result=result.status.value,
            error_class=result.error_class,
            attempts=result.attempts,
        )
        for result in results
    ]


def _encode(records: Sequence[AuditRecord]) -> bytes:
    # ASCII JSON: a name holding a lone surrogate (a source may give one) still makes a valid UTF-8 line.
    lines = (json.dumps(REDACTOR.redact_tree(r.to_dict()), separators=(",", ":")) + "\n" for r in records)
    return "".join(lines).encode("ascii")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AuditLog:
    """The audit log at `path` (`<state-dir>/audit.jsonl`): rotated to `path.1` … `path.<keep>` when an append would
    take it past `max_bytes`."""

    def __init__(self, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, keep: int = DEFAULT_KEEP) -> None:
        if max_bytes < 1 or keep < 0:
            raise ValueError("max_bytes must be positive and keep not negative")
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def rotated(self, number: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{number}")

    def check(self) -> None:
        """At start: the folder exists or is made (0700), and the log and its lock file open for append; else a
        ConfigError naming the path and the operating system's reason."""
        for path in (self.path, self.lock_path):
            try:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
            except OSError as exc:
                raise ConfigError(f"cannot write the audit log {str(path)!r}: {exc.strerror or exc}") from None

    def append(self, records: Sequence[AuditRecord]) -> None:
        """Write one run's records: one write, then fsync. AuditWriteError (naming the path and the reason) when
        that fails; nothing of this run is left half-written then, as far as the disk lets it be undone."""
        if not records:
            return
        data = _encode(records)
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with self._locked(fcntl.LOCK_EX, create=True):
                self._rotate_for(len(data))
                self._write(data)
        except OSError as exc:
            lost = f"the {len(records)} records of this run are" if len(records) != 1 else "this run's record is"
            raise AuditWriteError(
                f"cannot write the audit log {str(self.path)!r}: {exc.strerror or exc}; {lost} lost (its changes stand)"
            ) from None

    @contextlib.contextmanager
    def _locked(self, operation: int, *, create: bool) -> Iterator[None]:
        """The advisory lock on the sibling lock file, which no rotation renames. A reader that cannot open it
        (there is none yet, or it is not the reader's to open) reads without it."""
        try:
            fd = os.open(self.lock_path, (os.O_RDWR | os.O_CREAT) if create else os.O_RDONLY, 0o600)
        except OSError:
            if create:
                raise
            yield
            return
        try:
            fcntl.flock(fd, operation)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _rotate_for(self, incoming: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0 or size + incoming <= self.max_bytes:
            return
        # .keep (the oldest) is dropped, .keep-1 → .keep, …, .1 → .2, then the live file → .1.
        for number in sorted(self.rotated_numbers(), reverse=True):
            if number >= self.keep:
                self.rotated(number).unlink()
            else:
                os.replace(self.rotated(number), self.rotated(number + 1))
        if self.keep == 0:
            self.path.unlink()
        else:
            os.replace(self.path, self.rotated(1))
        _fsync_dir(self.path.parent)

    def rotated_numbers(self) -> list[int]:
        """The numbers of the rotated files there are (`audit.jsonl.3` → 3)."""
        numbers = []
        for candidate in self.path.parent.glob(self.path.name + ".*"):
            suffix = candidate.name[len(self.path.name) + 1 :]
            if suffix.isdigit():
                numbers.append(int(suffix))
        return numbers

    def _write(self, data: bytes) -> None:
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            start = os.fstat(fd).st_size
            # A line torn by a crash mid-write is ended first, so it does not swallow this run's first record.
            if start and os.pread(fd, 1, start - 1) != b"\n":
                data = b"\n" + data
            try:
                written = 0
                while written < len(data):
                    written += os.write(fd, data[written:])
                os.fsync(fd)
            except OSError:
                # A disk that filled mid-write: take the partial lines back, so the log ends with a whole record.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.path.parent)


class AuditReading(Iterator[dict[str, Any]]):
    """The records of the log and its rotated files, oldest first, that pass the filters; `skipped` counts the lines
    that were not records (a line torn by a crash, something else written there) once they are read."""

    def __init__(self, log: AuditLog, since: datetime | None, sync: str | None, target: str | None) -> None:
        self.skipped = 0
        self._since = since if since is None or since.tzinfo else since.replace(tzinfo=UTC)
        self._sync, self._target = sync, target
        self._lines = self._read(log)

    def __next__(self) -> dict[str, Any]:
        for line in self._lines:
            record = self._parse(line)
            if record is None:
                self.skipped += 1
            elif self._passes(record):
                return record
        raise StopIteration

    @staticmethod
    def _read(log: AuditLog) -> Iterator[bytes]:
        # The files are opened together under the shared lock, so a rotation cannot make a record seen twice or
        # not at all; they are read after, outside it (an open file keeps its content through a rename), each only
        # as far as it went under the lock: an append made since may be half written.
        files: list[tuple[IO[bytes], int]] = []
        with log._locked(fcntl.LOCK_SH, create=False):
            for path in [*(log.rotated(n) for n in sorted(log.rotated_numbers(), reverse=True)), log.path]:
                with contextlib.suppress(FileNotFoundError):
                    file = path.open("rb")
                    files.append((file, os.fstat(file.fileno()).st_size))
        try:
            for file, size in files:
                for line in file:
                    if size <= 0:
                        break
                    size -= len(line)
                    yield line if size >= 0 else line[: len(line) + size]
        finally:
            for file, _ in files:
                file.close()

    @staticmethod
    def _parse(line: bytes) -> dict[str, Any] | None:
        if not line.endswith(b"\n"):
            return None  # torn by a crash mid-write
        try:
            record = json.loads(line)
        except ValueError:
            return None
        if not isinstance(record, dict) or not all(isinstance(record.get(key), str) for key in _REQUIRED):
            return None
        try:
            moment = datetime.fromisoformat(record["time"])
        except ValueError:
            return None
        record["_time"] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return record

    def _passes(self, record: dict[str, Any]) -> bool:
        moment = record.pop("_time")
        if self._since is not None and moment < self._since:
            return False
        if self._sync is not None and record.get("sync") != self._sync:
            return False
        return self._target is None or record["target"] == self._target


def read_audit(
    path: Path, *, since: datetime | None = None, sync: str | None = None, target: str | None = None
) -> AuditReading:
    """The records of the audit log at `path`, its rotated files oldest first, then the live one, as stored (dicts),
    filtered: at or after `since`, of `sync`, on `target`. Lines that are not records are skipped and counted in the
    result's `skipped`."""
    return AuditReading(AuditLog(path), since, sync, target)


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
SINCE_RULE = 'a duration back from now ("1h", "2d") or a UTC date or time ("2026-11-30", "2026-11-30T10:00:00Z")'


def parse_since(text: str, now: Callable[[], datetime] = _utc_now) -> datetime:
    """`--since`: a duration back from now, a date (its midnight, UTC) or a date and time (UTC unless it says
    otherwise). ValueError, one sentence quoting `text`, otherwise."""
    written = text.strip()
    if _DAY.fullmatch(written) or "T" in written or " " in written:
        try:
            moment = datetime.fromisoformat(written)
        except ValueError:
            raise ValueError(f"--since {text!r} is not {SINCE_RULE}") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        seconds = parse_duration(written)
    except ValueError:
        raise ValueError(f"--since {text!r} is not {SINCE_RULE}") from None
    return now() - timedelta(seconds=seconds)
