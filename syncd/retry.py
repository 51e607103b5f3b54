"""The one retry layer: transient connector errors retried with exponential backoff and jitter (tenacity).

Connectors turn their SDK's own retries off, so a call is tried at most `attempts` times in all. When the
server said how long to wait (`TransientError.retry_after`, from an HTTP `Retry-After`), the next attempt
waits at least that long; a wait longer than `max_retry_after` is not waited for: the error stands, and the
next run tries again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import tenacity

from syncd.errors import TransientError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def call(self, fn: Callable[[], T]) -> tuple[T, int]:
        """Run `fn`, retrying TransientError; returns its result and the number of attempts.

        The last error is raised as it was once the attempts are spent;
        any other error is raised at once.
        """
        backoff = (
            tenacity.wait_exponential_jitter(
                multiplier=self.initial_delay, max=self.max_delay, jitter=self.initial_delay
            )
            if self.initial_delay > 0
            else tenacity.wait_none()
        )

        def wait(state: tenacity.RetryCallState) -> float:
            asked = _retry_after(state)
            return max(backoff(state), asked or 0.0)

        def retry(state: tenacity.RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            if not isinstance(error, TransientError):
                return False
            asked = error.retry_after
            return asked is None or asked <= self.max_retry_after

        retrying = tenacity.Retrying(
            retry=retry, wait=wait, stop=tenacity.stop_after_attempt(self.attempts), reraise=True, sleep=self.sleep
        )
        attempts = 0
        for attempt in retrying:
            with attempt:
                attempts = attempt.retry_state.attempt_number
                result = fn()
        return result, attempts


def _retry_after(state: tenacity.RetryCallState) -> float | None:
    error = state.outcome.exception() if state.outcome else None
    return error.retry_after if isinstance(error, TransientError) else None


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1, initial_delay=0)
