"""Webhook notifications: drift found, apply failed and recovered, posted to a real HTTP receiver on loopback,
rate-limited per sync and event, and never a burden on the run: a slow or dead webhook never blocks nor raises."""

from __future__ import annotations

import contextlib
import io
import json
import queue
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler

import pytest

from syncd import logs
from syncd.daemon.notify import Notifier
from syncd.daemon.outcome import RunOutcome, RunResult, TargetOutcome, Trigger
from syncd.secret import REDACTOR
from tests.fakes.http_server import TrackingServer
from tests.leakscan import assert_no_leaks, no_redactor

__all__ = ["no_redactor"]

START = datetime(2026, 12, 1, 3, 0, 0, tzinfo=UTC)
# Long enough for any loaded machine; the tests never wait this long unless something is broken.
DEADLINE = 20.0
WEBHOOK_TOKEN = "XyZwebhookTOKEN9f8e7d6c5b4a"
PLANTED = "PLANTED-notify-7Qk2vLx9"


@dataclass
class Receiver:
    """A webhook on loopback that records each body; `mode` makes it answer 200, 500 (with the planted value in its
    reason phrase and body, as a chatty server might), or hang until `release` is set."""

    server: TrackingServer
    bodies: queue.Queue[dict] = field(default_factory=queue.Queue)
    started: queue.Queue[None] = field(default_factory=queue.Queue)
    release: threading.Event = field(default_factory=threading.Event)
    mode: str = "ok"

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/services/T0001/B0002/{WEBHOOK_TOKEN}"

    def next_text(self) -> str:
        return self.bodies.get(timeout=DEADLINE)["text"]

    def texts(self) -> list[str]:
        """The bodies received so far (call after `Notifier.close`, which waits for the queue to drain)."""
        found = []
        while not self.bodies.empty():
            found.append(self.bodies.get_nowait()["text"])
        return found


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            webhook = holder[0]
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            webhook.started.put(None)
            if webhook.mode == "hang":
                webhook.release.wait(DEADLINE)
            webhook.bodies.put(body)
            if webhook.mode == "500":
                answer = f"no such hook {PLANTED}".encode()
                self.send_response(500, f"Broken {PLANTED}")
            else:
                answer = b"ok"
                self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            with contextlib.suppress(OSError):  # a client that timed out is gone
                self.end_headers()
                self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = TrackingServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(server))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield holder[0]
    holder[0].release.set()
    server.shutdown()
    server.close_connections()
    server.server_close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def outcome(
    sync: str = "app",
    result: RunResult = RunResult.OK,
    *,
    minute: int = 0,
    dry_run: bool = False,
    targets: tuple[TargetOutcome, ...] = (),
    error: str | None = None,
    source_errors: int = 0,
) -> RunOutcome:
    finished = START + timedelta(minutes=minute)
    return RunOutcome(
        run_id=f"run-{sync}-{minute}",
        sync=sync,
        trigger=Trigger.SCHEDULE,
        started_at=finished - timedelta(seconds=2),
        finished_at=finished,
        result=result,
        dry_run=dry_run,
        targets=targets,
        source_errors=source_errors,
        error=error,
        manifest_commit="3f2a9c1d0e4b",
    )


DRIFTED = (
    TargetOutcome("k8s", RunResult.DRIFT, drift={"create": 2, "update": 1}),
    TargetOutcome("vault", RunResult.DRIFT, drift={"delete": 1, "conflict": 2}),
    TargetOutcome("quiet", RunResult.OK),
)
FAILED = (
    TargetOutcome(
        "k8s", RunResult.FAILED, drift={"update": 5}, applied=3, failed=2, error_classes=("ItemMoved", "TransientError")
    ),
    TargetOutcome("vault", RunResult.OK, drift={"create": 1}, applied=1),
)


def notifier(receiver: Receiver, clock: FakeClock | None = None, **options: object) -> Notifier:
    return Notifier(receiver.url, instance="prod-eu", clock=clock or FakeClock(), **options)  # type: ignore[arg-type]


