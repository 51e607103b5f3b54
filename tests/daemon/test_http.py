"""The daemon's HTTP endpoints over real HTTP on a free loopback port, against a fake DaemonView."""

from __future__ import annotations

import json
import logging
import socket

import pytest
import structlog

from syncd.daemon.http import TRIGGER_OFF, HttpServer
from syncd.daemon.metrics import DaemonMetrics
from syncd.errors import ConfigError
from syncd.listen_address import parse_listen
from tests.daemon.http_support import Answer, Daemon, FakeView, daemon, fetch
from tests.leakscan import assert_no_leaks, no_redactor

__all__ = ["daemon", "no_redactor"]

TOKEN = "t0ken-for-tests"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_of(answer: Answer) -> str:
    """The one sentence of a JSON error body."""
    assert answer.headers["Content-Type"] == "application/json"
    document = json.loads(answer.body)
    assert list(document) == ["error"]
    sentence = document["error"]
    assert sentence and "\n" not in sentence
    return sentence


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_200_with_json_when_well(daemon: Daemon, path: str) -> None:
    """/healthz and /readyz answer 200 and a small JSON document while the view says all is well."""
    answer = daemon.get(path)
    assert answer.status == 200
    assert json.loads(answer.body)["status"] == "ok"


def test_probes_answer_503_when_not_alive_or_not_ready(daemon: Daemon) -> None:
    """A stopped scheduler fails /healthz and a daemon without a manifest fails /readyz, each with 503 and JSON."""
    daemon.view.alive = False
    daemon.view.ready = False
    health, ready = daemon.get("/healthz"), daemon.get("/readyz")
    assert (health.status, ready.status) == (503, 503)
    assert json.loads(health.body) == {"status": "unavailable", "scheduler": "stopped"}
    assert json.loads(ready.body) == {"status": "unavailable", "manifest": "not loaded"}


def test_a_probes_status_follows_its_verdict_not_its_details(daemon: Daemon) -> None:
    """A detail named "status" cannot make a failing probe's body say "ok"."""
    daemon.view.health = lambda: (False, {"status": "ok", "scheduler": "stopped"})  # type: ignore[method-assign]
    answer = daemon.get("/healthz")
    assert (answer.status, json.loads(answer.body)["status"]) == (503, "unavailable")


def test_status_is_the_views_document_as_json(daemon: Daemon) -> None:
    """/v1/status is the service's document, as JSON."""
    daemon.view.document = {"syncs": {"app": {"last_run": {"run_id": "r1", "result": "ok"}}}}
    answer = daemon.get("/v1/status")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert json.loads(answer.body) == daemon.view.document


def test_the_trigger_with_the_token_queues_a_run(daemon: Daemon) -> None:
    """POST /v1/syncs/app/run with the right bearer token answers 202 and the view is asked to run app."""
    answer = daemon.post("/v1/syncs/app/run", bearer(TOKEN))
    assert answer.status == 202
    assert json.loads(answer.body) == {"sync": "app", "result": "accepted"}
    assert daemon.view.triggered == ["app"]


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("wrong-token"), bearer(TOKEN + "x"), bearer(TOKEN[:-1]), {"Authorization": f"Basic {TOKEN}"}],
    ids=["missing", "wrong", "longer", "shorter", "not-bearer"],
)
def test_the_trigger_without_the_right_token_is_refused(daemon: Daemon, headers: dict[str, str]) -> None:
    """Without the right bearer token the trigger answers 401 with WWW-Authenticate: Bearer and runs nothing."""
    answer = daemon.post("/v1/syncs/app/run", headers)
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Bearer" in error_of(answer)
    assert daemon.view.triggered == []


def test_a_gitlab_webhook_token_is_taken_like_a_bearer_token(daemon: Daemon) -> None:
    """GitLab's X-Gitlab-Token header carries the token of a webhook: the right one runs, a wrong one does not, and
    a bearer header, when sent, is the one checked."""
    assert daemon.post("/v1/syncs/app/run", {"X-Gitlab-Token": "wrong-token"}).status == 401
    assert daemon.post("/v1/syncs/app/run", {**bearer("wrong-token"), "X-Gitlab-Token": TOKEN}).status == 401
    assert daemon.view.triggered == []
    assert daemon.post("/v1/syncs/app/run", {"X-Gitlab-Token": TOKEN}).status == 202
    assert daemon.view.triggered == ["app"]


