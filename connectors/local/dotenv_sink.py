"""The `dotenv` sink: one variable per item, in a dotenv file people may also edit by hand.

syncd owns a variable when a `# syncd: owner=INSTANCE/SYNC` marker sits on the line just above it; every other
line is kept byte for byte (docs/connectors.md, "`dotenv` sink"). Buffered: inside `batch()` the lock is taken at
the first change and the file read again under it, each change checked against what the plan saw; the file is
written once, when the batch ends.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from connectors.local import dotenv_format as dotenv
from connectors.local.dotenv_file import Block, Document, DotenvFile, Locked, unlock
from connectors.local.options import DotenvSinkOptions
from syncd.connector import Capabilities, Observation, Scope, Sink, file_location
from syncd.errors import ItemMoved, PermanentError
from syncd.model import ActualItem, DesiredItem, Difference, Granularity
from syncd.secret import is_text

_OWNER_NAME = re.compile(r"[A-Za-z0-9._-]+")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class DotenvSink(Sink):
    """Writes each item as one variable of a dotenv file, leaving lines it does not own alone."""

    Options = DotenvSinkOptions
    capabilities = Capabilities(granularities=(Granularity.PER_KEY,), buffered=True)

    def __init__(self, target: str, options: DotenvSinkOptions, connection: Any = None) -> None:
        super().__init__(target, options, connection)
        self.options: DotenvSinkOptions = options
        self._file = DotenvFile(options.path, target, options.permissions, raw=options.dialect == "docker-env-file")
        # Guards the batch below: threads of one apply write into one held document.
        self._lock = threading.Lock()
        # Set only while a batch is open: how deep, and the file held under the lock since its first change.
        self._batch_depth = 0
        self._held: Locked | None = None

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

    def observe(self, desired: Sequence[DesiredItem], scope: Scope) -> Observation:
        """One read of the file: the desired variables there, and the variables in scope marked by the instance."""
        wanted = {item.address for item in desired}
        with self._lock:
            document = self._held.document if self._held else self._file.load()
        variables = document.variables()
        items = {key: block.actual(document.version) for key, block in variables.items() if key in wanted}
        owned = {
            key: items.get(key) or block.actual(document.version)
            for key, block in variables.items()
            if block.owner is not None and block.owner.instance == scope.instance and scope.covers(key)
        }
        return Observation(items, owned)

    def write(self, item: DesiredItem, expected: ActualItem | None, difference: Difference) -> None:
        # A variable is one line under its marker: value and marker are written together, whatever differs.
        if not _VARIABLE.fullmatch(item.address):  # `check` refuses it first; written, the file would not parse again
            raise PermanentError(f"{item.address!r} is not a variable name", target=self.target, address=item.address)
        value = item.single_value().reveal()
        with self._change() as document:
            current = document.block(item.address)
            if current is not None and current.owner == item.owner and current.value == value:
                return
            self._refuse_if_moved(item.address, current, expected)
            document.set(item.address, value, item.owner, self.options.dialect)

    def delete(self, expected: ActualItem) -> None:
        if expected.owner is None:
            raise PermanentError(
                "not deleted: it carries no syncd marker", target=self.target, address=expected.address
            )
        with self._change() as document:
            current = document.block(expected.address)
            if current is None:
                return
            self._refuse_if_moved(expected.address, current, expected)
            document.remove(expected.address)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        with self._lock:
            self._batch_depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._batch_depth -= 1
                # Writes that returned count as done, so they are saved even when the block failed.
                if self._batch_depth == 0 and self._held is not None:
                    self._release()

    def describe(self) -> str:
        return self.options.path

    def location(self) -> tuple[str, ...]:
        return file_location(self.options.path)

    @contextlib.contextmanager
    def _change(self) -> Iterator[Document]:
        """The file as read under the lock; inside a batch, as read at its first change, with its changes since.
        Outside a batch the change is saved and the lock released on leaving: it is on disk when the call returns."""
        with self._lock:
            if self._held is None:
                self._held = self._file.lock_and_load()
            try:
                yield self._held.document
            finally:
                if not self._batch_depth:
                    self._release()

    def _release(self) -> None:
        """Save the held file if it changed, and release the lock; the caller holds `self._lock`."""
        held, self._held = self._held, None
        assert held is not None
        try:
            if held.document.changed:
                self._file.save(held.document)
        finally:
            unlock(held.lock)

    def _refuse_if_moved(self, address: str, current: Block | None, expected: ActualItem | None) -> None:
        """Raise ItemMoved unless the variable is as the plan saw it. The file's version (its mtime) moves with every
        write to any line, so the variable's own owner and value are compared: a change to another line is no
        reason to refuse this one."""
        if expected is None and current is None:
            return
        if expected is None:
            reason = "it was created since"
        elif current is None:
            reason = "it was removed since"
        elif current.owner != expected.owner:
            reason = "its ownership marker changed since"
        elif expected.data is not None and [current.value] != [value.reveal() for value in expected.data.values()]:
            reason = "its value changed since"
        else:
            return
        raise ItemMoved(
            f"moved since the plan ({reason}); it was left as it is. Plan again to see it as it is now",
            target=self.target,
            address=address,
        )
