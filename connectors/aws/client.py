"""One AWS connection: the SDK session of a target or source, living as long as the process.

Credentials come from the usual chain (environment, profile, instance or task role), optionally through
`sts:AssumeRole` into another account; botocore refreshes assumed-role credentials before they expire, so a daemon
that runs for months keeps working. Clients are built on first use: connecting makes no call, which lets
`validate` and `syncd policy` work offline. The account is checked once, on the first client.

One retry layer: the core's. Every client makes one attempt per call (`total_max_attempts: 1` counts the first
attempt, so 1 is no retry; the legacy `max_attempts` key counts retries only) and every request waits for the
target's rate limiter first (a `before-send` hook on each client, STS included).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

import structlog

from connectors.aws.errors import error_code, translate
from connectors.aws.options import AwsConnection, AwsTargetOptions
from syncd.connector import UNLIMITED, ItemDefaults, RateLimiter, Sink, Source
from syncd.errors import ItemMoved, PermanentError
from syncd.model import ActualItem, DesiredItem, Ownership

log = structlog.get_logger("connectors.aws")

T = TypeVar("T")
# An AWS request or answer, and the error codes a call tolerates.
Answer = dict[str, Any]
Codes = tuple[str, ...]


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """`items` in lists of at most `size`, for calls that take a bounded number of names or filters."""
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


class AwsSession:
    """Clients for one target or source, built on first use and shared by every run and thread.

    `client` is a ready-made boto3 client a caller (a test) may hand in; it is then used for its own service as is
    (the rate-limit hook is added to it).
    """

    def __init__(
        self, target: str, options: AwsConnection, client: Any = None, limiter: RateLimiter = UNLIMITED
    ) -> None:
        self.target = target
        self.options = options
        self.limiter = limiter
        self._given = client
        if client is not None:
            self._limit(client)
        self._clients: dict[str, Any] = {}
        self._session: Any = None
        self._lock = threading.Lock()
        self._account_lock = threading.Lock()
        self._account_checked = False
        if options.max_attempts is not None:
            log.warning(
                "option ignored",
                target=target,
                option="max_attempts",
                reason="each AWS call is made once and syncd's one retry layer retries transient errors",
            )

    def client(self, service: str) -> Any:
        given = self._given
        if given is not None and given.meta.service_model.service_name == service:
            return given
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._build(service)
            client = self._clients[service]
        if not self._account_checked and self.options.account_id:
            # Threads making their first calls together check the account once, the others waiting for it.
            with self._account_lock:
                if not self._account_checked:
                    self._check_account()
        return client

    def attempt(
        self, service: str, operation: str, params: Answer, *, address: str | None = None, tolerate: Codes = ()
    ) -> tuple[Answer | None, str | None]:
        """(answer, None), or (None, code) when the call failed with an error code in `tolerate`; any other failure
        is raised as syncd's error (see `errors.translate`)."""
        from botocore import xform_name

        try:
            return getattr(self.client(service), xform_name(operation))(**params), None
        except Exception as exc:
            code = error_code(exc)
            if code is not None and code in tolerate:
                return None, code
            kms_key_id = self.options.kms_key_id
            translate(exc, self.target, operation=f"{service}:{operation}", address=address, kms_key_id=kms_key_id)

    def call(
        self, service: str, operation: str, params: Answer, *, address: str | None = None, tolerate: Codes = ()
    ) -> Answer | None:
        """The answer to `operation` (e.g. 'PutParameter'), or None when it failed with an error code in `tolerate`."""
        return self.attempt(service, operation, params, address=address, tolerate=tolerate)[0]

    def pages(self, service: str, operation: str, params: Answer, *, tolerate: Codes = ()) -> Iterator[Answer | None]:
        """Every page of `operation`, following NextToken; None (and no more pages) for a tolerated error."""
        token: str | None = None
        while True:
            page = self.call(service, operation, {**params, "NextToken": token} if token else params, tolerate=tolerate)
            yield page
            token = page.get("NextToken") if page is not None else None
            if not token:
                return

    def entries(self, service: str, operation: str, params: Answer, key: str) -> Iterator[Answer]:
        """Every entry under `key` of every page of `operation`."""
        for page in self.pages(service, operation, params):
            yield from (page or {}).get(key) or ()

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    # Building

    def _limit(self, client: Any) -> Any:
        client.meta.events.register("before-send", self._wait_for_limiter, unique_id=f"syncd-limit-{id(self)}")
        return client

    def _wait_for_limiter(self, event_name: str = "", **_: Any) -> None:
        # Returning None lets botocore send the request. The event is "before-send.<service>.<Operation>".
        self.limiter.acquire(event_name.rsplit(".", 1)[-1] or "request")

    def _boto_session(self) -> Any:
        if self._session is None:
            try:
                import boto3
            except ImportError as exc:  # the registry normally catches this first, with an install hint
                raise PermanentError("boto3 is not installed: pip install 'syncd[aws]'", target=self.target) from exc
            try:
                session = boto3.Session(
                    botocore_session=_botocore_session(),
                    profile_name=self.options.profile,
                    region_name=self.options.region,
                )
                if self.options.role_arn:
                    self._assume_role(session)
            except Exception as exc:
                raise self._setup_error(exc) from None
            self._session = session
        return self._session

    def _setup_error(self, exc: Exception) -> PermanentError:
        """A profile that does not exist, or a config file that does not parse."""
        message = f"cannot set up AWS credentials: {type(exc).__name__}"
        if type(exc).__name__ == "ProfileNotFound":
            message += f" (profile {self.options.profile!r})"
        return PermanentError(message, target=self.target)

    def _config(self) -> Any:
        from botocore.config import Config

        return Config(
            # One attempt per call: the core retries (see the module docstring).
            retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=self.options.connect_timeout,
            read_timeout=self.options.read_timeout,
            user_agent_appid="syncd",
        )

    def _build(self, service: str) -> Any:
        session = self._boto_session()
        try:
            return self._limit(session.client(service, endpoint_url=self.options.endpoint_url, config=self._config()))
        except Exception as exc:
            raise self._setup_error(exc) from None

    def _sts(self, session: Any) -> Any:
        options = self.options
        endpoint = options.sts_endpoint_url or options.endpoint_url
        return self._limit(
            session.client("sts", region_name=options.region, endpoint_url=endpoint, config=self._config())
        )

    def _assume_role(self, session: Any) -> None:
        """Swap the session's credentials for assumed-role ones that botocore refreshes before expiry."""
        from botocore.credentials import DeferredRefreshableCredentials

        options = self.options
        sts = self._sts(session)

        def fetch() -> dict[str, str]:
            request: dict[str, Any] = {
                "RoleArn": options.role_arn,
                "RoleSessionName": options.role_session_name,
                "DurationSeconds": options.role_duration_seconds,
            }
            if options.external_id:
                request["ExternalId"] = options.external_id
            try:
                creds = sts.assume_role(**request)["Credentials"]
            except Exception as exc:
                translate(exc, self.target, operation="sts:AssumeRole", resource=options.role_arn)
            expiry = creds["Expiration"]
            if not isinstance(expiry, datetime):
                expiry = datetime.fromisoformat(str(expiry))
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": expiry.isoformat(),
            }

        credentials = DeferredRefreshableCredentials(refresh_using=fetch, method="sts-assume-role")
        # botocore refreshes when less than 15 minutes (advisory) or 10 (mandatory) remain: a session of 15 to 20
        # minutes would then be refreshed on every call. Refresh in the last third and sixth of the session instead.
        duration = options.role_duration_seconds
        credentials._advisory_refresh_timeout = min(credentials._advisory_refresh_timeout, duration // 3)
        credentials._mandatory_refresh_timeout = min(credentials._mandatory_refresh_timeout, duration // 6)
        session._session._credentials = credentials

    def _check_account(self) -> None:
        try:
            account = self._sts(self._boto_session()).get_caller_identity()["Account"]
        except Exception as exc:
            translate(exc, self.target, operation="sts:GetCallerIdentity")
        if account != self.options.account_id:
            raise PermanentError(
                f"the credentials act in account {account}, but the target says account_id {self.options.account_id}; "
                "nothing is read or written there",
                target=self.target,
            )
        self._account_checked = True


class _OnSession:
    """What both AWS sinks and sources do alike: run on the connection they were built with, or on one of their own
    (closed with them) when given none or a bare boto3 client (tests, embedding)."""

    session: AwsSession
    _owns_session: bool

    def _attach(self, target: str, options: AwsConnection, connection: Any) -> AwsSession:
        self._owns_session = not isinstance(connection, AwsSession)
        self.session = AwsSession(target, options, connection) if self._owns_session else connection
        return self.session

    def close(self) -> None:
        if self._owns_session:
            self.session.close()


class AwsSink(_OnSession, Sink):
    """What both AWS sinks do alike: the connection, and the target's `tags` and `description` on every item."""

    options: AwsTargetOptions

    def __init__(self, target: str, options: AwsTargetOptions, connection: Any = None) -> None:
        super().__init__(target, options, self._attach(target, options, connection))

    @classmethod
    def connect(cls, target: str, options: Any, client: Any = None, limiter: RateLimiter = UNLIMITED) -> AwsSession:
        return AwsSession(target, options, client, limiter)

    def item_defaults(self) -> ItemDefaults:
        return ItemDefaults(dict(self.options.tags), self.options.description)

    # The re-read before a write or a delete: neither service has a conditional write. For a write (`item`), its own
    # marker and value are accepted too: an earlier attempt of this write stamped or stored them, and its answer was
    # lost.

    def expect_owner(self, now: Ownership | None, expected: ActualItem, item: DesiredItem | None, noun: str) -> None:
        """Raise ItemMoved unless the marker read just now (`now`) is still the planned one, or `item`'s own."""
        if now != expected.owner and (item is None or now != item.owner):
            raise ItemMoved(
                f"the {noun}'s ownership marker changed since the plan (it now belongs to {whose(now)}); it was left "
                "alone",
                target=self.target,
                address=expected.address,
            )

    def expect_version(self, expected: ActualItem, now: str | None, holds_item: Callable[[], bool]) -> None:
        """Raise ItemMoved when the version moved since the plan, unless it holds the item's value (`holds_item`,
        asked only then)."""
        if expected.version is not None and now is not None and now != expected.version and not holds_item():
            raise ItemMoved(
                f"its version moved from {expected.version} to {now} since the plan; it was left alone",
                target=self.target,
                address=expected.address,
            )


def whose(owner: Ownership | None) -> str:
    """The owner a marker names, for a message."""
    return f"syncd instance {owner.instance!r} (sync {owner.sync!r})" if owner else "nobody syncd knows"


class AwsSource(_OnSession, Source):
    options: AwsConnection

    def __init__(self, options: AwsConnection, connection: Any = None) -> None:
        super().__init__(options, self._attach("source", options, connection))

    @classmethod
    def connect(cls, options: Any, client: Any = None, limiter: RateLimiter = UNLIMITED) -> AwsSession:
        return AwsSession("source", options, client, limiter)


_LOADER_LOCK = threading.Lock()
_loader: Any = None


def _botocore_session() -> Any:
    """A fresh botocore session sharing one model loader: parsing the service models once, not per target."""
    global _loader
    import botocore.loaders
    import botocore.session

    with _LOADER_LOCK:
        if _loader is None:
            _loader = botocore.loaders.create_loader()
    session = botocore.session.get_session()
    session.register_component("data_loader", _loader)
    return session