def test_a_dry_run_with_drift_posts_drift_found_with_counts_per_target(receiver: Receiver) -> None:
    """A dry run's drift names the instance, the sync, each drifted target with its counts, the run id and the
    manifest commit, as Slack-compatible JSON."""
    notify = notifier(receiver)
    notify.run_finished(outcome(result=RunResult.DRIFT, dry_run=True, targets=DRIFTED))
    text = receiver.next_text()
    notify.close()
    assert text.splitlines() == [
        "syncd 'prod-eu': drift found in sync 'app' (dry run, nothing written)",
        "• target 'k8s': 2 to create, 1 to update",
        "• target 'vault': 1 to delete, 2 conflicts",
        "run run-app-0 · manifest commit 3f2a9c1d0e4b · 2026-12-01 03:00:00 UTC",
    ]


def test_apply_failed_names_the_failed_targets_counts_error_classes_and_the_error(receiver: Receiver) -> None:
    """A failed run names each failing target with its failed count and error classes, the source's unreadable
    secrets and the run's error sentence, with Slack's control characters escaped."""
    notify = notifier(receiver)
    notify.run_finished(
        outcome(result=RunResult.FAILED, targets=FAILED, source_errors=1, error="2 changes failed <!channel> & more")
    )
    notify.run_finished(outcome(sync="db", result=RunResult.ERROR, error="the source 'vault' could not be reached"))
    notify.close()
    assert receiver.texts() == [
        "syncd 'prod-eu': apply failed in sync 'app'\n"
        "• target 'k8s': 2 of 5 changes failed (ItemMoved, TransientError)\n"
        "• 1 other target ok\n"
        "• source: 1 secret could not be read\n"
        "• error: 2 changes failed &lt;!channel&gt; &amp; more\n"
        "run run-app-0 · manifest commit 3f2a9c1d0e4b · 2026-12-01 03:00:00 UTC",
        "syncd 'prod-eu': apply failed in sync 'db': the run could not plan\n"
        "• error: the source 'vault' could not be reached\n"
        "run run-db-0 · manifest commit 3f2a9c1d0e4b · 2026-12-01 03:00:00 UTC",
    ]


def test_the_first_good_run_after_a_sent_failure_posts_recovered(receiver: Receiver) -> None:
    """Recovered comes once, after a failure was sent, counting the failed runs; a good run with no failure before
    it says nothing."""
    clock = FakeClock()
    notify = notifier(receiver, clock)
    notify.run_finished(outcome(minute=0))
    notify.run_finished(outcome(result=RunResult.ERROR, minute=1, error="the source could not be read"))
    notify.run_finished(outcome(result=RunResult.FAILED, minute=2, targets=FAILED))
    notify.run_finished(outcome(minute=3))
    notify.run_finished(outcome(minute=4))
    notify.close()
    texts = receiver.texts()
    assert [t.splitlines()[0] for t in texts] == [
        "syncd 'prod-eu': apply failed in sync 'app': the run could not plan",
        "syncd 'prod-eu': sync 'app' recovered after 2 failed runs since 2026-12-01 03:01:00 UTC",
    ]


def test_one_message_per_sync_and_event_per_interval_and_the_next_counts_the_rest(receiver: Receiver) -> None:
    """Within min_interval a second drift of one sync is held back and counted; another sync's is not; the next
    message after the interval says how many were held back since the last one."""
    clock = FakeClock()
    notify = notifier(receiver, clock, min_interval=300.0)
    for minute in (0, 1, 2):
        clock.now = 1000.0 + minute * 60
        notify.run_finished(outcome(result=RunResult.DRIFT, dry_run=True, targets=DRIFTED, minute=minute))
    notify.run_finished(outcome(sync="other", result=RunResult.DRIFT, dry_run=True, targets=DRIFTED, minute=2))
    clock.now = 1000.0 + 300
    notify.run_finished(outcome(result=RunResult.DRIFT, dry_run=True, targets=DRIFTED, minute=5))
    notify.close()
    texts = receiver.texts()
    assert [t.splitlines()[-1] for t in texts] == [
        "run run-app-0 · manifest commit 3f2a9c1d0e4b · 2026-12-01 03:00:00 UTC",
        "run run-other-2 · manifest commit 3f2a9c1d0e4b · 2026-12-01 03:02:00 UTC",
        "(2 more since 2026-12-01 03:00:00 UTC)",
    ]


