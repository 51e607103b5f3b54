"""The long-lived connection to Vault of a source or a sink (what `connect` returns). It lives as long as the
process, so the token's lifetime is tracked against a clock (injectable, for tests) and the token renewed, or the
login repeated, as docs/connectors.md (Login) describes.

Every request goes out through `_send`: the rate limiter, then a free slot. hvac sends each request once
(`max_retries=0`), so the core's policy is the only retry layer. Every credential is registered with the redactor
before it is sent; hvac's reading of VAULT_TOKEN, VAULT_ADDR and VAULT_CLIENT_CERT is switched off, since the
manifest says where each credential comes from. The client's transport (`transport.Transport`, urllib3 under hvac)
is set up once from the options and reads nothing from the environment (no proxy variables, CA bundle or .netrc,
which a requests Session would look up again for every request).

Work fanned out over paths (listings, reads) runs on the connection's one pool of `MAX_IN_FLIGHT` threads
(`map`), made on first use and kept for the connection's life, whatever the number of runs and callers.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import requests

from connectors.vault.errors import Denied, ErrorContext, Operation, translate, translate_login
from connectors.vault.options import KubernetesAuth, TokenAuth, VaultConnection
from connectors.vault.transport import Transport
from syncd.connector import UNLIMITED, RateLimiter, retry_after_seconds
from syncd.errors import PermanentError
from syncd.secret import Secret

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger("syncd.connectors.vault")

# Requests one connector has in flight at once, whatever the number of threads asking.
MAX_IN_FLIGHT = 8
# Renew (or log in again) once less than this share of the token's TTL remains.
RENEW_WHEN_LEFT = 1 / 3
# After a refused login, calls fail at once for this long instead of each trying (and being refused) again.
LOGIN_BACKOFF_SECONDS = 30.0
TOKEN_REFUSED = "authentication failed (method token): Vault refused the token; it is invalid, expired or revoked"


@dataclass
class _Lease:
    """What is known of the current token's lifetime, in clock seconds."""

    expires_at: float | None  # None: the token never expires (a root token)
    period: float  # the TTL it was granted at login or lookup
    renewable: bool
    warned: bool = False


