"""Sinks that wrap another sink: a base that delegates everything, and one that records calls."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from syncd.connector import AccessPolicy, ItemDefaults, Location, Observation, Scope, Sink
from syncd.model import ActualItem, DesiredItem, Difference

# The calls a wrapper sees through `_before`: the ones that reach the backend.
HOOKED_METHODS = ("observe", "write", "delete", "batch", "close")

# Class attributes a wrapper copies from the wrapped sink onto itself.
_MIRRORED = ("Options", "Destination", "capabilities")


class DelegatingSink(Sink):
    """A sink that passes every method to `inner` and looks like it.

    The wrapped sink's class attributes (Options, Destination, capabilities)
    are mirrored on the instance. Subclasses
    override `_before`, called ahead of each method in `HOOKED_METHODS`
    with the addresses it concerns (`batch` is called on entering the block).
    """

    def __init__(self, inner: Sink) -> None:
        super().__init__(inner.target, inner.options, inner.connection)
        self.inner = inner
        for name in _MIRRORED:
            setattr(self, name, getattr(inner, name))

    def _before(self, method: str, addresses: tuple[str, ...]) -> None:
        """Called ahead of each hooked method; does nothing here."""

    def address(self, destination: BaseModel, name: str) -> str:
        return self.inner.address(destination, name)

    def flags(self, destination: BaseModel) -> Mapping[str, Any]:
        return self.inner.flags(destination)

    def check(self, item: DesiredItem) -> list[str]:
        return self.inner.check(item)

    def item_defaults(self) -> ItemDefaults:
        return self.inner.item_defaults()

    def required_access(self, patterns: Sequence[str]) -> AccessPolicy | None:
        return self.inner.required_access(patterns)

    def observe(self, desired: Sequence[DesiredItem], scope: Scope) -> Observation:
        self._before("observe", tuple(i.address for i in desired))
        return self.inner.observe(desired, scope)

    def write(self, item: DesiredItem, expected: ActualItem | None, difference: Difference) -> None:
        self._before("write", (item.address,))
        self.inner.write(item, expected, difference)

    def delete(self, expected: ActualItem) -> None:
        self._before("delete", (expected.address,))
        self.inner.delete(expected)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        self._before("batch", ())
        with self.inner.batch():
            yield

    def describe(self) -> str:
        return self.inner.describe()

    def location(self) -> Location | None:
        return self.inner.location()

    def close(self) -> None:
        self._before("close", ())
        self.inner.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"


@dataclass(frozen=True)
class Call:
    """One call that reached a sink: the method's name and the addresses it concerned."""

    method: str
    addresses: tuple[str, ...] = ()


class RecordingSink(DelegatingSink):
    """Delegates to `inner` and records each observe, write, delete, batch and close.

    A call is recorded before it is passed on, so a call that fails is
    recorded too. Leaving a `batch` block records `Call("batch_end")`.
    `address`, `flags`, `check` and `describe` are delegated, not recorded.
    """

    def __init__(self, inner: Sink) -> None:
        super().__init__(inner)
        self._lock = threading.Lock()
        self._calls: list[Call] = []

    def _before(self, method: str, addresses: tuple[str, ...]) -> None:
        self._record(Call(method, addresses))

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        try:
            with super().batch():
                yield
        finally:
            self._record(Call("batch_end"))

    @property
    def calls(self) -> list[Call]:
        """Every recorded call, oldest first (a copy)."""
        with self._lock:
            return list(self._calls)

    @property
    def writes(self) -> list[Call]:
        """The write and delete calls, oldest first."""
        return [c for c in self.calls if c.method in ("write", "delete")]

    @property
    def reads(self) -> list[Call]:
        """The observe calls, oldest first."""
        return [c for c in self.calls if c.method == "observe"]

    def clear(self) -> None:
        """Forget every recorded call."""
        with self._lock:
            self._calls.clear()
