"""The `gitlab` connection: every request through the target's rate limiter, no retry of python-gitlab's own, and
an unreachable GitLab as a transient error."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from connectors.gitlab import GitLabSink, GitLabTargetOptions
from syncd.connector import RateLimiter, Scope
from syncd.errors import PermanentError, TransientError
from tests.connectors.gitlab.gitlab_support import OWNER, PROJECT, apply, item, plan
from tests.fakes.gitlab import ADMIN_TOKEN, GitLabFake


class CountingLimiter(RateLimiter):
    """A limiter that lets every call through at once and counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self._count_lock = threading.Lock()

    def acquire(self, operation: str = "request") -> float:
        with self._count_lock:
            self.calls += 1
        return 0.0


def connected_sink(fake: GitLabFake, limiter: RateLimiter) -> GitLabSink:
    options = GitLabTargetOptions(url=fake.url, token=ADMIN_TOKEN, projects=[PROJECT])
    return GitLabSink("gitlab-main", options, GitLabSink.connect("gitlab-main", options, limiter=limiter))


def test_every_request_waits_for_the_rate_limiter(gitlab_fake: GitLabFake) -> None:
    """Each HTTP request the server receives (every page of a listing, every write and re-read) first took a token
    from the target's rate limiter."""
    for index in range(150):
        gitlab_fake.put_variable("project", PROJECT, key=f"PLANTED_{index}", value="x")
    limiter = CountingLimiter()
    sink = connected_sink(gitlab_fake, limiter)
    apply(sink, plan(sink, [item(sink, "A_KEY", "a-value-123"), item(sink, "B_KEY", "b-value-123")]))
    apply(sink, plan(sink, [item(sink, "A_KEY", "a-value-456")]))
    received = len(gitlab_fake.requests)
    assert received > 6
    assert limiter.calls == received


def test_python_gitlab_does_not_retry_a_429_itself(gitlab_fake: GitLabFake) -> None:
    """A 429 reaches syncd at once as a TransientError with the server's Retry-After: python-gitlab neither sleeps
    nor asks again (the core's retry layer is the only one)."""
    sink = connected_sink(gitlab_fake, CountingLimiter())
    gitlab_fake.fail_next("GET", r"/variables$", 429, retry_after=1)
    with pytest.raises(TransientError) as raised:
        sink.observe([item(sink, "K", "value-1234")], Scope(OWNER.instance))
    assert raised.value.retry_after == 1
    assert len(gitlab_fake.requests) == 1


def test_an_unreachable_gitlab_is_a_transient_error(gitlab_fake: GitLabFake) -> None:
    """A GitLab that refuses connections gives a TransientError naming it, for the core to retry."""
    sink = connected_sink(gitlab_fake, CountingLimiter())
    url = gitlab_fake.url
    gitlab_fake.stop()
    with pytest.raises(TransientError, match="unreachable") as raised:
        sink.observe([item(sink, "K", "value-1234")], Scope(OWNER.instance))
    assert url in str(raised.value)


def test_the_ca_file_is_what_tls_trusts_and_a_missing_one_is_named(gitlab_fake: GitLabFake, tmp_path: Path) -> None:
    """`ca_file` is the bundle python-gitlab verifies GitLab's certificate with; a missing file is a permanent error
    naming it, before any request."""
    bundle = tmp_path / "gitlab-ca.pem"
    options = GitLabTargetOptions(url=gitlab_fake.url, token=ADMIN_TOKEN, ca_file=str(bundle))
    sink = GitLabSink("gitlab-main", options)
    assert sink.connection.gl.ssl_verify == str(bundle)
    with pytest.raises(PermanentError, match=f"ca_file {bundle} does not exist"):
        sink.observe([item(sink, "K", "value-1234")], Scope(OWNER.instance))
    assert gitlab_fake.requests == []
