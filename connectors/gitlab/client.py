"""The long-lived connection to one GitLab instance (what `connect` returns): one `gitlab.Gitlab` per target.

Every HTTP request, each page of a listing included, goes out through the session's `request`, which takes a token
from the target's RateLimiter first and notes each error answer's `Retry-After` for the thread that made it.
python-gitlab retries nothing: `retry_transient_errors=False`, and every call passes `obey_rate_limit=False` (its
default would sleep on a 429 and try again itself), so the core's retry layer is the only one. The token is
registered with the redactor before it is sent. The session reads proxies from the environment as requests does
(HTTPS_PROXY, NO_PROXY); `ca_file`, when set, is the only CA bundle trusted.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar, overload

import gitlab
import gitlab.exceptions
import requests

from connectors.gitlab.address import Owner
from connectors.gitlab.errors import Operation, translate
from connectors.gitlab.options import GitLabTargetOptions
from syncd.connector import UNLIMITED, RateLimiter, retry_after_seconds
from syncd.errors import ConnectorError, PermanentError
from syncd.secret import Secret

T = TypeVar("T")
# Tells an error answer that is an outcome, not a failure (`errors.variable_missing`, `errors.already_taken`).
Expected = Callable[[gitlab.exceptions.GitlabError], bool]

# Passed to every python-gitlab call: no retry of its own, on a 429 either.
NO_RETRY: dict[str, Any] = {"obey_rate_limit": False, "max_retries": 0}


class _LimitedSession(requests.Session):
    """A session whose every request waits for the rate limiter, and which remembers the last error answer's
    `Retry-After` per thread."""

    def __init__(self, limiter: RateLimiter) -> None:
        super().__init__()
        self.limiter = limiter
        self.answers = threading.local()

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        # requests takes the method as bytes too; the operation is its name either way ("GET", never "B'GET'").
        name = method.decode("ascii", "replace") if isinstance(method, bytes) else method
        self.limiter.acquire(name.upper())
        self.answers.retry_after = None
        response = super().request(method, url, *args, **kwargs)
        if not response.ok:
            self.answers.retry_after = response.headers.get("Retry-After")
        return response


class GitLabClient:
    """A python-gitlab client for one target that raises only syncd's errors."""

    def __init__(
        self,
        target: str,
        options: GitLabTargetOptions,
        client: gitlab.Gitlab | None = None,
        limiter: RateLimiter = UNLIMITED,
    ) -> None:
        self.target = target
        self.options = options
        self.where = options.url
        self._ca_found = False
        token = options.token.get_secret_value()
        Secret(token)
        if client is None:
            self._session = _LimitedSession(limiter)
            client = gitlab.Gitlab(
                options.url,
                private_token=token,
                ssl_verify=options.ca_file or True,
                timeout=options.timeout,
                retry_transient_errors=False,
                keep_base_url=True,
                session=self._session,
            )
        else:
            session = client.session
            self._session = session if isinstance(session, _LimitedSession) else None  # type: ignore[assignment]
        self.gl = client

    @overload
    def call(self, fn: Callable[[gitlab.Gitlab], T], op: Operation) -> T: ...

    @overload
    def call(self, fn: Callable[[gitlab.Gitlab], T], op: Operation, expected: Expected) -> T | None: ...

    def call(self, fn: Callable[[gitlab.Gitlab], T], op: Operation, expected: Expected | None = None) -> T | None:
        """`fn(client)`; python-gitlab's and requests' errors come out as syncd's (see `errors`), except an error
        answer `expected` accepts (a variable absent, a key taken), which returns None."""
        self._check_ca_file()
        try:
            return fn(self.gl)
        except gitlab.exceptions.GitlabError as exc:
            if expected is not None and expected(exc):
                return None
            raise self.error(exc, op) from None
        except requests.exceptions.RequestException as exc:
            raise self.error(exc, op) from None

    def _check_ca_file(self) -> None:
        """Fail naming `ca_file` when it is missing (requests would raise a bare OSError naming no target at the first
        request); checked until it is found once, so a file mounted after syncd started is picked up."""
        ca_file = self.options.ca_file
        if self._ca_found or not ca_file:
            return
        if not os.path.exists(ca_file):
            raise PermanentError(f"ca_file {ca_file} does not exist", target=self.target)
        self._ca_found = True

    def error(self, exc: Exception, op: Operation) -> ConnectorError:
        answers = getattr(self._session, "answers", None)
        retry_after = retry_after_seconds(getattr(answers, "retry_after", None))
        return translate(
            exc, op, target=self.target, where=self.where, timeout=self.options.timeout, retry_after=retry_after
        )

    def variables(self, owner: Owner) -> Any:
        """The variables manager of a project or group; `lazy`: no request for the project or group itself."""
        if owner.kind == "instance":
            return self.gl.variables
        parent = self.gl.projects if owner.kind == "project" else self.gl.groups
        return parent.get(owner.path, lazy=True).variables

    def close(self) -> None:
        self.gl.session.close()
