"""The `dotenv` sink's file: its blocks of lines, and every filesystem call made to read, lock and replace it.

Each block (a variable with syncd's marker above it, a variable, a blank or comment line) is kept byte for byte
until syncd writes its variable. The advisory lock sits on `<file>.lock`, not on the file: each write renames a
new file over the target, and a lock on the old inode would not stop a writer that opened the new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from connectors.local import dotenv_format as dotenv
from syncd.errors import PermanentError
from syncd.model import ActualItem, Ownership
from syncd.secret import Secret

log = structlog.get_logger("connectors.local.dotenv")

HEADER = (
    '# Managed in part by syncd. A variable below a "# syncd: owner=..." line is overwritten or '
    "removed by syncd; every other line is left as it is."
)
LOCK_SUFFIX = ".lock"
_READ_CHUNK = 1 << 20
_MARKER = re.compile(r"# syncd: owner=([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+)[ \t]*\r?\n?")


@dataclass
class Block:
    """A piece of the file: a variable with its marker, a variable, or a blank or comment line."""

    raw: str
    key: str | None = None
    value: str | None = None
    owner: Ownership | None = None

    def actual(self, version: str | None) -> ActualItem:
        assert self.key is not None and self.value is not None
        return ActualItem(address=self.key, owner=self.owner, data={self.key: Secret(self.value)}, version=version)


@dataclass
class Document:
    blocks: list[Block] = field(default_factory=list)
    version: str | None = None
    # What the file was when read (device, inode, mtime, size); None when it did not exist.
    identity: tuple[int, ...] | None = None
    changed: bool = False
    has_header: bool = False
    # The line ending of the file: CRLF when most of its lines end so.
    newline: str = "\n"
    # key → position in `blocks`; rebuilt after a removal shifts positions.
    index: dict[str, int] | None = None

    def __post_init__(self) -> None:
        self.has_header = any(b.key is None and b.raw.rstrip("\r\n") == HEADER for b in self.blocks)
        text = self.text()
        crlf = text.count("\r\n")
        if crlf and crlf > text.count("\n") - crlf:
            self.newline = "\r\n"

    def find(self, key: str) -> int | None:
        if self.index is None:
            self.index = {block.key: i for i, block in enumerate(self.blocks) if block.key is not None}
        return self.index.get(key)

    def block(self, key: str) -> Block | None:
        index = self.find(key)
        return None if index is None else self.blocks[index]

    def variables(self) -> dict[str, Block]:
        return {block.key: block for block in self.blocks if block.key is not None}

    def set(self, key: str, value: str, owner: Ownership, dialect: dotenv.Dialect) -> None:
        index = self.find(key)
        marker = f"# syncd: owner={owner.instance}/{owner.sync}{self.newline}"
        block = Block(marker + dotenv.format_assignment(key, value, dialect) + self.newline, key, value, owner)
        if index is None:
            if self.blocks and not self.blocks[-1].raw.endswith("\n"):
                self.blocks[-1].raw += self.newline
            self.blocks.append(block)
            assert self.index is not None
            self.index[key] = len(self.blocks) - 1
        else:
            self.blocks[index] = block
        if not self.has_header:
            self.blocks.insert(0, Block(HEADER + self.newline))
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


def _parse_blocks(text: str, where: str, target: str, *, raw: bool) -> list[Block]:
    """The blocks of `text`, a marker joined to the variable below it; an error names `where` and the line."""
    try:
        entries = dotenv.parse(text, raw=raw)
    except dotenv.DotenvSyntaxError as exc:
        raise PermanentError(f"{where}:{exc.line}: {exc.problem}", target=target) from None
    blocks: list[Block] = []
    index = 0
    while index < len(entries):
        entry = entries[index]
        after = entries[index + 1] if index + 1 < len(entries) else None
        marker = _MARKER.fullmatch(entry.raw)
        if marker and after is not None and after.key is not None:
            owner = Ownership(marker.group(1), marker.group(2))
            blocks.append(Block(entry.raw + after.raw, after.key, after.value, owner))
            index += 2
        else:
            blocks.append(Block(entry.raw, entry.key, entry.value))
            index += 1
    return blocks


@dataclass(frozen=True)
class Locked:
    """The file read under the lock, and the lock file's descriptor that holds it."""

    lock: int
    document: Document


