"""The fake Kubernetes API server's HTTP side: which URL names which resource and verb, and the threaded server.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from tests.fakes import kube_status
from tests.fakes.http_server import TrackingServer
from tests.fakes.kube_api import Operation
from tests.fakes.kube_objects import NAMESPACE, RESOURCES, Resource

# (method, request target, headers, body) -> (status, extra headers, JSON body)
HandleRequest = Callable[[str, str, Any, bytes], tuple[int, dict[str, str], Any]]

_RESOURCE_PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"(?:/namespaces/(?P<namespace>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?/?$"
)


def json_body(body: bytes, optional: bool = False) -> Any:
    if optional and not body.strip():
        return {}
    try:
        return json.loads(body)
    except ValueError as error:
        raise kube_status.bad_request(f"couldn't get version/kind; json parse error: {error}") from None


@dataclass(frozen=True)
class Route:
    resource: Resource
    namespace: str | None
    name: str


def route(raw_path: str) -> Route:
    match = _RESOURCE_PATH.match(raw_path)
    if match is None:
        raise kube_status.not_found_path()
    group = match["group"] or ""
    version = match["core"] or match["version"]
    if match["plural"] == NAMESPACE.plural and not match["namespace"] and not group:
        return Route(NAMESPACE, None, unquote(match["name"] or ""))
    resource = RESOURCES.get(match["plural"])
    if resource is None or resource.group != group or resource.version != version:
        raise kube_status.not_found_path()
    namespace = unquote(match["namespace"]) if match["namespace"] else None
    return Route(resource, namespace, unquote(match["name"] or ""))


_ITEM_VERBS = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def operation(method: str, route: Route, query: dict[str, str]) -> Operation:
    """The verb RBAC checks for this request (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go)."""
    if route.resource is NAMESPACE:
        if method != "GET":
            raise kube_status.method_not_allowed(method)
        if route.name:  # RequestInfo takes a namespace's name as the request's namespace
            return Operation("get", NAMESPACE, route.name, route.name)
        return Operation("watch" if query.get("watch") in ("true", "1") else "list", NAMESPACE, None, "")
    if route.name:
        verb = _ITEM_VERBS.get(method)
        if verb is None or route.namespace is None:
            raise kube_status.method_not_allowed(method)
    elif method == "GET":
        verb = "watch" if query.get("watch") in ("true", "1") else "list"
    elif method == "POST" and route.namespace is not None:
        verb = "create"
    elif method == "DELETE" and route.namespace is not None:
        verb = "deletecollection"
    else:
        raise kube_status.method_not_allowed(method)
    return Operation(verb, route.resource, route.namespace, route.name)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    server: Server
    timeout = 60  # an idle kept-alive connection's thread ends after this

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.handle(self.command, self.path, self.headers, body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes: without this, Nagle's algorithm holds the body back for the client's
        # delayed ACK (40 ms a request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(TrackingServer):
    block_on_close = False

    def __init__(self, address: tuple[str, int], handle: HandleRequest) -> None:
        self.handle = handle
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (or a connection `close_connections` ended) is no error of the server's.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def stop(self) -> None:
        """End `serve_forever` now rather than at its next poll, and close every kept-alive connection."""
        stopper = threading.Thread(target=self.shutdown, name="kube-fake-stop")
        stopper.start()
        # A listening socket shut down reads as ready: the serving loop wakes, sees the stop asked, and returns.
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)
        stopper.join()
        self.close_connections()
