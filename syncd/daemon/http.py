"""The daemon's HTTP endpoints: /healthz, /readyz, /metrics, /v1/status and the trigger POST /v1/syncs/{name}/run.

Served by werkzeug's threaded server on a background thread. The service answers through `DaemonView`; this module
only routes, checks the trigger's bearer token (in constant time) and writes JSON. Every error is a JSON body with
one sentence. A request body is never read (a webhook's JSON is not needed; werkzeug discards it after the answer,
and closes every connection). No log line holds a header, a query string or a body. docs/http-api.md describes it.
"""

from __future__ import annotations

import errno
import hmac
import json
import socket
import threading
from collections.abc import Callable, Iterable
from enum import StrEnum
from http import HTTPStatus
from typing import Any, Protocol

import structlog
from prometheus_client.exposition import choose_encoder
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from syncd.daemon.metrics import DaemonMetrics
from syncd.errors import ConfigError
from syncd.listen_address import show_address
from syncd.secret import REDACTOR

log = structlog.get_logger("syncd.daemon.http")

DEFAULT_LISTEN = "127.0.0.1:9180"
# A client that sends nothing for this long is dropped, so a slow one cannot hold a thread for ever.
CLIENT_TIMEOUT_SECONDS = 15
TRIGGER_OFF = (
    "the trigger is off: set daemon.trigger_token in the manifest (a ${env:...} or ${file:...} reference) to turn it on"
)


class TriggerAnswer(StrEnum):
    ACCEPTED = "accepted"  # a run of the sync is queued (or one is going on already)
    UNKNOWN_SYNC = "unknown_sync"
    NOT_LEADER = "not_leader"  # another replica holds the Lease and applies
    NOT_READY = "not_ready"  # no manifest loaded yet, or the leader state is not known yet


class DaemonView(Protocol):
    """What the HTTP endpoints ask the daemon's service."""

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Alive: the scheduler runs."""
        ...

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready: a manifest is loaded and the leader state is known."""
        ...

    def status(self) -> dict[str, Any]:
        """The /v1/status document."""
        ...

    def trigger(self, sync: str) -> TriggerAnswer:
        """Run `sync` now."""
        ...


_TRIGGER_STATUS = {
    TriggerAnswer.ACCEPTED: (202, None),
    TriggerAnswer.UNKNOWN_SYNC: (404, "the manifest has no sync named {sync!r}"),
    TriggerAnswer.NOT_LEADER: (409, "this replica is not the leader; another one applies, so trigger that one"),
    TriggerAnswer.NOT_READY: (503, "the daemon is not ready yet (no manifest loaded, or the leader state unknown)"),
}

_ROUTES = Map(
    [
        Rule("/healthz", endpoint="health", methods=["GET"]),
        Rule("/readyz", endpoint="readiness", methods=["GET"]),
        Rule("/metrics", endpoint="metrics", methods=["GET"]),
        Rule("/v1/status", endpoint="status", methods=["GET"]),
        Rule("/v1/syncs/<name>/run", endpoint="trigger", methods=["POST"]),
    ],
    strict_slashes=False,
    redirect_defaults=False,
)


