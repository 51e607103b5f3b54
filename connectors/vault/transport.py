"""The HTTP transport of the connector's own hvac client: one urllib3 pool per connection, set up once from the
options, reading nothing from the environment.

hvac sends every request through `session.request(...)`. A requests Session would merge its settings, cookies and
hooks, and look up proxies, CA bundles and .netrc in the environment, anew for every request, then build a cookie
jar from every answer: most of syncd's CPU per Vault request. `Transport` takes the same call and answers with the
fields hvac and the connection read (`status_code`, `ok`, `headers`, `text`, `json()`); a failure is raised as the
requests exception connectors/vault/errors.py translates. Each request is sent once (no retries: the core's policy
is the only retry layer); redirects (a standby node sending the client to the active one) are followed.
"""

from __future__ import annotations

import json as jsonlib
import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import certifi
import requests
import urllib3
import urllib3.exceptions

# Connection errors, timeouts and errors reading the answer are never retried; up to 5 redirects are followed.
_ONCE = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=5, raise_on_redirect=False)
_NO_REDIRECT = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=0, raise_on_redirect=False)


class Answer:
    """One HTTP answer, as much of a requests Response as hvac reads."""

    __slots__ = ("content", "headers", "status_code", "url")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes, url: str) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.url = url

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class Transport:
    """What hvac calls a session: `request(...)` and `close()`, over a urllib3 pool of `pool_size` connections.

    `verify` is False (no TLS verification), True (certifi's CA bundle, as requests would use) or a CA file or
    folder; `cert` a client certificate file, or a (certificate, key) pair."""

    def __init__(self, *, verify: bool | str, cert: str | tuple[str, str] | None, pool_size: int) -> None:
        # requests' attribute names, which hvac's adapter reads from a session it is given.
        self.verify = verify
        self.cert = cert
        self.proxies: dict[str, str] = {}
        self.hooks: dict[str, list[Callable[..., Any]]] = {"response": []}
        tls: dict[str, Any] = {"cert_reqs": "CERT_NONE"} if verify is False else {"cert_reqs": "CERT_REQUIRED"}
        if verify is True:
            tls["ca_certs"] = certifi.where()
        elif isinstance(verify, str):
            tls["ca_cert_dir" if os.path.isdir(verify) else "ca_certs"] = verify
        if isinstance(cert, tuple):
            tls["cert_file"], tls["key_file"] = cert
        elif cert:
            tls["cert_file"] = cert
        self._pool = urllib3.PoolManager(num_pools=4, maxsize=pool_size, retries=_ONCE, **tls)

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        allow_redirects: bool = True,
        timeout: float | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        **_settings: Any,  # cert, verify, proxies: fixed when the transport was built
    ) -> Answer:
        sent = dict(headers or {})
        body: bytes | None = None
        if json is not None:
            body = jsonlib.dumps(json).encode()
            sent["Content-Type"] = "application/json"
        elif data is not None:
            body = data if isinstance(data, bytes) else str(data).encode()
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        try:
            answer = self._pool.request(
                method.upper(),
                url,
                body=body,
                headers=sent,
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                retries=_ONCE if allow_redirects else _NO_REDIRECT,
            )
        except urllib3.exceptions.MaxRetryError as exc:
            raise _as_requests_error(exc.reason or exc) from None
        except urllib3.exceptions.HTTPError as exc:
            raise _as_requests_error(exc) from None
        result = Answer(answer.status, answer.headers, answer.data, url)
        for hook in self.hooks["response"]:
            hook(result)
        return result

    def close(self) -> None:
        self._pool.clear()


def _as_requests_error(exc: BaseException) -> requests.exceptions.RequestException:
    """The requests exception a requests Session would have raised for urllib3's `exc` (its text kept, which names
    the server and the failure, never a value)."""
    if isinstance(exc, urllib3.exceptions.SSLError):
        return requests.exceptions.SSLError(str(exc))
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # a subclass of ConnectTimeoutError
        return requests.exceptions.ConnectionError(str(exc))
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return requests.exceptions.ConnectTimeout(str(exc))
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return requests.exceptions.ReadTimeout(str(exc))
    if isinstance(exc, urllib3.exceptions.ProtocolError | OSError):
        return requests.exceptions.ConnectionError(str(exc))
    return requests.exceptions.RequestException(str(exc))
