"""The one retry layer: backoff, the server's Retry-After, and its limit."""

from __future__ import annotations

import pytest

from syncd.errors import PermanentError, TransientError
from syncd.retry import RetryPolicy


class Flaky:
    """Fails with the given errors in turn, then answers."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "answer"


def policy(waits: list[float], **kwargs: float) -> RetryPolicy:
    return RetryPolicy(initial_delay=kwargs.pop("initial_delay", 0.01), sleep=waits.append, **kwargs)  # type: ignore[arg-type]


def test_a_transient_error_is_retried_with_backoff() -> None:
    """Transient errors are retried until the call answers; each wait is a short backoff."""
    waits: list[float] = []
    flaky = Flaky(TransientError("503"), TransientError("503"))
    assert policy(waits).call(flaky) == ("answer", 3)
    assert len(waits) == 2 and all(0 <= w < 1 for w in waits)


def test_the_servers_retry_after_is_waited_for() -> None:
    """A TransientError carrying Retry-After waits at least that long before the next attempt."""
    waits: list[float] = []
    flaky = Flaky(TransientError("429 slow down", retry_after=7.5))
    assert policy(waits).call(flaky) == ("answer", 2)
    assert waits and waits[0] >= 7.5


def test_a_retry_after_beyond_the_limit_is_not_waited_for() -> None:
    """A server asking for a wait longer than max_retry_after gets the error back at once: the next run
    retries, and the run is not held up."""
    waits: list[float] = []
    flaky = Flaky(TransientError("429 come back in an hour", retry_after=3600))
    with pytest.raises(TransientError, match="an hour"):
        policy(waits, max_retry_after=60).call(flaky)
    assert flaky.calls == 1 and waits == []


def test_a_permanent_error_is_not_retried() -> None:
    waits: list[float] = []
    flaky = Flaky(PermanentError("denied"))
    with pytest.raises(PermanentError):
        policy(waits).call(flaky)
    assert flaky.calls == 1 and waits == []


def test_attempts_are_bounded_by_the_one_layer() -> None:
    """A call that keeps failing is tried exactly `attempts` times in all."""
    waits: list[float] = []
    flaky = Flaky(*[TransientError("503")] * 10)
    with pytest.raises(TransientError):
        policy(waits, attempts=4).call(flaky)
    assert flaky.calls == 4


def test_a_retry_after_header_is_read_as_seconds_or_as_an_http_date() -> None:
    """`retry_after_seconds`, shared by every connector's error mapping: seconds, an HTTP date (RFC 9110), nothing
    for a missing or unreadable header, never a negative wait."""
    import datetime as dt

    from syncd.connector import retry_after_seconds

    now = dt.datetime(2026, 12, 1, 3, 0, 0, tzinfo=dt.UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(" 2.5 ") == 2.5
    assert retry_after_seconds("Tue, 01 Dec 2026 03:00:30 GMT", now=lambda: now) == 30.0
    assert retry_after_seconds("Tue, 01 Dec 2026 02:59:00 GMT", now=lambda: now) == 0.0
    assert retry_after_seconds("-3") == 0.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("") is None
    assert retry_after_seconds("soon") is None