def test_recovered_is_never_held_back_while_flapping_failures_are(receiver: Receiver) -> None:
    """A sync that flaps sends its failure and its recovery; the next failure within the interval, and the recovery
    from it that no failure message announced, are held back, and the failure after the interval counts them."""
    clock = FakeClock()
    notify = notifier(receiver, clock, min_interval=300.0)
    for minute, result in enumerate([RunResult.FAILED, RunResult.OK, RunResult.FAILED, RunResult.OK]):
        clock.now = 1000.0 + minute * 60
        notify.run_finished(outcome(result=result, targets=FAILED, minute=minute))
    clock.now = 1000.0 + 600
    notify.run_finished(outcome(result=RunResult.FAILED, targets=FAILED, minute=10))
    notify.close()
    texts = receiver.texts()
    assert [t.splitlines()[0] for t in texts] == [
        "syncd 'prod-eu': apply failed in sync 'app'",
        "syncd 'prod-eu': sync 'app' recovered after 1 failed run since 2026-12-01 03:00:00 UTC",
        "syncd 'prod-eu': apply failed in sync 'app'",
    ]
    assert texts[2].splitlines()[-1] == "(1 more since 2026-12-01 03:00:00 UTC)"


def test_recovered_comes_even_right_after_its_failure(receiver: Receiver) -> None:
    """The rate limit never holds back the recovery of a failure that was sent, however soon it follows."""
    clock = FakeClock()
    notify = notifier(receiver, clock, min_interval=3600.0)
    notify.run_finished(outcome(result=RunResult.FAILED, targets=FAILED, minute=0))
    notify.run_finished(outcome(result=RunResult.FAILED, targets=FAILED, minute=1))
    notify.run_finished(outcome(result=RunResult.DRIFT, dry_run=True, targets=DRIFTED, minute=2))
    notify.close()
    texts = receiver.texts()
    assert [t.splitlines()[0] for t in texts] == [
        "syncd 'prod-eu': apply failed in sync 'app'",
        "syncd 'prod-eu': sync 'app' recovered after 2 failed runs since 2026-12-01 03:00:00 UTC (it has drift, "
        "not applied)",
        "syncd 'prod-eu': drift found in sync 'app' (dry run, nothing written)",
    ]


def test_a_hanging_webhook_never_blocks_a_run_and_drops_the_oldest(receiver: Receiver) -> None:
    """While the sender waits on a webhook that does not answer, run_finished still returns at once: the bounded
    queue drops its oldest messages and counts them, and the next message that goes out says so."""
    receiver.mode = "hang"
    notify = notifier(receiver, max_queue=2, timeout=DEADLINE)
    notify.run_finished(outcome(sync="first", result=RunResult.ERROR))
    receiver.started.get(timeout=DEADLINE)  # the sender is now stuck in its POST

    def finish_runs() -> None:
        for number in range(10):
            notify.run_finished(outcome(sync=f"sync-{number}", result=RunResult.ERROR))

    runs = threading.Thread(target=finish_runs, daemon=True)
    runs.start()
    runs.join(DEADLINE)
    assert not runs.is_alive(), "run_finished blocked on a hanging webhook"
    assert notify.dropped == 8
    receiver.release.set()
    notify.close(timeout=DEADLINE)
    texts = receiver.texts()
    assert [t.splitlines()[0] for t in texts] == [
        "syncd 'prod-eu': apply failed in sync 'first': the run could not plan",
        "syncd 'prod-eu': apply failed in sync 'sync-8': the run could not plan",
        "syncd 'prod-eu': apply failed in sync 'sync-9': the run could not plan",
    ]
    assert texts[1].splitlines()[-1] == "(8 earlier notifications dropped: the webhook was slow or down)"
    assert notify.sent == 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.usefixtures("no_redactor")
