"""Webhook notifications (Slack-compatible) on drift found, apply failed and recovered; rate-limited.

`Notifier.run_finished` decides which events a finished run gives, holds back what the rate limit says, and
queues the rest; one background thread posts them. A run never waits for the webhook and never sees its errors:
the queue is bounded (the oldest message is dropped when the webhook is slow or down), and a failed post is
logged once per kind of failure, without the URL (a Slack webhook URL is itself a credential).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from syncd.daemon.notify_text import (
    Event,
    Streak,
    Suppressed,
    drift_text,
    failed_text,
    recovered_text,
)
from syncd.daemon.outcome import RunOutcome, RunResult
from syncd.secret import REDACTOR

log = structlog.get_logger(__name__)

Post = Callable[[str, bytes, float], int]
DEFAULT_QUEUE_SIZE = 100
_FAILING = (RunResult.FAILED, RunResult.ERROR)


def post_json(url: str, body: bytes, timeout: float) -> int:
    """POST `body` as JSON; the HTTP status. Raises OSError (refused, timeout, DNS) when there is no answer."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        with contextlib.closing(error):
            return int(error.code)


def failure_kind(error: BaseException) -> str:
    """A failed post in a few words that hold no URL and nothing the server sent: "timeout", "refused", a class."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError):
        return "timeout"
    if isinstance(reason, ConnectionRefusedError):
        return "refused"
    return type(reason).__name__ if isinstance(reason, BaseException) else type(error).__name__


def register_webhook_url(url: str) -> None:
    """The URL, and each part of its path and query, become values the redactor hides (the second line of defence:
    nothing here prints them)."""
    REDACTOR.add(url)
    parts = urllib.parse.urlsplit(url)
    pieces = [parts.path, parts.query, *parts.path.split("/"), *urllib.parse.parse_qs(parts.query).values()]
    for piece in pieces:
        for value in [piece] if isinstance(piece, str) else piece:
            if value:
                REDACTOR.add(value)


@dataclass(frozen=True)
class Message:
    sync: str
    event: Event
    run_id: str
    text: str


@dataclass
class _Limit:
    """The rate limit's memory for one (sync, event)."""

    sent_at: float | None = None  # the clock's time when the last message went out
    sent_for: datetime | None = None  # when the run it was about finished, as people read it
    suppressed: int = 0


@dataclass
class _SyncState:
    failing: bool = False
    failure_sent: bool = False  # a failure message of the current streak was queued: its recovery always is
    streak_runs: int = 0
    streak_since: datetime | None = None


