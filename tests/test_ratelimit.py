"""A target's rate_limit: a token bucket shared by every thread of the target."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from syncd.ratelimit import RateLimiter


class FakeClock:
    """A monotonic clock that moves only when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_no_rate_is_no_wait() -> None:
    limiter = RateLimiter()
    assert all(limiter.acquire() == 0 for _ in range(1000))


def test_calls_past_the_burst_are_spaced_at_the_rate() -> None:
    """At 5 calls a second with a burst of 5, 15 calls take 2 seconds: the first 5 at once, then one every 0.2 s."""
    clock = FakeClock()
    limiter = RateLimiter(5, 5, clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire() for _ in range(15)]
    assert waits[:5] == [0.0] * 5
    assert all(w > 0 for w in waits[5:])
    assert abs(clock.now - 2.0) < 1e-9


def test_a_quiet_spell_refills_the_bucket_up_to_the_burst_only() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, 2, clock=clock, sleep=clock.sleep)
    for _ in range(2):
        limiter.acquire()
    clock.sleep(60)
    assert [limiter.acquire() > 0 for _ in range(3)] == [False, False, True]


def test_threads_share_one_bucket() -> None:
    """40 calls from 8 threads at 20 a second (burst 1) still take at least 39/20 seconds in all."""
    clock = FakeClock()
    limiter = RateLimiter(20, 1, clock=clock, sleep=clock.sleep)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: limiter.acquire(), range(40)))
    assert clock.now >= 39 / 20 - 1e-9