def test_the_token_is_read_per_request(daemon: Daemon) -> None:
    """A reload that changes the token takes effect at once: the old one is refused, the new one accepted."""
    daemon.token[0] = "rotated-token"
    assert daemon.post("/v1/syncs/app/run", bearer(TOKEN)).status == 401
    assert daemon.post("/v1/syncs/app/run", bearer("rotated-token")).status == 202


@pytest.mark.parametrize("configured", [None, ""])
def test_without_a_token_the_trigger_is_off(daemon: Daemon, configured: str | None) -> None:
    """With no trigger token configured every trigger answers 403 saying how to turn it on, whatever is sent."""
    daemon.token[0] = configured
    answer = daemon.post("/v1/syncs/app/run", bearer(""))
    assert answer.status == 403
    assert error_of(answer) == TRIGGER_OFF
    assert "daemon.trigger_token" in TRIGGER_OFF
    assert daemon.view.triggered == []


@pytest.mark.parametrize(
    ("change", "sync", "status"),
    [({}, "nope", 404), ({"leader": False}, "app", 409), ({"ready": False}, "app", 503)],
    ids=["unknown-sync", "not-leader", "not-ready"],
)
def test_the_trigger_answers_what_the_daemon_can_do(
    daemon: Daemon, change: dict[str, bool], sync: str, status: int
) -> None:
    """An unknown sync is 404, a follower 409 and a daemon not ready 503, each with one sentence."""
    for name, setting in change.items():
        setattr(daemon.view, name, setting)
    answer = daemon.post(f"/v1/syncs/{sync}/run", bearer(TOKEN))
    assert answer.status == status
    error_of(answer)
    assert daemon.view.triggered == []


def test_an_unknown_sync_is_not_revealed_without_the_token(daemon: Daemon) -> None:
    """Without the token, a sync that does not exist gets the same 401 as one that does."""
    assert daemon.post("/v1/syncs/nope/run").status == 401


def test_a_webhook_body_is_ignored(daemon: Daemon) -> None:
    """A GitLab push event's JSON body, large or not JSON at all, does not change the answer."""
    body = b'{"object_kind": "push", "commits": [' + b'{"id": "0123456789abcdef"},' * 20000 + b"{}]}"
    headers = {**bearer(TOKEN), "Content-Type": "application/json", "X-Gitlab-Event": "Push Hook"}
    assert daemon.post("/v1/syncs/app/run", headers, body).status == 202
    assert daemon.post("/v1/syncs/app/run", bearer(TOKEN), b"\xff not json").status == 202


def test_get_on_the_trigger_is_405_and_unknown_paths_404(daemon: Daemon) -> None:
    """GET on the trigger is 405 naming the allowed method; unknown paths and methods get 404 or 405, as JSON."""
    wrong_method = daemon.get("/v1/syncs/app/run", bearer(TOKEN))
    assert wrong_method.status == 405
    assert "POST" in wrong_method.headers["Allow"]
    error_of(wrong_method)
    assert daemon.post("/metrics").status == 405
    for path in ("/", "/v1/syncs/app", "/v1/syncs/a/b/run", "/v1/status/extra", "/admin"):
        answer = daemon.get(path)
        assert answer.status == 404, path
        error_of(answer)
    assert daemon.view.triggered == []


def test_head_on_a_probe_answers_without_a_body(daemon: Daemon) -> None:
    """HEAD /healthz (as some probes send) answers 200."""
    assert fetch(daemon.address, "HEAD", "/healthz").status == 200


def test_a_failing_view_is_a_500_with_one_sentence(daemon: Daemon) -> None:
    """An exception in the service becomes a 500 whose sentence holds nothing of the exception."""

    def broken() -> dict[str, object]:
        raise RuntimeError("internal detail")

    daemon.view.status = broken  # type: ignore[method-assign]
    answer = daemon.get("/v1/status")
    assert answer.status == 500
    assert "internal detail" not in error_of(answer)


