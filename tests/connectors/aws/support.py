"""The AWS sinks' three calls made as the core makes them, for tests that reach one sink directly, and a probe of
how many calls a client has in flight at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace

from syncd.connector import Scope, Sink
from syncd.diff import difference
from syncd.model import ActualItem, DesiredItem, Difference, Ownership
from syncd.secret import Secret

EVERYWHERE = ("*",)


def desired_at(sink: Sink, addresses: Sequence[str | DesiredItem], instance: str) -> list[DesiredItem]:
    """Desired items for `addresses` (a DesiredItem is taken as it is): what a run would ask `observe` about."""
    made = []
    for entry in addresses:
        if isinstance(entry, DesiredItem):
            made.append(entry)
            continue
        key = entry.rstrip("/").rsplit("/", 1)[-1] or entry
        granularity = sink.capabilities.granularities[0]
        made.append(
            DesiredItem(
                target=sink.target,
                address=entry,
                owner=Ownership(instance, "observer"),
                data={key: Secret("observed")},
                granularity=granularity,
            )
        )
    return made


def read(
    sink: Sink, addresses: Sequence[str | DesiredItem], *, instance: str = "prod-eu", patterns: Sequence[str] = ()
) -> dict[str, ActualItem]:
    """What `observe` finds at `addresses` (strings, or the desired items themselves)."""
    observed = sink.observe(desired_at(sink, addresses, instance), Scope(instance, tuple(patterns)))
    return dict(observed.items)


def owned(sink: Sink, instance: str, patterns: Sequence[str] = EVERYWHERE) -> dict[str, ActualItem]:
    """What `observe` reports as `instance`'s inside `patterns` (the whole target by default)."""
    return dict(sink.observe([], Scope(instance, tuple(patterns))).owned)


def change_for(item: DesiredItem, expected: ActualItem | None) -> Difference:
    """The difference the core hands a write: everything for a create or a restore; an item found without a
    marker is adopted, one of another sync taken over."""
    if expected is None or expected.pending_deletion:
        return replace(difference(item, None), restore=expected is not None)
    found = difference(item, expected)
    if expected.owner is None:
        return replace(found, adopt=True)
    if expected.owner != item.owner:
        return replace(found, owner_was=expected.owner.sync)
    return found


def write(sink: Sink, item: DesiredItem, expected: ActualItem | None) -> None:
    """`sink.write` with the difference the core would compute."""
    sink.write(item, expected, change_for(item, expected))


class InFlight:
    """A botocore `before-send` hook that tells how many requests a client had in flight at once.

    Each request is held in the hook until `expected` requests are held together, or until `patience` seconds have
    passed since the first one arrived; after that every request goes straight through. `peak` is then the most
    requests that were on their way together: `expected` when the caller sends them side by side, 1 when it sends
    them one after another.
    """

    def __init__(self, expected: int, patience: float = 1.0) -> None:
        self.expected = expected
        self.patience = patience
        self.peak = 0
        self._held = 0
        self._open = False
        self._deadline: float | None = None
        self._changed = threading.Condition()

    def __call__(self, **_: object) -> None:
        with self._changed:
            if self._deadline is None:
                self._deadline = time.monotonic() + self.patience
            self._held += 1
            self.peak = max(self.peak, self._held)
            if self._held >= self.expected:
                self._open = True
                self._changed.notify_all()
            self._changed.wait_for(lambda: self._open, timeout=max(0.0, self._deadline - time.monotonic()))
            self._open = True
            self._held -= 1
            self._changed.notify_all()