class VaultClient:
    """An hvac client that keeps its token fresh and raises only syncd's errors."""

    def __init__(
        self,
        options: VaultConnection,
        client: hvac.Client | None = None,
        *,
        target: str | None = None,
        permanent: type[PermanentError] = PermanentError,
        clock: Callable[[], float] = time.monotonic,
        limiter: RateLimiter = UNLIMITED,
    ) -> None:
        self.options = options
        self.errors = ErrorContext(f"Vault at {options.address}", options.timeout, target, permanent)
        self._clock = clock
        self._limiter = limiter
        self._hvac = client if client is not None else build_hvac_client(options)
        if client is not None and options.namespace:
            client.adapter.namespace = options.namespace
        # The Retry-After of the last error answer each thread received (hvac's exceptions do not carry headers).
        self._answers = threading.local()
        self._hvac.adapter.session.hooks["response"].append(self._note_retry_after)
        self._lock = threading.Lock()
        self._lease: _Lease | None = None
        self._refused: tuple[PermanentError, float] | None = None
        # Bumped at every login, so threads that saw a 403 with an older token just retry.
        self._generation = 0
        self._slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        self._kv_version: int | None = None if options.kv_version == "auto" else options.kv_version
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        # KV v2 listings through OpenBao's `detailed-metadata` (every child's metadata with its name); False once
        # the server does not offer it or the policy denies it, for the connection's life.
        self.detailed_listing = True

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """`function` of each item, results in order, on the connection's pool; the first error is raised. Never
        call it from inside `function`: a task waiting for tasks of the same pool could wait for ever."""
        if len(items) <= 1:
            return [function(item) for item in items]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT, thread_name_prefix="syncd-vault")
            pool = self._pool
        # The caller's context (the daemon's run_id for the log) goes with the work.
        context = contextvars.copy_context()
        return list(pool.map(lambda item: context.copy().run(function, item), items))

    def call(self, fn: Callable[[hvac.Client], T], op: Operation) -> T:
        """`fn(client)` with a fresh token; hvac and requests errors come out as syncd's."""
        for attempt in (1, 2):
            generation = self._fresh_token()
            try:
                # Reported as "create or update", not "create|update": PromQL's =~ would read the '|' as an alternation.
                return self._send(fn, op.capability.replace("|", " or "))
            except hvac.exceptions.Forbidden as exc:
                if attempt == 1 and self._token_was_refused(generation):
                    continue
                if op.optional:
                    raise Denied() from None
                raise translate(exc, op, self.errors) from None
            except (hvac.exceptions.VaultError, OSError) as exc:
                raise translate(exc, op, self.errors, self._retry_after()) from None
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _send(self, fn: Callable[[hvac.Client], T], operation: str) -> T:
        """The one way a request goes out: after the rate limiter, within the in-flight bound."""
        self._limiter.acquire(operation)
        self._answers.retry_after = None
        with self._slots:
            return fn(self._hvac)

    def _note_retry_after(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._answers.retry_after = None if response.ok else response.headers.get("Retry-After")

    def _retry_after(self) -> float | None:
        """The seconds the last error answer's `Retry-After` asks to wait."""
        return retry_after_seconds(getattr(self._answers, "retry_after", None))

    def kv_version(self) -> int:
        """The mount's KV version: the `kv_version` option, or asked of Vault once."""
        if self._kv_version is None:
            mount = self.options.mount
            denied = (
                f"cannot tell the KV version of mount {mount!r}: there is no such mount, or no policy grants access "
                "below it; set kv_version to 1 or 2 to skip this check"
            )
            op = Operation("read", f"sys/internal/ui/mounts/{mount}", denied=denied)
            answer = self.call(lambda client: client.adapter.get(f"/v1/sys/internal/ui/mounts/{mount}"), op)
            data = answer.get("data") or {}
            if data.get("type") not in ("kv", "generic"):
                raise self.errors.fail(f"mount {mount!r} is a {data.get('type')!r} secrets engine, not KV")
            self._kv_version = 2 if str((data.get("options") or {}).get("version")) == "2" else 1
        return self._kv_version

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)
        self._hvac.adapter.close()

    # Token lifetime. Everything below runs with self._lock held.

    def _fresh_token(self) -> int:
        """Log in, renew or check the token as its lifetime requires; returns the login generation."""
        with self._lock:
            if self._lease is None:
                self._authenticate_anew()
                return self._generation
            lease = self._lease
            if lease.expires_at is None:
                return self._generation
            left = lease.expires_at - self._clock()
            if left > lease.period * RENEW_WHEN_LEFT:
                return self._generation
            if lease.renewable and left > 0 and self._renew(lease):
                return self._generation
            if not isinstance(self.options.auth, TokenAuth) or left <= 0:
                self._authenticate_anew()  # a new login, or for a token: does Vault still take it?
            elif not lease.warned:
                lease.warned = True
                log.warning("the Vault token expires in %ds and cannot be renewed; give syncd a new one", left)
            return self._generation

    def _authenticate_anew(self) -> None:
        """Log in (or look the token up) afresh, unless that was refused moments ago: then fail the same way
        without asking Vault."""
        self._lease = None
        if self._refused is not None and self._clock() < self._refused[1]:
            error = self._refused[0]
            raise type(error)(error.message, target=error.target, address=error.address) from None
        try:
            self._authenticate()
        except PermanentError as exc:
            self._refused = (exc, self._clock() + LOGIN_BACKOFF_SECONDS)
            raise

    def _authenticate(self) -> None:
        """Look the given token up, or log in with AppRole or Kubernetes."""
        self._check_tls_files()
        auth = self.options.auth
        if isinstance(auth, TokenAuth):
            token = auth.token.get_secret_value()
            Secret(token)
            self._hvac.token = token
            self._look_up_token()
            return
        try:
            if isinstance(auth, KubernetesAuth):
                jwt = self._service_account_token(auth)
                answer = self._send(
                    lambda client: client.auth.kubernetes.login(auth.role, jwt, mount_point=auth.mount_path), "login"
                )
            else:
                role_id, secret_id = auth.role_id.get_secret_value(), auth.secret_id.get_secret_value()
                Secret(role_id)
                Secret(secret_id)
                answer = self._send(
                    lambda client: client.auth.approle.login(role_id, secret_id, mount_point=auth.mount_path), "login"
                )
        except (hvac.exceptions.VaultError, OSError) as exc:
            raise translate_login(exc, auth.method, auth.mount_path, self.errors, self._retry_after()) from None
        granted = answer["auth"]
        Secret(granted["client_token"])
        self._lease = self._lease_of(granted["lease_duration"], granted["lease_duration"], granted["renewable"])
        self._generation += 1
        log.debug("logged in to Vault (method %s, ttl %ss)", auth.method, granted["lease_duration"])

    def _service_account_token(self, auth: KubernetesAuth) -> str:
        try:
            with open(auth.token_path, encoding="utf-8") as handle:
                jwt = handle.read().strip()
        except OSError as exc:
            raise self.errors.fail(
                f"authentication failed (method kubernetes at auth/{auth.mount_path}): cannot read the service "
                f"account token at {auth.token_path}: {exc.strerror}"
            ) from None
        Secret(jwt)
        return jwt

    def _look_up_token(self) -> None:
        """Learn the given token's lifetime; a refused token is an authentication error."""
        data = self._lookup_self()
        if data is None:
            raise self.errors.fail(TOKEN_REFUSED)
        left = data.get("ttl") or 0
        self._lease = self._lease_of(left, data.get("creation_ttl") or left, bool(data.get("renewable")))

    def _renew(self, lease: _Lease) -> bool:
        """Renew the token; False when the token must be replaced (a login method near its max TTL)."""
        try:
            granted = self._send(lambda client: client.auth.token.renew_self(), "renew token")["auth"]
        except (hvac.exceptions.Forbidden, hvac.exceptions.InvalidRequest):
            log.warning("the Vault token could not be renewed (method %s)", self.options.auth.method)
            lease.renewable = False
            return False
        except (hvac.exceptions.VaultError, OSError) as exc:
            raise translate_login(exc, self.options.auth.method, "token", self.errors, self._retry_after()) from None
        duration = granted["lease_duration"]
        if duration < lease.period * RENEW_WHEN_LEFT:
            # Capped by the token's max TTL: renewing again would not help.
            lease.expires_at, lease.renewable = self._clock() + duration, False
            return isinstance(self.options.auth, TokenAuth)
        self._lease = self._lease_of(duration, max(lease.period, duration), bool(granted["renewable"]))
        log.debug("renewed the Vault token (ttl %ss)", duration)
        return True

    def _token_was_refused(self, generation: int) -> bool:
        """After a 403: whether the token itself was refused, and a new one is ready for a retry."""
        with self._lock:
            if generation != self._generation:
                return True
            if self._lookup_self() is not None:
                return False
            if isinstance(self.options.auth, TokenAuth):
                raise self.errors.fail(TOKEN_REFUSED) from None
            self._authenticate_anew()
            return True

    def _lookup_self(self) -> dict[str, Any] | None:
        """The token's lookup-self data; None when Vault refuses the token."""
        try:
            return self._send(lambda client: client.auth.token.lookup_self(), "lookup token")["data"]
        except hvac.exceptions.Forbidden:
            return None
        except (hvac.exceptions.VaultError, OSError) as exc:
            raise translate_login(exc, self.options.auth.method, "token", self.errors, self._retry_after()) from None

    def _lease_of(self, left: float, period: float, renewable: bool) -> _Lease:
        return _Lease(None if left <= 0 else self._clock() + left, period, renewable)

    def _check_tls_files(self) -> None:
        for name in ("ca_cert", "client_cert", "client_key"):
            path = getattr(self.options, name)
            if path and not os.path.exists(path):
                raise self.errors.fail(f"{name} {path} does not exist")


def build_hvac_client(options: VaultConnection) -> hvac.Client:
    """An hvac client for `options`, reading nothing from the environment."""
    if options.tls_skip_verify:
        log.warning(
            "TLS certificate verification is OFF for Vault at %s (tls_skip_verify: true): anyone on the network "
            "path can read and change what syncd sends and receives, secrets and tokens included",
            options.address,
        )
    # The transport sends each request once, leaving retries to the core, and reads nothing from the environment.
    verify: bool | str = False if options.tls_skip_verify else (options.ca_cert or True)
    cert: Any = (options.client_cert, options.client_key) if options.client_key else options.client_cert
    session = Transport(verify=verify, cert=cert, pool_size=MAX_IN_FLIGHT)
    # token="" and cert=() stop hvac from falling back to VAULT_TOKEN and VAULT_CLIENT_CERT.
    return hvac.Client(
        url=options.address,
        token="",
        cert=cert or (),
        verify=verify,
        timeout=options.timeout,
        session=session,
        namespace=options.namespace,
    )
