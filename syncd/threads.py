"""Work handed to other threads keeps the context of the thread that handed it: the run's `run_id`, bound as a
context variable by the daemon for each of its runs, is on every log line the run's worker threads write."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def in_callers_context(function: Callable[P, R]) -> Callable[P, R]:
    """`function`, run in (a copy of) the context of the thread that calls this, whichever thread later runs it."""
    context = contextvars.copy_context()

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return context.copy().run(function, *args, **kwargs)

    return run
