"""The `dotenv` sink: one variable per item, in a dotenv file people may also edit by hand.

syncd owns a variable when a marker comment sits on the line just above it::

    # Managed in part by syncd. A variable below a "# syncd: owner=..." line ...
    OTHER=kept
    # syncd: owner=prod-eu/payments-db
    DB_USER='alice'

Every other line (comments, blank lines, variables without a marker) is
kept byte for byte, in its place. A variable without a marker reads as an
unowned item; writing it (adopting) puts the marker above it in place. A
delete removes a variable only while it still carries the owner's marker:
a line someone took over by editing the marker is left alone.

The file is replaced atomically, with `mode` set before the content lands
at its path; a symbolic link at `path` is written through. Inside `batch()`
changes are kept in memory and the file is written once, at the end.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
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
from syncd.secret import Secret

HEADER = (
    '# Managed in part by syncd. A variable below a "# syncd: owner=..." line is overwritten or '
    "removed by syncd; every other line is left as it is."
)
_OWNER_NAME = re.compile(r"[A-Za-z0-9._-]+")
_MARKER = re.compile(r"# syncd: owner=([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+)[ \t]*\r?\n?")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class DotenvSinkOptions(Options):
    # Marked as a path: the core makes a relative one relative to the manifest's folder.
    path: str = path_field()
    # Text, not a number: YAML would read an unquoted 0600 as 384.
    mode: str = "0600"

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
    changed: bool = False
    has_header: bool = False

    def __post_init__(self) -> None:
        self.has_header = any(b.key is None and b.raw.rstrip("\r\n") == HEADER for b in self.blocks)

    # key → position in `blocks`; rebuilt after a removal shifts positions.
    index: dict[str, int] | None = None

    def find(self, key: str) -> int | None:
        if self.index is None:
            self.index = {block.key: i for i, block in enumerate(self.blocks) if block.key is not None}
        return self.index.get(key)

    def set(self, key: str, value: str, owner: Ownership) -> None:
        block = _Block(_render(key, value, owner), key, value, owner)
        index = self.find(key)
        if index is None:
            if self.blocks and not self.blocks[-1].raw.endswith("\n"):
                self.blocks[-1].raw += "\n"
            self.blocks.append(block)
            assert self.index is not None
            self.index[key] = len(self.blocks) - 1
        elif self.blocks[index].owner == owner and self.blocks[index].value == value:
            return
        else:
            self.blocks[index] = block
        if not self.has_header:
            self.blocks.insert(0, _Block(HEADER + "\n"))
            self.has_header = True
            self.index = None
        self.changed = True

    def remove(self, key: str, owner: Ownership | None) -> None:
        index = self.find(key)
        if index is not None and owner is not None and self.blocks[index].owner == owner:
            del self.blocks[index]
            self.index = None
            self.changed = True

    def text(self) -> str:
        return "".join(block.raw for block in self.blocks)


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
        self._pending: _Document | None = None

    def check(self, item: DesiredItem) -> list[str]:
        problems = []
        if not _VARIABLE.fullmatch(item.address):
            problems.append(
                f"The variable name {item.address!r} is not valid: use letters, digits and '_', "
                f"not starting with a digit."
            )
        if len(item.data) != 1:
            problems.append(f"Item {item.address!r} holds {len(item.data)} keys; a variable holds one.")
        elif "\0" in (value := item.single_value().reveal()):
            problems.append(f"The value of {item.address!r} holds a NUL character, which a file cannot hold.")
        elif not _is_unicode(value):
            problems.append(f"The value of {item.address!r} holds a lone surrogate, which UTF-8 cannot encode.")
        if not (_OWNER_NAME.fullmatch(item.owner.instance) and _OWNER_NAME.fullmatch(item.owner.sync)):
            problems.append(
                f"The owner of {item.address!r} has an instance or sync name with characters "
                f"other than letters, digits and ._-, which the marker cannot hold."
            )
        return problems

    def read(self, addresses: Sequence[str]) -> dict[str, ActualItem]:
        wanted = set(addresses)
        with self._lock:
            document = self._document()
            return {
                block.key: _actual(block, document.version)
                for block in document.blocks
                if block.key is not None and block.key in wanted
            }

    def list_owned(self, instance: str) -> dict[str, ActualItem]:
        with self._lock:
            document = self._document()
            return {
                block.key: _actual(block, document.version)
                for block in document.blocks
                if block.key is not None and block.owner is not None and block.owner.instance == instance
            }

    def write(self, item: DesiredItem, actual: ActualItem | None) -> None:
        problems = self.check(item)
        if problems:
            raise PermanentError(" ".join(problems), target=self.target, address=item.address)
        with self._lock:
            document = self._document()
            document.set(item.address, item.single_value().reveal(), item.owner)
            self._save_unless_batched(document)

    def delete(self, actual: ActualItem) -> None:
        with self._lock:
            document = self._document()
            document.remove(actual.address, actual.owner)
            self._save_unless_batched(document)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        with self._lock:
            self._batch_depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._batch_depth -= 1
                if self._batch_depth == 0:
                    document, self._pending = self._pending, None
                    # Writes that returned count as done, so they are saved even when the block failed.
                    if document is not None and document.changed:
                        self._save(document)

    def describe(self) -> str:
        return self.options.path

    def location(self) -> tuple[str, ...]:
        return file_location(self.options.path)

    def _document(self) -> _Document:
        """The file as it is now, or inside a batch as the batch has changed it. The caller holds the lock."""
        if self._batch_depth == 0:
            return self._load()
        if self._pending is None:
            self._pending = self._load()
        return self._pending

    def _save_unless_batched(self, document: _Document) -> None:
        if self._batch_depth == 0 and document.changed:
            self._save(document)

    def _load(self) -> _Document:
        path = Path(self.options.path)
        try:
            with open(path, "rb") as handle:
                version = str(os.fstat(handle.fileno()).st_mtime_ns)
                raw = handle.read()
        except FileNotFoundError:
            return _Document()
        except OSError as exc:
            raise PermanentError(f"cannot read {path}: {exc.strerror}", target=self.target) from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PermanentError(f"{path} is not valid UTF-8 (byte {exc.start})", target=self.target) from None
        return _Document(self._blocks(text, path), version)

    def _blocks(self, text: str, path: Path) -> list[_Block]:
        try:
            entries = dotenv.parse(text)
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
        path = Path(os.path.realpath(self.options.path))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    os.fchmod(handle.fileno(), self.options.permissions)
                    handle.write(document.text().encode("utf-8"))
                    handle.flush()
                    _move_mtime_past(handle.fileno(), path)
                    os.fsync(handle.fileno())
                os.replace(temporary, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)
                raise
        except OSError as exc:
            raise PermanentError(f"cannot write {path}: {exc.strerror}", target=self.target) from None
        document.changed = False


def _is_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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


def _render(key: str, value: str, owner: Ownership) -> str:
    return f"# syncd: owner={owner.instance}/{owner.sync}\n{dotenv.format_assignment(key, value)}\n"


def _actual(block: _Block, version: str | None) -> ActualItem:
    assert block.key is not None and block.value is not None
    return ActualItem(address=block.key, owner=block.owner, data={block.key: Secret(block.value)}, version=version)


spec = ConnectorSpec(
    name="dotenv",
    summary="One variable per item in a dotenv file; lines syncd does not own are kept as they are.",
    sink=DotenvSink,
)
