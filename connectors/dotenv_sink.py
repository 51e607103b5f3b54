"""The `dotenv` sink: one variable per item, in a dotenv file people may also edit by hand.

syncd owns a variable when a marker comment sits on the line just above it::

    # Managed in part by syncd. A variable below a "# syncd: owner=..." line ...
    OTHER=kept
    # syncd: owner=prod-eu/payments-db
    DB_USER='alice'

Every other line (comments, blank lines, variables without a marker) is
kept byte for byte, in its place. A variable without a marker reads as an
unowned item; writing it (adopting) puts the marker above it in place.

Writers take an advisory lock (`flock`) on a lock file beside the target,
`<file>.lock`, and hold it from reading the file to replacing it. The lock
cannot sit on the target itself: each write replaces the target by renaming
a new file over it, and a lock on the old inode would not stop a writer that
opened the new one. Under the lock the file is read again and each change is
checked against what the plan saw: a variable that moved since (created,
removed, given another marker or another value) fails with a "moved since
the plan" error and is left as it is, and every other line is kept.

The file is replaced atomically, with `mode` set before the content lands
at its path; a symbolic link at `path` is written through. Inside `batch()`
the lock is taken at the first change and the file is written once, at the
end.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import field_validator

from connectors import _dotenv_format as dotenv
from syncd.connector import ConnectorSpec, Options, Sink, file_location, path_field
from syncd.errors import PermanentError
from syncd.model import ActualItem, DesiredItem, Granularity, Ownership
from syncd.secret import Secret, is_text

HEADER = (
    '# Managed in part by syncd. A variable below a "# syncd: owner=..." line is overwritten or '
    "removed by syncd; every other line is left as it is."
)
LOCK_SUFFIX = ".lock"
_OWNER_NAME = re.compile(r"[A-Za-z0-9._-]+")
_MARKER = re.compile(r"# syncd: owner=([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+)[ \t]*\r?\n?")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_READ_CHUNK = 1 << 20


class DotenvSinkOptions(Options):
    # Marked as a path: the core makes a relative one relative to the manifest's folder.
    path: str = path_field()
    # Text, not a number: YAML would read an unquoted 0600 as 384.
    mode: str = "0600"
    # Who must read the values back exactly; see connectors/_dotenv_format.py.
    dialect: dotenv.Dialect = "portable"

    @field_validator("mode", mode="before")
    @classmethod
    def _octal_permissions(cls, value: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(r"0?[0-7]{3}", value):
            raise ValueError('mode must be an octal permission string in quotes, such as "0600"')
        return value

    @property
    def permissions(self) -> int:
        return int(self.mode, 8)


@dataclass
class _Block:
    """A piece of the file: a variable with its marker, a variable, or a blank or comment line."""

    raw: str
    key: str | None = None
    value: str | None = None
    owner: Ownership | None = None


@dataclass
class _Document:
    blocks: list[_Block] = field(default_factory=list)
    version: str | None = None
    # What the file was when read (device, inode, mtime, size); None when it did not exist.
    identity: tuple[int, ...] | None = None
    changed: bool = False
    has_header: bool = False
    # The line ending of the file: CRLF when most of its lines end so.
    newline: str = "\n"

    def __post_init__(self) -> None:
        self.has_header = any(b.key is None and b.raw.rstrip("\r\n") == HEADER for b in self.blocks)
        text = self.text()
        crlf = text.count("\r\n")
        if crlf and crlf > text.count("\n") - crlf:
            self.newline = "\r\n"

    # key → position in `blocks`; rebuilt after a removal shifts positions.
    index: dict[str, int] | None = None

    def find(self, key: str) -> int | None:
        if self.index is None:
            self.index = {block.key: i for i, block in enumerate(self.blocks) if block.key is not None}
        return self.index.get(key)

    def block(self, key: str) -> _Block | None:
        index = self.find(key)
        return None if index is None else self.blocks[index]

    def set(self, key: str, value: str, owner: Ownership, dialect: dotenv.Dialect) -> None:
        index = self.find(key)
        if index is not None and self.blocks[index].owner == owner and self.blocks[index].value == value:
            return
        block = _Block(_render(key, value, owner, dialect, self.newline), key, value, owner)
        if index is None:
            if self.blocks and not self.blocks[-1].raw.endswith("\n"):
                self.blocks[-1].raw += self.newline
            self.blocks.append(block)
            assert self.index is not None
            self.index[key] = len(self.blocks) - 1
        else:
            self.blocks[index] = block
        if not self.has_header:
            self.blocks.insert(0, _Block(HEADER + self.newline))
            self.has_header = True
            self.index = None
        self.changed = True

    def remove(self, key: str) -> None:
        index = self.find(key)
        if index is not None:
            del self.blocks[index]
            self.index = None
            self.changed = True

    def text(self) -> str:
        return "".join(block.raw for block in self.blocks)


@dataclass
class _Locked:
    """The file read under the lock, and the lock file's descriptor that holds it."""

    lock: int
    document: _Document


