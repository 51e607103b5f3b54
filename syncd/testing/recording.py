"""Sinks that wrap another sink: a base that delegates everything, and one that records calls."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from syncd.connector import Location, Sink
from syncd.model import ActualItem, DesiredItem

# The calls a wrapper sees through `_before`: the ones that reach the backend.
HOOKED_METHODS = ("read", "list_owned", "write", "delete", "batch", "close")

# Class attributes a wrapper copies from the wrapped sink onto itself.
_MIRRORED = (
    "Options",
    "Destination",
    "granularities",
    "supports_tags",
    "supports_description",
    "max_concurrency",
)


class DelegatingSink(Sink):
    """A sink that passes every method to `inner` and looks like it.

    The wrapped sink's class attributes (Options, Destination, granularities,
    supports_*, max_concurrency) are mirrored on the instance. Subclasses
    override `_before`, called ahead of each method in `HOOKED_METHODS`
    with the addresses it concerns (`batch` is called on entering the block).
    """

    def __init__(self, inner: Sink) -> None:
        super().__init__(inner.target, inner.options, inner.client)
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

    def default_tags(self) -> Mapping[str, str]:
        return self.inner.default_tags()

    def default_description(self) -> str | None:
        return self.inner.default_description()

    def access_policy(self, patterns: Sequence[str]) -> list[dict[str, Any]] | None:
        return self.inner.access_policy(patterns)

    def prepare(self, items: Sequence[DesiredItem]) -> None:
        self.inner.prepare(items)

    def read(self, addresses: Sequence[str]) -> dict[str, ActualItem]:
        self._before("read", tuple(addresses))
        return self.inner.read(addresses)

    def list_owned(self, instance: str) -> dict[str, ActualItem]:
        self._before("list_owned", ())
        return self.inner.list_owned(instance)

    def write(self, item: DesiredItem, actual: ActualItem | None) -> None:
        self._before("write", (item.address,))
        self.inner.write(item, actual)

    def delete(self, actual: ActualItem) -> None:
        self._before("delete", (actual.address,))
        self.inner.delete(actual)

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
    """Delegates to `inner` and records each read, list_owned, write, delete, batch and close.

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
        """The read and list_owned calls, oldest first."""
        return [c for c in self.calls if c.method in ("read", "list_owned")]

    def clear(self) -> None:
        """Forget every recorded call."""
        with self._lock:
            self._calls.clear()
