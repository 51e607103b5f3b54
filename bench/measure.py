"""The one measurement every bench script takes: wall time and peak traced memory of a step."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any


def measure(step: Callable[[], Any]) -> tuple[Any, float, float]:
    """`step()`'s result, its wall time in seconds and its peak memory in MiB (tracemalloc on: a slower step)."""
    tracemalloc.start()
    started = time.perf_counter()
    result = step()
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, elapsed, peak / 2**20
