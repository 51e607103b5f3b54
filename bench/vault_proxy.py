"""A counting reverse proxy on loopback in front of an OpenBao server: the Vault scenario's server-side count.

OpenBao refuses to enable an audit device through the API, and a count inside the client would depend on how the
connector is built, so the bench puts this proxy between syncd and the server and gives syncd the proxy's address.
It counts each request as `METHOD kind` (`GET secret/data`, `LIST secret/metadata`, `GET auth/token/lookup-self`)
and passes it on unchanged over one kept-alive connection per client connection.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Headers that belong to one connection, not to the request (RFC 9110, 7.6.1), and the body length we set again.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "content-length"}
)
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The KV mount: its requests are counted by mount and endpoint (`secret/data`), not by secret.
KV_MOUNT = "secret"


def operation(method: str, target: str) -> str:
    """`METHOD kind` for a request line's method and target; `?list=true` on a GET is a LIST."""
    url = urlsplit(target)
    path = url.path.removeprefix("/v1/")
    if method == "GET" and parse_qs(url.query).get("list") == ["true"]:
        method = "LIST"
    if path.startswith(f"{KV_MOUNT}/"):
        path = "/".join(path.split("/")[:2])
    return f"{method} {path}"


class CountingProxy:
    """Counts and forwards every request to `upstream` (`http://127.0.0.1:PORT`); `address` is its own URL."""

    def __init__(self, upstream: str) -> None:
        upstream_url = urlsplit(upstream)
        if upstream_url.scheme != "http" or upstream_url.hostname is None or upstream_url.port is None:
            raise ValueError(f"the proxy forwards to a plain http://host:port, not {upstream!r}")
        self._calls: Counter[str] = Counter()
        self._writes = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, upstream_url.hostname, upstream_url.port))
        self._server.daemon_threads = True
        self.address = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def record(self, method: str, target: str) -> None:
        kind = operation(method, target)
        with self._lock:
            self._calls[kind] += 1
            if method in _WRITE_METHODS and not kind.split(" ", 1)[1].startswith("auth/"):
                self._writes += 1

    # CallCounter: writes are the requests that change stored state (a login or token renewal under auth/ is not).

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._writes = 0

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self._calls)

    def writes(self) -> int:
        with self._lock:
            return self._writes


def _handler(proxy: CountingProxy, host: str, port: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Small writes go out at once, and an answer's head and body in one write: otherwise Nagle's algorithm and
        # delayed acknowledgements hold each answer back for tens of milliseconds.
        disable_nagle_algorithm = True
        wbufsize = 64 * 1024
        upstream: http.client.HTTPConnection | None = None

        def _forward(self) -> None:
            proxy.record(self.command, self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            answer, data = self._send_upstream(body, headers)
            self.send_response_only(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

        def _send_upstream(self, body: bytes | None, headers: dict[str, str]) -> tuple[Any, bytes]:
            # A kept-alive connection the server closed meanwhile fails once; a new one is tried then.
            for attempt in (1, 2):
                if self.upstream is None:
                    self.upstream = http.client.HTTPConnection(host, port, timeout=60)
                    self.upstream.connect()
                    self.upstream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                try:
                    self.upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = self.upstream.getresponse()
                    return answer, answer.read()
                except (ConnectionError, http.client.HTTPException):
                    self.upstream.close()
                    self.upstream = None
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_LIST = _forward

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