class Notifier:
    """Notifications for one daemon (`instance`), posted to one webhook at most once per (sync, event) per
    `min_interval` seconds of `clock`. Thread-safe: several syncs' runs may finish at once."""

    def __init__(
        self,
        url: str,
        *,
        instance: str,
        min_interval: float = 300.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        post: Post | None = None,
        max_queue: int = DEFAULT_QUEUE_SIZE,
        counted: Callable[[str, int], None] | None = None,
    ) -> None:
        """`counted(result, n)` is told of every message posted ("sent"), failed ("failed") or dropped unsent
        ("dropped"): the daemon's metrics."""
        register_webhook_url(url)
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("the notification webhook must be an http or https URL")
        if max_queue < 1:
            raise ValueError("the notification queue must hold at least one message")
        self._url = url
        self.instance = instance
        self.min_interval = min_interval
        self.timeout = timeout
        self._clock = clock
        self._post = post or post_json
        self._state_lock = threading.Lock()
        self._syncs: dict[str, _SyncState] = {}
        self._limits: dict[tuple[str, Event], _Limit] = {}
        self._queue: deque[Message] = deque()
        self._max_queue = max_queue
        self._changed = threading.Condition()
        self._in_flight = False
        self._closing = False
        self._stopping = False
        self._counted = counted or (lambda result, n: None)
        # Messages posted, failed posts, messages dropped unsent.
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._dropped_unreported = 0
        self._failure_kinds_logged: set[str] = set()
        self._drop_logged = False
        self._thread = threading.Thread(target=self._send_loop, name="syncd-notify", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"Notifier(instance={self.instance!r}, min_interval={self.min_interval!r})"

    def run_finished(self, outcome: RunOutcome) -> None:
        """Queue what `outcome` gives; returns at once, and never raises."""
        try:
            with self._state_lock:
                messages = self._messages(outcome)
            for message in messages:
                self._enqueue(message)
        except Exception as error:  # a notification must never fail a run
            with contextlib.suppress(Exception):
                sync = getattr(outcome, "sync", None)
                log.error("notification not queued", sync=sync, error_class=type(error).__name__)

    def close(self, timeout: float = 5.0) -> None:
        """Post what is queued for up to `timeout` seconds, drop the rest, and stop the sender thread."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._closing = True
            while (self._queue or self._in_flight) and (left := deadline - time.monotonic()) > 0:
                self._changed.wait(left)
            if self._queue:
                self._drop(len(self._queue))
                self._queue.clear()
            self._stopping = True
            self._changed.notify_all()
        self._thread.join(max(0.0, deadline - time.monotonic()))

    # What a run gives.

    def _messages(self, outcome: RunOutcome) -> list[Message]:
        state = self._syncs.setdefault(outcome.sync, _SyncState())
        if outcome.result in _FAILING:
            if not state.failing:
                state.failing, state.failure_sent = True, False
                state.streak_runs, state.streak_since = 0, outcome.finished_at
            state.streak_runs += 1
            suppressed = self._allow(outcome, Event.FAILED)
            if suppressed is None:
                return []
            state.failure_sent = True
            return [self._message(outcome, Event.FAILED, failed_text(outcome, self.instance, suppressed))]
        messages = []
        if state.failing:
            if state.failure_sent and state.streak_since is not None:
                streak = Streak(state.streak_runs, state.streak_since)
                messages.append(self._message(outcome, Event.RECOVERED, recovered_text(outcome, self.instance, streak)))
                # The recovery counted the failed runs held back; the next failure message need not count them too.
                self._limits.setdefault((outcome.sync, Event.FAILED), _Limit()).suppressed = 0
            state.failing, state.failure_sent, state.streak_runs = False, False, 0
        if outcome.result is RunResult.DRIFT:
            suppressed = self._allow(outcome, Event.DRIFT)
            if suppressed is not None:
                messages.append(self._message(outcome, Event.DRIFT, drift_text(outcome, self.instance, suppressed)))
        return messages

    def _allow(self, outcome: RunOutcome, event: Event) -> Suppressed | None:
        """None when the rate limit holds this message back (it is counted); else what it held back before it."""
        limit = self._limits.setdefault((outcome.sync, event), _Limit())
        now = self._clock()
        if limit.sent_at is not None and now - limit.sent_at < self.min_interval:
            limit.suppressed += 1
            return None
        held = Suppressed(limit.suppressed, limit.sent_for or outcome.finished_at)
        limit.sent_at, limit.sent_for, limit.suppressed = now, outcome.finished_at, 0
        return held

    def _message(self, outcome: RunOutcome, event: Event, text: str) -> Message:
        return Message(sync=outcome.sync, event=event, run_id=outcome.run_id, text=text)

    # The queue and its sender.

    def _enqueue(self, message: Message) -> None:
        with self._changed:
            if self._closing:
                self._drop(1)
                return
            if len(self._queue) >= self._max_queue:
                self._queue.popleft()
                self._drop(1)
            self._queue.append(message)
            self._changed.notify_all()

    def _drop(self, count: int) -> None:
        self.dropped += count
        self._counted("dropped", count)
        self._dropped_unreported += count
        if not self._drop_logged:
            self._drop_logged = True
            log.warning("notifications dropped: the webhook is slow or down", dropped=self.dropped)

    def _send_loop(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._stopping:
                    self._changed.wait()
                if not self._queue:
                    return
                message = self._queue.popleft()
                dropped = self._dropped_unreported
                self._in_flight = True
            try:
                self._send(message, dropped)
            except Exception as error:  # the sender thread outlives anything one message does
                with contextlib.suppress(Exception):
                    log.error("notification not sent", sync=message.sync, error_class=type(error).__name__)
            finally:
                with self._changed:
                    self._in_flight = False
                    self._changed.notify_all()

    def _send(self, message: Message, dropped: int) -> None:
        text = message.text
        if dropped:
            plural = "" if dropped == 1 else "s"
            text += f"\n({dropped} earlier notification{plural} dropped: the webhook was slow or down)"
        body = json.dumps(REDACTOR.redact_tree({"text": text})).encode("utf-8")
        try:
            status = self._post(self._url, body, self.timeout)
        except Exception as error:  # a failed post is logged, never raised
            self._failed(message, failure_kind(error))
            return
        if not 200 <= status < 300:
            self._failed(message, f"HTTP {status}")
            return
        self._counted("sent", 1)
        with self._changed:
            self.sent += 1
            self._dropped_unreported -= dropped
            recovered = bool(self._failure_kinds_logged)
            self._failure_kinds_logged.clear()
            self._drop_logged = False
        if recovered:
            log.info("notifications delivered again", failed=self.failed, dropped=self.dropped)

    def _failed(self, message: Message, kind: str) -> None:
        self._counted("failed", 1)
        with self._changed:
            self.failed += 1
            first = kind not in self._failure_kinds_logged
            self._failure_kinds_logged.add(kind)
        if first:
            fields = {"kind": kind, "sync": message.sync, "notification": str(message.event), "run_id": message.run_id}
            log.warning("notification not delivered", **fields)
