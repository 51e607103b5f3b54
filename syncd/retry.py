"""Retries for transient connector errors: exponential backoff with jitter, through tenacity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from syncd.errors import TransientError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial_delay: float = 0.5
    max_delay: float = 20.0

    def call(self, fn: Callable[[], T]) -> tuple[T, int]:
        """Run `fn`, retrying TransientError; returns its result and the number of attempts.

        The last error is raised as it was once the attempts are spent;
        any other error is raised at once.
        """
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientError),
            wait=tenacity.wait_exponential_jitter(
                multiplier=self.initial_delay, max=self.max_delay, jitter=self.initial_delay
            )
            if self.initial_delay > 0
            else tenacity.wait_none(),
            stop=tenacity.stop_after_attempt(self.attempts),
            reraise=True,
        )
        attempts = 0
        for attempt in retrying:
            with attempt:
                attempts = attempt.retry_state.attempt_number
                result = fn()
        return result, attempts


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1, initial_delay=0)