def test_a_dead_webhook_never_raises_and_is_logged_once_per_kind_without_url_or_answer(receiver: Receiver) -> None:
    """Refused, 500 and timed-out posts are each logged once, by kind, with neither the URL, its token, nor what the
    server answered (its reason phrase and body carry a planted value); run_finished never raises."""
    stream = io.StringIO()
    logs.configure("debug", "json", stream)
    refused_url = f"http://127.0.0.1:{free_port()}/services/T0001/B0002/{WEBHOOK_TOKEN}"
    refused = Notifier(refused_url, instance="prod-eu", clock=FakeClock())
    for number in range(3):
        refused.run_finished(outcome(sync=f"sync-{number}", result=RunResult.ERROR))
    refused.close(timeout=DEADLINE)
    receiver.mode = "500"
    failing = notifier(receiver)
    for number in range(3):
        failing.run_finished(outcome(sync=f"sync-{number}", result=RunResult.ERROR))
    failing.close(timeout=DEADLINE)
    slow = Notifier(receiver.url, instance="prod-eu", clock=FakeClock(), timeout=0.2)
    receiver.mode = "hang"
    slow.run_finished(outcome(result=RunResult.ERROR))
    slow.close(timeout=DEADLINE)
    receiver.release.set()

    assert (refused.failed, failing.failed, slow.failed) == (3, 3, 1)
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    kinds = [e["kind"] for e in events if e["event"] == "notification not delivered"]
    assert kinds == ["refused", "HTTP 500", "timeout"]
    bodies = "\n".join(receiver.texts())
    assert_no_leaks(
        {"url": refused_url, "token": WEBHOOK_TOKEN, "answer": PLANTED},
        texts={"log": stream.getvalue(), "bodies": bodies},
    )


def test_a_post_that_raises_or_an_unreadable_outcome_never_reaches_the_run(receiver: Receiver) -> None:
    """Whatever the post function raises is counted as a failed post, and an outcome notify cannot read is logged;
    neither raises out of run_finished."""

    def broken(url: str, body: bytes, timeout: float) -> int:
        raise RuntimeError(f"cannot post to {url}")

    stream = io.StringIO()
    logs.configure("debug", "json", stream)
    notify = Notifier(receiver.url, instance="prod-eu", clock=FakeClock(), post=broken)
    notify.run_finished(outcome(result=RunResult.ERROR))
    notify.run_finished(None)  # type: ignore[arg-type]
    notify.close(timeout=DEADLINE)
    assert notify.failed == 1
    events = {json.loads(line)["event"]: json.loads(line) for line in stream.getvalue().splitlines()}
    assert events["notification not delivered"]["kind"] == "RuntimeError"
    assert events["notification not queued"]["error_class"] == "AttributeError"


def test_the_webhook_url_and_its_token_are_registered_with_the_redactor(receiver: Receiver) -> None:
    """The URL is a credential: the redactor hides it, and its token printed on its own, wherever they show up."""
    notifier(receiver).close()
    assert REDACTOR.redact(f"posting to {receiver.url} failed") == "posting to [REDACTED] failed"
    assert REDACTOR.redact(f"token {WEBHOOK_TOKEN}") == "token [REDACTED]"


def test_a_webhook_that_is_not_http_is_refused_without_showing_it() -> None:
    """A file: or other URL is refused in one sentence that does not quote it."""
    with pytest.raises(ValueError) as refused:
        Notifier(f"file:///tmp/{WEBHOOK_TOKEN}", instance="prod-eu")
    assert WEBHOOK_TOKEN not in str(refused.value)


def test_every_message_sent_failed_or_dropped_is_counted_for_the_metrics() -> None:
    """`counted` hears of each post that went out, each that failed, and each message dropped unsent."""
    answers = iter([200, 500])
    posting, release = threading.Event(), threading.Event()
    counts: dict[str, int] = {}

    def post(url: str, body: bytes, timeout: float) -> int:
        posting.set()
        release.wait(10)  # the first post waits: meanwhile the queue of one fills and drops
        return next(answers, 200)

    def counted(result: str, n: int) -> None:
        counts[result] = counts.get(result, 0) + n

    sender = Notifier("https://hooks.example/x", instance="prod", post=post, max_queue=1, counted=counted)
    sender.run_finished(outcome("a", RunResult.FAILED, targets=FAILED))
    assert posting.wait(10)
    for sync in ("b", "c"):
        sender.run_finished(outcome(sync, RunResult.FAILED, targets=FAILED))
    release.set()
    sender.close()
    assert counts == {"sent": 1, "failed": 1, "dropped": 1}