class DotenvSink(Sink):
    """Writes each item as one variable of a dotenv file, leaving lines it does not own alone."""

    Options = DotenvSinkOptions
    granularities = (Granularity.PER_KEY,)
    supports_tags = False
    supports_description = False

    def __init__(self, target: str, options: DotenvSinkOptions, client: Any = None) -> None:
        super().__init__(target, options, client)
        self.options: DotenvSinkOptions = options
        self._lock = threading.Lock()
        self._batch_depth = 0
        self._held: _Locked | None = None

    def check(self, item: DesiredItem) -> list[str]:
        problems = []
        if not _VARIABLE.fullmatch(item.address):
            problems.append(
                f"The variable name {item.address!r} is not valid: use letters, digits and '_', "
                f"not starting with a digit."
            )
        if len(item.data) != 1:
            problems.append(f"Item {item.address!r} holds {len(item.data)} keys; a variable holds one.")
        elif not is_text(value := item.single_value().reveal()):
            problems.append(f"The value of {item.address!r} holds a lone surrogate, which UTF-8 cannot encode.")
        elif (problem := dotenv.unwritable(value, self.options.dialect)) is not None:
            problems.append(f"The value of {item.address!r} holds {problem} (dialect {self.options.dialect}).")
        if not (_OWNER_NAME.fullmatch(item.owner.instance) and _OWNER_NAME.fullmatch(item.owner.sync)):
            problems.append(
                f"The owner of {item.address!r} has an instance or sync name with characters "
                f"other than letters, digits and ._-, which the marker cannot hold."
            )
        return problems

    def read(self, addresses: Sequence[str]) -> dict[str, ActualItem]:
        wanted = set(addresses)
        with self._lock:
            document = self._held.document if self._held else self._load()
            return {
                block.key: _actual(block, document.version)
                for block in document.blocks
                if block.key is not None and block.key in wanted
            }

    def list_owned(self, instance: str) -> dict[str, ActualItem]:
        with self._lock:
            document = self._held.document if self._held else self._load()
            return {
                block.key: _actual(block, document.version)
                for block in document.blocks
                if block.key is not None and block.owner is not None and block.owner.instance == instance
            }

    def write(self, item: DesiredItem, actual: ActualItem | None) -> None:
        problems = self.check(item)
        if problems:
            raise PermanentError(" ".join(problems), target=self.target, address=item.address)
        value = item.single_value().reveal()
        with self._lock, self._locked_document() as document:
            current = document.block(item.address)
            if current is not None and current.owner == item.owner and current.value == value:
                return
            self._refuse_if_moved(item.address, current, actual)
            document.set(item.address, value, item.owner, self.options.dialect)

    def delete(self, actual: ActualItem) -> None:
        if actual.owner is None:
            raise PermanentError("not deleted: it carries no syncd marker", target=self.target, address=actual.address)
        with self._lock, self._locked_document() as document:
            current = document.block(actual.address)
            if current is None:
                return
            self._refuse_if_moved(actual.address, current, actual)
            document.remove(actual.address)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        with self._lock:
            self._batch_depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._batch_depth -= 1
                if self._batch_depth == 0 and self._held is not None:
                    held, self._held = self._held, None
                    # Writes that returned count as done, so they are saved even when the block failed.
                    try:
                        if held.document.changed:
                            self._save(held.document)
                    finally:
                        _unlock(held.lock)

    def describe(self) -> str:
        return self.options.path

    def location(self) -> tuple[str, ...]:
        return file_location(self.options.path)

    @contextlib.contextmanager
    def _locked_document(self) -> Iterator[_Document]:
        """The file as read under the lock, or inside a batch as the batch has changed it.

        Outside a batch the change is saved and the lock released on leaving; inside one, the lock taken at
        the batch's first change is held until the batch ends. The caller holds `self._lock`.
        """
        if self._batch_depth:
            if self._held is None:
                self._held = self._lock_and_load()
            yield self._held.document
            return
        held = self._lock_and_load()
        try:
            yield held.document
            if held.document.changed:
                self._save(held.document)
        finally:
            _unlock(held.lock)

    def _refuse_if_moved(self, address: str, current: _Block | None, planned: ActualItem | None) -> None:
        reason = _moved(current, planned)
        if reason is not None:
            raise PermanentError(
                f"moved since the plan ({reason}); it was left as it is. Plan again to see it as it is now",
                target=self.target,
                address=address,
            )

    def _path(self) -> Path:
        # Locks and writes go to the file a symbolic link points to, so two paths to one file share one lock.
        return Path(os.path.realpath(self.options.path))

    def _lock_and_load(self) -> _Locked:
        path = self._path()
        lock_path = f"{path}{LOCK_SUFFIX}"
        try:
            os.makedirs(path.parent, exist_ok=True)
            lock = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise PermanentError(f"cannot open the lock file {lock_path}: {exc.strerror}", target=self.target) from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return _Locked(lock, self._load())
        except BaseException as exc:
            _unlock(lock)
            if isinstance(exc, OSError):
                raise PermanentError(f"cannot lock {lock_path}: {exc.strerror}", target=self.target) from None
            raise

    def _load(self) -> _Document:
        path = Path(self.options.path)
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return _Document()
        except OSError as exc:
            raise PermanentError(f"cannot read {path}: {exc.strerror}", target=self.target) from None
        try:
            info = os.fstat(descriptor)
            chunks = []
            while chunk := os.read(descriptor, _READ_CHUNK):
                chunks.append(chunk)
        except OSError as exc:
            raise PermanentError(f"cannot read {path}: {exc.strerror}", target=self.target) from None
        finally:
            with contextlib.suppress(OSError):
                os.close(descriptor)
        try:
            text = b"".join(chunks).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PermanentError(f"{path} is not valid UTF-8 (byte {exc.start})", target=self.target) from None
        return _Document(self._blocks(text, path), str(info.st_mtime_ns), _identity(info))

    def _blocks(self, text: str, path: Path) -> list[_Block]:
        try:
            entries = dotenv.parse(text, raw=self.options.dialect == "docker-env-file")
        except dotenv.DotenvSyntaxError as exc:
            raise PermanentError(f"{path}:{exc.line}: {exc.problem}", target=self.target) from None
        blocks: list[_Block] = []
        first_line: dict[str, int] = {}
        index = 0
        while index < len(entries):
            entry = entries[index]
            after = entries[index + 1] if index + 1 < len(entries) else None
            marker = _MARKER.fullmatch(entry.raw)
            if marker and after is not None and after.key is not None:
                owner = Ownership(marker.group(1), marker.group(2))
                block = _Block(entry.raw + after.raw, after.key, after.value, owner)
                entry = after
                index += 2
            else:
                block = _Block(entry.raw, entry.key, entry.value)
                index += 1
            if entry.key is not None:
                if entry.key in first_line:
                    raise PermanentError(
                        f"{path}:{entry.line}: variable {entry.key!r} is set again "
                        f"(first on line {first_line[entry.key]})",
                        target=self.target,
                    )
                first_line[entry.key] = entry.line
            blocks.append(block)
        return blocks

    def _save(self, document: _Document) -> None:
        """Replace the file with `document`; the caller holds the lock."""
        path = self._path()
        _remove_leftovers(path)
        temporary = path.parent / f".{path.name}.syncd-{secrets.token_hex(8)}.tmp"
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                os.fchmod(descriptor, self.options.permissions)
                data = memoryview(document.text().encode("utf-8"))
                while data:
                    data = data[os.write(descriptor, data) :]
                _move_mtime_past(descriptor, path)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            if _current_identity(path) != document.identity:
                raise PermanentError(
                    f"{path} changed while syncd was writing it, without taking {path.name}{LOCK_SUFFIX}; "
                    f"it was left as the other writer made it. Plan again",
                    target=self.target,
                )
            os.replace(temporary, path)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if isinstance(exc, OSError):
                raise PermanentError(f"cannot write {path}: {exc.strerror}", target=self.target) from None
            raise
        document.changed = False
        _sync_directory(path.parent)


