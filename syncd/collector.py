"""Python's cyclic garbage collector during the work that builds many objects that live to its end.

A manifest's load and a plan make objects by the hundred thousand (a plan of 10,000 items: the source's secrets, the
desired and observed items, their `Secret` values, the changes) and keep nearly all of them until they finish. With
the default thresholds the collector runs a young pass every 700 new objects and, every 10 of those, walks the older
generation too, which by then holds the plan built so far: at 10,000 items it was a third of a plan's CPU, and its
share grew with the plan. None of that data holds a cycle to find.

`syncd plan` and `syncd apply` raise the young threshold for the whole command (syncd/cli/plan_commands.py), and
`make_plan` for each plan, which is all the daemon raises it for: raised for the daemon's whole life, its resident
memory grew more across ticks (`python -m bench.daemon`, 30 ticks at 10,000 secrets: +31 MB against +12 MB).
Freezing what the load made (`gc.freeze()`) was measured too and gained nothing once the threshold is raised.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

# New objects between two young collections during a plan (the default is 700): large enough that a plan of 10,000
# items sees a handful of passes instead of hundreds, small enough that cyclic garbage made meanwhile (an exception
# and its traceback) is still found within the plan.
PLAN_YOUNG_THRESHOLD = 50_000


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The collector off for the block (a manifest's load, which holds no cycle), on again after if it was on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _RaisedYoungThreshold:
    """The young generation's threshold raised while at least one block runs (the daemon plans several syncs at once
    on threads, and the threshold is the process's), and put back as it was when the last one ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._saved: tuple[int, int, int] | None = None

    @contextlib.contextmanager
    def __call__(self, threshold: int = PLAN_YOUNG_THRESHOLD) -> Iterator[None]:
        with self._lock:
            if self._active == 0:
                self._saved = gc.get_threshold()
                young, *older = self._saved
                # A threshold of 0 means the collector never runs by itself: leave that as it is.
                if 0 < young < threshold:
                    gc.set_threshold(threshold, *older)
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0 and self._saved is not None:
                    gc.set_threshold(*self._saved)
                    self._saved = None


young_threshold_raised = _RaisedYoungThreshold()
