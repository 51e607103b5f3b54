"""A target's `rate_limit`: a token bucket every call of its connector goes through.

One bucket per target (and one for the source), shared by every thread that calls it, so the limit holds
whatever the concurrency. Connectors call `acquire(operation)` before each API request, from their client's one
request path (a botocore `before-send` hook, the Vault client's `call`), naming the API operation: the bucket is
also where the daemon counts API calls (`on_call`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """At most `rate` calls per second on average, and `burst` at once after a quiet spell; None is no limit."""

    def __init__(
        self,
        rate: float | None = None,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_call: Callable[[str], None] | None = None,
    ) -> None:
        self.rate = rate
        self.on_call = on_call
        self.burst = max(1, burst if burst is not None else int(rate or 1))
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._stamp = clock()

    def acquire(self, operation: str = "request") -> float:
        """Wait until a call of the API operation `operation` (a name such as "GetSecretValue" or "list secrets",
        never a value) may go out; returns how long it waited, in seconds."""
        if self.on_call is not None:
            self.on_call(operation)
        if self.rate is None:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            # The token is taken now, even when it is still to come: callers queue in the order they asked.
            self._tokens -= 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait

    def __repr__(self) -> str:
        return f"RateLimiter(rate={self.rate}, burst={self.burst})"


UNLIMITED = RateLimiter()