class HttpServer:
    """The endpoints on `host:port`, served on a background thread from `start` to `stop`. `token` is called per
    request (a reload may change it); None or empty turns the trigger off."""

    def __init__(
        self, view: DaemonView, metrics: DaemonMetrics, host: str, port: int, token: Callable[[], str | None]
    ) -> None:
        self.view = view
        self.metrics = metrics
        self.host = host
        self.port = port
        self.token = token
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind now and serve on a background thread; an address that cannot be bound is a ConfigError naming it."""
        listening = _bind(self.host, self.port)
        try:
            self._server = make_server(
                self.host, self.port, self._app, threaded=True, request_handler=_QuietHandler, fd=listening.fileno()
            )
        finally:
            listening.close()  # the server holds its own duplicate of the socket
        # The poll interval bounds how long `stop` waits for the serving loop to notice.
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.1), name="syncd-http", daemon=True
        )
        self._thread.start()
        log.info("listening", address=show_address(*self.address))

    @property
    def address(self) -> tuple[str, int]:
        """The bound address: the real port when `port` was 0."""
        if self._server is None:
            raise RuntimeError("the HTTP server is not started")
        bound = self._server.server_address
        return str(bound[0]), int(bound[1])

    def stop(self) -> None:
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        return self._answer(request)(environ, start_response)

    def _answer(self, request: Request) -> Response:
        try:
            endpoint, arguments = _ROUTES.bind_to_environ(request.environ).match()
            if endpoint == "health":
                return _probe(*self.view.health())
            if endpoint == "readiness":
                return _probe(*self.view.readiness())
            if endpoint == "metrics":
                encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
                return Response(encoder(self.metrics.registry), headers={"Content-Type": content_type})
            if endpoint == "status":
                return _json(200, self.view.status())
            return self._trigger(request, arguments["name"])
        except MethodNotAllowed as exc:
            response = _error(405, f"{request.path} does not take {request.method}")
            response.headers["Allow"] = ", ".join(exc.valid_methods or ())
            return response
        except NotFound:
            return _error(404, "no such endpoint; see /v1/status, /metrics, /healthz and /readyz")
        except HTTPException as exc:
            return _error(exc.code or 400, "the request could not be understood")
        except Exception as exc:
            log.error("the HTTP endpoint failed", path=request.path, error_class=type(exc).__name__)
            return _error(500, "the daemon could not answer; its log says why")

    def _trigger(self, request: Request, sync: str) -> Response:
        token = self.token()
        if not token:
            return _error(403, TRIGGER_OFF)
        given = _bearer(request.headers.get("Authorization"))
        if given is None:
            # GitLab webhooks send their secret token in a header of their own.
            given = request.headers.get("X-Gitlab-Token")
        if not _token_matches(given, token):
            response = _error(
                401, "a valid trigger token is needed, as 'Authorization: Bearer <token>' (or GitLab's X-Gitlab-Token)"
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="syncd"'
            return response
        answer = self.view.trigger(sync)
        status, message = _TRIGGER_STATUS[TriggerAnswer(answer)]
        log.info("run requested over HTTP", sync=sync, answer=str(answer))
        if message is None:
            return _json(status, {"sync": sync, "result": str(answer)})
        return _error(status, message.format(sync=sync))


def _bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None without one."""
    scheme, _, given = (header or "").strip().partition(" ")
    return given.strip() if scheme.lower() == "bearer" else None


def _token_matches(given: str | None, token: str) -> bool:
    if given is None:
        return False
    # WSGI gives header text decoded as latin-1: back to the bytes that were sent.
    try:
        sent = given.strip().encode("latin-1")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(sent, token.encode("utf-8"))


def _probe(ok: bool, details: dict[str, Any]) -> Response:
    return _json(200 if ok else 503, {**details, "status": "ok" if ok else "unavailable"})


def _json(status: int, document: Any) -> Response:
    # The second line of defence, as for every other output: an error sentence in the status is free text.
    document = REDACTOR.redact_tree(document)
    body = json.dumps(document, default=str, sort_keys=True) + "\n"
    return Response(body, status=status, mimetype="application/json", headers={"Cache-Control": "no-store"})


def _error(status: int, sentence: str) -> Response:
    return _json(status, {"error": sentence})


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        listening.listen(128)
    except OSError as exc:
        listening.close()
        where = show_address(host, port)
        raise ConfigError(f"cannot listen on {where}: {_why(exc)} (--listen or daemon.listen)") from None
    return listening


def _why(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return "the host name does not resolve"
    if exc.errno == errno.EADDRINUSE:
        return "another program uses that address"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "not permitted (ports below 1024 need privileges)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "that address is not one of this machine's"
    return exc.strerror or type(exc).__name__


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler with our access log: method, path without the query, status; never a header."""

    timeout = CLIENT_TIMEOUT_SECONDS

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = getattr(self, "path", "").partition("?")[0]
        log.debug("http request", method=getattr(self, "command", None), path=path[:200], status=str(code))

    def log_error(self, format: str, *args: Any) -> None:
        # http.server's messages quote the raw request line, which may hold anything a client sent.
        log.debug("bad http request")

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own error page quotes the raw request line: answer one JSON sentence instead.
        self.log_error("")
        phrase = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Error"
        body = json.dumps({"error": f"the request was refused as not valid HTTP ({code} {phrase})"}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", None) != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)