def _moved(current: _Block | None, planned: ActualItem | None) -> str | None:
    """How the variable differs from what the plan saw, or None when it is as the plan saw it."""
    if planned is None:
        return None if current is None else "it was created since"
    if current is None:
        return "it was removed since"
    if current.owner != planned.owner:
        return "its ownership marker changed since"
    if planned.data is not None and current.value != _value(planned):
        return "its value changed since"
    return None


def _value(actual: ActualItem) -> str | None:
    assert actual.data is not None
    return next(iter(actual.data.values())).reveal() if len(actual.data) == 1 else None


def _identity(info: os.stat_result) -> tuple[int, ...]:
    return (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)


def _current_identity(path: Path) -> tuple[int, ...] | None:
    try:
        return _identity(os.stat(path))
    except FileNotFoundError:
        return None


def _unlock(lock: int) -> None:
    # Closing the descriptor releases the lock as well, so a failed unlock loses nothing.
    with contextlib.suppress(OSError):
        fcntl.flock(lock, fcntl.LOCK_UN)
    with contextlib.suppress(OSError):
        os.close(lock)


def _remove_leftovers(path: Path) -> None:
    """Remove temporary files a killed writer left beside `path`; under the lock no writer is using one."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.syncd-[0-9a-f]{{16}}\.tmp")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        if pattern.fullmatch(name):
            with contextlib.suppress(OSError):
                os.unlink(path.parent / name)


def _sync_directory(directory: Path) -> None:
    """Flush the rename to disk, so the new file survives a power cut.

    Best effort: the new file is already in place for every reader, so a folder that cannot be synced (some
    file systems refuse) does not turn the write into a failure.
    """
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _move_mtime_past(descriptor: int, path: Path) -> None:
    """Give the new file a later mtime than the one it replaces, so the version always moves.

    File timestamps come from a coarse clock (a few milliseconds on Linux):
    two writes in one tick would otherwise show the same version.
    """
    try:
        previous = os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return
    info = os.fstat(descriptor)
    if info.st_mtime_ns <= previous:
        os.utime(descriptor, ns=(info.st_atime_ns, previous + 1))


def _render(key: str, value: str, owner: Ownership, dialect: dotenv.Dialect, newline: str) -> str:
    marker = f"# syncd: owner={owner.instance}/{owner.sync}"
    return f"{marker}{newline}{dotenv.format_assignment(key, value, dialect)}{newline}"


def _actual(block: _Block, version: str | None) -> ActualItem:
    assert block.key is not None and block.value is not None
    return ActualItem(address=block.key, owner=block.owner, data={block.key: Secret(block.value)}, version=version)


spec = ConnectorSpec(
    name="dotenv",
    summary="One variable per item in a dotenv file; lines syncd does not own are kept as they are.",
    sink=DotenvSink,
)