def test_the_token_and_planted_values_never_show(
    daemon: Daemon, no_redactor: None, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Neither the trigger token nor a value sent to the daemon shows in any answer or in any log line, even at
    debug level and with the redactor off."""
    planted = "pl4nted-s3cret-sent-by-a-client"
    structlog.configure(
        processors=[structlog.stdlib.render_to_log_kwargs], logger_factory=structlog.stdlib.LoggerFactory()
    )
    caplog.set_level(logging.DEBUG)
    try:
        answers = [
            daemon.post("/v1/syncs/app/run", bearer(TOKEN), planted.encode()),
            daemon.post("/v1/syncs/app/run", bearer(planted)),
            daemon.post(f"/v1/syncs/app/run?token={planted}", {"X-Secret": planted}),
            daemon.get(f"/healthz?{planted}"),
            daemon.get("/v1/status"),
            daemon.get("/metrics"),
            daemon.post("/v1/syncs/nope/run", bearer(TOKEN)),
            daemon.get(f"/nowhere?q={planted}"),
        ]
        raw = raw_request(daemon.address, f"GARBAGE {planted} {TOKEN}\r\n\r\n".encode())
    finally:
        structlog.reset_defaults()
    captured = capsys.readouterr()
    assert [a.status for a in answers] == [202, 401, 401, 200, 200, 200, 404, 404]
    assert caplog.records, "the access log was captured"
    texts = {f"answer {n}": f"{a.headers}\n{a.text}" for n, a in enumerate(answers)}
    texts |= {"raw answer": raw, "stdout": captured.out, "stderr": captured.err, "log": caplog.text}
    texts["log records"] = "\n".join(repr(record.__dict__) for record in caplog.records)
    assert_no_leaks({"token": TOKEN, "planted": planted}, texts=texts)


def raw_request(address: tuple[str, int], request: bytes) -> str:
    with socket.create_connection(address, timeout=10) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode("latin-1")


def test_an_address_in_use_is_one_sentence_naming_it() -> None:
    """Starting on an address another program listens on fails with a ConfigError naming the address."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HttpServer(FakeView(), DaemonMetrics(), "127.0.0.1", port, lambda: None)
        with pytest.raises(ConfigError) as caught:
            server.start()
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "another program" in message
    assert "\n" not in message


def test_an_address_not_on_this_machine_is_one_sentence() -> None:
    """An address no interface has (TEST-NET-1) fails with a ConfigError, not werkzeug's exit."""
    server = HttpServer(FakeView(), DaemonMetrics(), "192.0.2.1", 0, lambda: None)
    with pytest.raises(ConfigError, match=r"192\.0\.2\.1:0"):
        server.start()


def test_the_server_stops_and_frees_its_port() -> None:
    """After stop the port is free again: a new server binds it."""
    first = HttpServer(FakeView(), DaemonMetrics(), "127.0.0.1", 0, lambda: None)
    first.start()
    address = first.address
    assert fetch(address, "GET", "/healthz").status == 200
    first.stop()
    second = HttpServer(FakeView(), DaemonMetrics(), *address, lambda: None)
    second.start()
    try:
        assert second.address == address
    finally:
        second.stop()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9180", ("127.0.0.1", 9180)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("[::1]:9180", ("::1", 9180)),
        (":9180", ("0.0.0.0", 9180)),
        ("syncd.internal:9180", ("syncd.internal", 9180)),
    ],
)
def test_listen_addresses_parse(text: str, expected: tuple[str, int]) -> None:
    """HOST:PORT, [IPv6]:PORT and :PORT are understood."""
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["9180", "::1:9180", "[nope]:9180", "host:", "host:65536", "host:-1", "a b:1", ""])
def test_bad_listen_addresses_are_one_sentence(text: str) -> None:
    """Anything else is a ValueError of one sentence quoting what was given."""
    with pytest.raises(ValueError, match="is not HOST:PORT") as caught:
        parse_listen(text)
    assert "\n" not in str(caught.value)
