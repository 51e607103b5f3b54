"""A fake DaemonView, and plain HTTP requests to a daemon's endpoints on loopback."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from syncd.daemon.http import HttpServer, TriggerAnswer
from syncd.daemon.metrics import DaemonMetrics


@dataclass
class FakeView:
    """What the service would answer; `triggered` records the syncs asked for."""

    alive: bool = True
    ready: bool = True
    syncs: tuple[str, ...] = ("app",)
    leader: bool = True
    document: dict[str, Any] = field(default_factory=lambda: {"syncs": {"app": {"next_run": None}}})
    triggered: list[str] = field(default_factory=list)

    def health(self) -> tuple[bool, dict[str, Any]]:
        return self.alive, {"scheduler": "running" if self.alive else "stopped"}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        return self.ready, {"manifest": "loaded" if self.ready else "not loaded"}

    def status(self) -> dict[str, Any]:
        return self.document

    def trigger(self, sync: str) -> TriggerAnswer:
        if not self.ready:
            return TriggerAnswer.NOT_READY
        if sync not in self.syncs:
            return TriggerAnswer.UNKNOWN_SYNC
        if not self.leader:
            return TriggerAnswer.NOT_LEADER
        self.triggered.append(sync)
        return TriggerAnswer.ACCEPTED


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def fetch(
    address: tuple[str, int], method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> Answer:
    connection = http.client.HTTPConnection(*address, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


@dataclass
class Daemon:
    view: FakeView
    metrics: DaemonMetrics
    server: HttpServer
    token: list[str | None]

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return fetch(self.address, "GET", path, headers)

    def post(self, path: str, headers: dict[str, str] | None = None, body: bytes | None = None) -> Answer:
        return fetch(self.address, "POST", path, headers, body)


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    """The endpoints on a free loopback port, over a fake view; `daemon.token[0]` is the trigger token."""
    view, metrics, token = FakeView(), DaemonMetrics(), ["t0ken-for-tests"]
    server = HttpServer(view, metrics, "127.0.0.1", 0, lambda: token[0])
    server.start()
    try:
        yield Daemon(view, metrics, server, token)
    finally:
        server.stop()
