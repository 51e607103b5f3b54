"""Switch the redactor off, so a leak test proves that values stay out of output by themselves.

The redactor is the second line of defence: with it on, a test that scans output for planted values passes
even when code prints them, because the redactor hides them. Leak tests, the sink contract's included, run
with it off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from syncd.secret import REDACTOR


@contextlib.contextmanager
def redactor_off() -> Iterator[None]:
    """syncd's redactor replaces nothing inside the block: whatever reaches output is there to be found."""
    previous = REDACTOR.enabled
    REDACTOR.enabled = False
    try:
        yield
    finally:
        REDACTOR.enabled = previous