@dataclass(frozen=True)
class DotenvFile:
    """One target's file: where it is, how it is parsed and written. Holds settings only, never content."""

    path: str
    target: str
    permissions: int
    # Docker's --env-file: a value is the rest of its line, as it stands.
    raw: bool = False

    def load(self) -> Document:
        """The file as it is now; an absent file is an empty document."""
        path = Path(self.path)
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return Document()
        except OSError as exc:
            raise self._error(f"cannot read {path}: {exc.strerror}") from None
        try:
            info = os.fstat(descriptor)
            chunks = []
            while chunk := os.read(descriptor, _READ_CHUNK):
                chunks.append(chunk)
        except OSError as exc:
            raise self._error(f"cannot read {path}: {exc.strerror}") from None
        finally:
            with contextlib.suppress(OSError):
                os.close(descriptor)
        try:
            text = b"".join(chunks).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise self._error(f"{path} is not valid UTF-8 (byte {exc.start})") from None
        blocks = _parse_blocks(text, str(path), self.target, raw=self.raw)
        return Document(blocks, str(info.st_mtime_ns), _identity(info))

    def lock_and_load(self) -> Locked:
        """Take the lock (waiting for another writer to finish), then read the file."""
        # The lock and the write go to the file a symbolic link points to: two paths to one file share one lock.
        path = Path(os.path.realpath(self.path))
        lock_path = f"{path}{LOCK_SUFFIX}"
        try:
            os.makedirs(path.parent, exist_ok=True)
            lock = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise self._error(f"cannot open the lock file {lock_path}: {exc.strerror}") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return Locked(lock, self.load())
        except BaseException as exc:
            unlock(lock)
            if isinstance(exc, OSError):
                raise self._error(f"cannot lock {lock_path}: {exc.strerror}") from None
            raise

    def save(self, document: Document) -> None:
        """Replace the file with `document`; the caller holds the lock."""
        path = Path(os.path.realpath(self.path))
        _remove_leftovers(path)
        temporary = path.parent / f".{path.name}.syncd-{secrets.token_hex(8)}.tmp"
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                os.fchmod(descriptor, self.permissions)
                self._keep_owner(descriptor, path)
                data = memoryview(document.text().encode("utf-8"))
                while data:
                    data = data[os.write(descriptor, data) :]
                _move_mtime_past(descriptor, path)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            if current_identity(path) != document.identity:
                raise self._error(
                    f"{path} changed while syncd was writing it, without taking {path.name}{LOCK_SUFFIX}; "
                    f"it was left as the other writer made it. Plan again"
                )
            os.replace(temporary, path)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            if isinstance(exc, OSError):
                raise self._error(f"cannot write {path}: {exc.strerror}") from None
            raise
        _sync_directory(path.parent)

    def _keep_owner(self, descriptor: int, path: Path) -> None:
        """Give the new file the old one's owner and group, so that the program reading it still can (syncd run as
        root on an application's file). Without the right to, the write goes on and a warning says so."""
        try:
            old = os.stat(path)
        except FileNotFoundError:
            return
        if (old.st_uid, old.st_gid) == (os.geteuid(), os.getegid()):
            return
        try:
            os.fchown(descriptor, old.st_uid, old.st_gid)
        except PermissionError:
            log.warning("owner not kept", target=self.target, path=str(path), uid=old.st_uid, gid=old.st_gid)

    def _error(self, message: str) -> PermanentError:
        return PermanentError(message, target=self.target)


def unlock(lock: int) -> None:
    # Closing the descriptor releases the lock as well, so a failed unlock loses nothing.
    with contextlib.suppress(OSError):
        fcntl.flock(lock, fcntl.LOCK_UN)
    with contextlib.suppress(OSError):
        os.close(lock)


def _identity(info: os.stat_result) -> tuple[int, ...]:
    return (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)


def current_identity(path: Path) -> tuple[int, ...] | None:
    """What `path` is now (device, inode, mtime, size), to tell that it moved; None when it is absent."""
    try:
        return _identity(os.stat(path))
    except FileNotFoundError:
        return None


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
    """Flush the rename to disk, so the new file survives a power cut. Best effort: the new file is already in place
    for every reader, so a folder that cannot be synced (some file systems refuse) does not fail the write."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _move_mtime_past(descriptor: int, path: Path) -> None:
    """Give the new file a later mtime than the one it replaces, so the version always moves: file timestamps come
    from a coarse clock (a few milliseconds on Linux), and two writes in one tick would show the same version."""
    try:
        previous = os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return
    info = os.fstat(descriptor)
    if info.st_mtime_ns <= previous:
        os.utime(descriptor, ns=(info.st_atime_ns, previous + 1))
