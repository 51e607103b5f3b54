"""A real moto server over HTTP for the AWS connector tests: it counts calls, enforces AWS limits and injects faults.

moto answers Secrets Manager, SSM, STS, KMS and IAM calls, but it counts nothing, injects no faults and skips many
input limits real AWS enforces (21 ids to BatchGetSecretValue, a 70 KB SecretString and a 5 KB Standard SSM parameter
are all accepted). `AwsFake` is WSGI middleware in front of moto's own app that closes those gaps, answering as AWS
would; and SSM's DescribeParameters pages by its MaxResults, as AWS documents, where moto pages by 10.

PYTEST_DONT_REWRITE: the module has no asserts, and test modules import it before their conftest.py loads it.

Use the `aws_fake` fixture (one server per xdist worker; state, counts and faults are wiped before each test). Its
fixtures reach a folder's tests through that folder's conftest.py (tests/connectors/, tests/fakes/), so that tests
which use no fake do not pay for importing moto:

    def test_a_throttled_write_is_retried(aws_fake: AwsFake, aws_no_backoff: None) -> None:
        aws_fake.client("secretsmanager").create_secret(Name="app/db", SecretString="v1")  # not counted
        aws_fake.fail("PutSecretValue", error="ThrottlingException", times=2)
        ...  # the code under test writes app/db in us-east-1
        assert aws_fake.count("PutSecretValue", region="us-east-1") == 3
        assert aws_fake.count("PutSecretValue", faulted=True) == 2

`fail_at(n, mode)` aims at the nth request from now instead: `refuse` it, `lose` its answer after moto carried it
out, or `kill` the run right after it returned (nothing later reaches moto until `heal`), to test what a sink
leaves behind when it stops between any two calls.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import json
import logging
import os
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qs
from wsgiref.types import StartResponse, WSGIEnvironment
from xml.sax.saxutils import escape

import botocore.loaders
import botocore.retries.standard
import botocore.session
import pytest
import werkzeug.serving
from botocore.config import Config
from botocore.exceptions import DataNotFoundError
from botocore.model import ListShape, MapShape, OperationNotFoundError, ServiceModel, Shape, StructureShape
from moto.core.responses import ActionResult
from moto.iam.models import get_account_id_from, iam_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.ssm.responses import SimpleSystemManagerResponse
from moto.sts.models import sts_backends

from tests.fakes.aws_env import DEFAULT_REGION

DEFAULT_ACCOUNT = "123456789012"
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

# Requests carrying this header (the clients from `AwsFake.client`) are neither counted nor faulted.
BACKDOOR_HEADER = "X-Syncd-Fake-Backdoor"
_BACKDOOR_ENVIRON = "HTTP_" + BACKDOOR_HEADER.upper().replace("-", "_")

_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_TARGET_PREFIX_SERVICES = {"AmazonSSM": "ssm", "secretsmanager": "secretsmanager", "TrentService": "kms"}
_READ_PREFIXES = ("Get", "List", "Describe", "BatchGet")
# KMS crypto calls and every STS call (trading credentials) change no stored state.
_KMS_READS = frozenset(
    {"Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateRandom", "Sign"}
)

# Services whose input is checked against the length and range constraints of botocore's model, as AWS does.
_VALIDATED_SERVICES = frozenset({"secretsmanager", "ssm", "kms"})
# The Secrets Manager quota is 65,536 bytes, not characters.
_BYTE_COUNTED_SHAPES = frozenset({"SecretStringType"})

SSM_STANDARD_LIMIT = 4096
SSM_ADVANCED_LIMIT = 8192
SSM_STANDARD_TOO_LARGE = (
    "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter "
    "value, upgrade the parameter to use the advanced-parameter tier. For more information, see "
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
)
SSM_ADVANCED_TOO_LARGE = (
    "The specified parameter value is too large. Advanced-tier parameters support a maximum parameter value of 8192 "
    "characters."
)

# The 500 error each service models for itself; others answer with the common InternalFailure.
_INTERNAL_ERRORS = {
    "secretsmanager": "InternalServiceError",
    "ssm": "InternalServerError",
    "kms": "KMSInternalException",
}
_STATUS_BY_ERROR = {
    "InternalFailure": 500,
    "InternalServiceError": 500,
    "InternalServerError": 500,
    "KMSInternalException": 500,
    "ServiceUnavailable": 503,
    "ServiceUnavailableException": 503,
}
_MESSAGES = {
    "ThrottlingException": "Rate exceeded",
    "Throttling": "Rate exceeded",
    "ServiceUnavailable": "The request has failed due to a temporary failure of the server.",
    "ServiceUnavailableException": "The request has failed due to a temporary failure of the server.",
}
_INTERNAL_MESSAGE = "The request processing has failed because of an unknown error, exception or failure."
# Query-protocol services (STS, IAM) spell the common errors differently.
_QUERY_ERRORS = {"ThrottlingException": "Throttling", "AccessDeniedException": "AccessDenied"}
_QUERY_VERSIONS = {"sts": "2011-06-15", "iam": "2010-05-08"}


def is_read(service: str, operation: str) -> bool:
    """True for calls that change no state: Get*, List*, Describe*, BatchGet*, KMS crypto and all of STS."""
    return operation.startswith(_READ_PREFIXES) or service == "sts" or (service == "kms" and operation in _KMS_READS)


@dataclass(frozen=True)
class Call:
    """One request the server saw (backdoor requests from `AwsFake.client` are not recorded)."""

    service: str
    operation: str
    region: str | None
    access_key: str | None
    account: str
    status: int
    error: str | None = None
    """The error code when the fake answered itself (an injected fault or an enforced limit); moto's own errors
    show only in `status`."""
    faulted: bool = False
    """Answered by a fault from `AwsFake.fail`."""
    seconds: float = 0.0
    """How long moto took to answer it (0 when the fake answered itself): the server's share of a call's time."""

    @property
    def is_write(self) -> bool:
        return not is_read(self.service, self.operation)


@dataclass
class Fault:
    """An injected failure; `AwsFake.fail` makes one. None in a filter matches anything."""

    operation: str | None
    error: str | int
    remaining: int | None
    message: str | None = None
    service: str | None = None
    region: str | None = None
    access_key: str | None = None
    account: str | None = None
    hits: int = 0

    def matches(self, request: _Request) -> bool:
        wanted = (self.operation, self.service, self.region, self.access_key, self.account)
        actual = (request.operation, request.service, request.region, request.access_key, request.account)
        return self.remaining != 0 and all(w is None or w == a for w, a in zip(wanted, actual, strict=True))


StepMode = Literal["refuse", "lose", "kill"]
# What every request gets once a `kill` step fired: an error no client retries, so the dead run ends quickly.
KILLED_ERROR = "SimulatedCrash"


@dataclass
class Step:
    """A fault aimed at one request by its position: `AwsFake.fail_at` makes one.

    `refuse` answers the request with `error` and never passes it on; `lose` passes it on, so moto carries it out,
    and answers `error` instead of moto's answer; `kill` passes it on and answers moto's answer, after which every
    request (backdoor ones excepted) is answered `SimulatedCrash` without reaching moto: the server state is then
    exactly that of a process killed the moment request `index` returned, whatever code the run still executes.
    """

    index: int
    mode: StepMode
    error: str | int
    service: str | None
    writes_only: bool
    seen: int = 0
    fired: bool = False
    fired_on: str | None = None
    """The operation the step hit, once fired."""

    @property
    def killed(self) -> bool:
        return self.fired and self.mode == "kill"

    def counts(self, request: _Request) -> bool:
        if self.service is not None and request.service != self.service:
            return False
        return not (self.writes_only and is_read(request.service, request.operation))


@dataclass
class _Request:
    service: str
    operation: str
    region: str | None
    access_key: str | None
    account: str
    protocol: str  # "json" or "query"
    params: dict[str, Any]


class AwsFake:
    """moto's server app behind middleware that counts calls, enforces AWS limits and injects faults.

    `start()` serves it on a free loopback port (`endpoint`); `stop()` shuts it down. It is also a context manager.
    """

    def __init__(self) -> None:
        self._app = DomainDispatcherApplication(create_backend_app)
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._faults: list[Fault] = []
        self._step: Step | None = None
        self._server: werkzeug.serving.BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.endpoint = ""

    # Lifecycle

    def start(self, timeout: float = 10.0) -> AwsFake:
        """Serve on 127.0.0.1 at a free port and wait until requests are answered."""
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = werkzeug.serving.make_server(
            "127.0.0.1", 0, self, threaded=True, request_handler=MotoRequestHandler
        )
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"
        # A short poll interval lets stop() return in a tick rather than half a second.
        server = self._server
        self._thread = threading.Thread(target=lambda: server.serve_forever(0.05), name="aws-fake", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._reset_moto(timeout=1.0)
                return self
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.01)

    def stop(self) -> None:
        """Shut the server down and close its socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> AwsFake:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Wipe all moto state (every account and region), the recorded calls and the faults."""
        self._reset_moto()
        with self._lock:
            self._calls.clear()
            self._faults.clear()
            self._step = None

    def _reset_moto(self, timeout: float = 10.0) -> None:
        request = urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()

    # Counting

    @property
    def calls(self) -> list[Call]:
        """A copy of the calls seen so far, oldest first."""
        with self._lock:
            return list(self._calls)

    def _filtered(self, operation: str | None = None, **filters: object) -> list[Call]:
        wanted = {key: value for key, value in filters.items() if value is not None}
        return [
            call
            for call in self.calls
            if (operation is None or call.operation == operation)
            and all(getattr(call, key) == value for key, value in wanted.items())
        ]

    def count(
        self,
        operation: str | None = None,
        *,
        service: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        account: str | None = None,
        faulted: bool | None = None,
    ) -> int:
        """How many calls matched; every argument left None matches anything."""
        return len(
            self._filtered(
                operation, service=service, region=region, access_key=access_key, account=account, faulted=faulted
            )
        )

    def counts(self, *, service: str | None = None, region: str | None = None) -> Counter[str]:
        """Calls per operation, e.g. `Counter({"GetSecretValue": 3, "PutSecretValue": 1})`."""
        return Counter(call.operation for call in self._filtered(service=service, region=region))

    def writes(self, *, service: str | None = None, region: str | None = None) -> list[Call]:
        """The calls that were not reads (see `is_read`), including those answered with an error."""
        return [call for call in self._filtered(service=service, region=region) if call.is_write]

    def reset_counts(self) -> None:
        """Forget the recorded calls; state and faults stay."""
        with self._lock:
            self._calls.clear()

    # Faults

    def fail(
        self,
        operation: str | None,
        error: str | int = "ThrottlingException",
        *,
        times: int | None = 1,
        message: str | None = None,
        service: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        account: str | None = None,
    ) -> Fault:
        """Answer the next `times` matching requests (None: until `heal`) with an error instead of passing them on.

        `error` is an AWS error code (ThrottlingException, AccessDeniedException, …) answered with HTTP 400, or 500
        for the service's internal error and 503 for ServiceUnavailable (either as a status or by name). The message
        defaults to what AWS says; AccessDeniedException names the caller, action and resource as IAM does.
        `operation` None matches every operation; the other filters narrow to one service, region, key or account.
        """
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for until heal()")
        if isinstance(error, int) and error < 500:
            raise ValueError("a numeric error must be a 5xx status; name 4xx errors by their AWS code")
        fault = Fault(operation, error, times, message, service, region, access_key, account)
        with self._lock:
            self._faults.append(fault)
        return fault

    def heal(self, operation: str | None = None) -> None:
        """Remove all faults, or those for one operation; without `operation` also the `fail_at` step."""
        with self._lock:
            self._faults = [f for f in self._faults if operation is not None and f.operation != operation]
            if operation is None:
                self._step = None

    def fail_at(
        self,
        index: int,
        mode: StepMode,
        *,
        error: str | int = 500,
        service: str | None = None,
        writes_only: bool = False,
    ) -> Step:
        """Aim a fault at the `index`-th request from now (1-based) of `service`, counting writes only if asked.

        `mode` is `refuse` (an error, the request never carried out), `lose` (carried out, the answer replaced by
        an error) or `kill` (carried out and answered, then the server sees nothing more of anyone but the
        backdoor until `heal`). Backdoor requests neither count nor are affected. One step at a time.
        """
        if index < 1:
            raise ValueError("index counts from 1")
        step = Step(index, mode, error, service, writes_only)
        with self._lock:
            self._step = step
        return step

    def _take_step(self, request: _Request) -> tuple[Step, bool] | None:
        """The step this request fires (True), or the killed run it meets (False); None when neither."""
        with self._lock:
            step = self._step
            if step is None:
                return None
            if step.killed:
                return step, False
            if step.fired or not step.counts(request):
                return None
            step.seen += 1
            if step.seen != step.index:
                return None
            step.fired = True
            step.fired_on = request.operation
            return step, True

    def _take_fault(self, request: _Request) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(request):
                    fault.hits += 1
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return fault
        return None

    # Clients and credentials

    def client(
        self, service: str, region: str = DEFAULT_REGION, *, record: bool = False, max_attempts: int = 1, **creds: str
    ) -> Any:
        """A boto3 (botocore) client on the fake, with standard retries and dummy credentials unless `creds` are given.

        By default it is a backdoor for planting and inspecting state: its calls are neither counted nor faulted (AWS
        limits still apply). `record=True` makes it behave like the code under test.

        `max_attempts` counts every attempt, so 1 means no retry. It sets botocore's `total_max_attempts`; the
        `max_attempts` key of botocore's retries dict counts retries only, one attempt more than it reads.
        """
        session = botocore.session.Session()
        session.register_component("data_loader", _shared_loader())
        client = session.create_client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            config=Config(retries={"mode": "standard", "total_max_attempts": max_attempts}),
            **{**DUMMY_CREDENTIALS, **creds},
        )
        if not record:
            client.meta.events.register("before-sign", _mark_backdoor)
        return client

    def assume_role_credentials(self, role_arn: str, session_name: str = "syncd-test") -> dict[str, str]:
        """Credentials of `role_arn`'s account (boto3 client keyword names), checked to land in that account."""
        if "MOTO_ACCOUNT_ID" in os.environ:
            raise RuntimeError("MOTO_ACCOUNT_ID is set: moto would put every account's calls in that one account")
        answer = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        creds = {
            "aws_access_key_id": answer["AccessKeyId"],
            "aws_secret_access_key": answer["SecretAccessKey"],
            "aws_session_token": answer["SessionToken"],
        }
        account = role_arn.split(":")[4]
        landed = self.client("sts", **creds).get_caller_identity()["Account"]
        if landed != account:
            raise AssertionError(f"assumed {role_arn} but the credentials act in account {landed}")
        return creds

    # The middleware

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            return self._app(environ, start_response)
        body = _buffer_body(environ)
        request = _parse_request(environ, body)
        if request is None:
            return self._app(environ, start_response)
        backdoor = environ.get(_BACKDOOR_ENVIRON) == "1"

        stepped = None if backdoor else self._take_step(request)
        if stepped is not None:
            return self._run_step(*stepped, request, environ, start_response)

        fault = None if backdoor else self._take_fault(request)
        if fault is not None:
            code, status = _resolve_error(fault.error, request.service)
            message = fault.message or _default_message(code, request)
            self._record(request, status, code, faulted=True, backdoor=backdoor)
            return _error_response(start_response, request, status, code, message)

        violation = _limit_violation(request)
        if violation is not None:
            self._record(request, 400, "ValidationException", backdoor=backdoor)
            return _error_response(start_response, request, 400, "ValidationException", violation)

        statuses: list[int] = []

        def recording_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(int(status.split()[0]))
            return start_response(status, headers, exc_info)

        started = time.perf_counter()
        result = self._app(environ, recording_start_response)
        seconds = time.perf_counter() - started
        self._record(request, statuses[0] if statuses else 0, None, backdoor=backdoor, seconds=seconds)
        return result

    def _run_step(
        self, step: Step, firing: bool, request: _Request, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """Answer a request the step fired on (`firing`), or one that met a run the step killed."""
        if not firing or step.mode == "refuse":
            code, status = (KILLED_ERROR, 400) if not firing else _resolve_error(step.error, request.service)
            message = "the run was killed" if not firing else _default_message(code, request)
            self._record(request, status, code, faulted=True, backdoor=False)
            return _error_response(start_response, request, status, code, message)
        answered: list[tuple[str, Any]] = []
        result = self._app(environ, lambda status, headers, exc_info=None: answered.append((status, headers)))
        try:
            body = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        status_line, headers = answered[0]
        if step.mode == "kill":
            self._record(request, int(status_line.split()[0]), None, backdoor=False)
            start_response(status_line, headers)
            return [body]
        code, status = _resolve_error(step.error, request.service)
        self._record(request, status, code, faulted=True, backdoor=False)
        return _error_response(start_response, request, status, code, _default_message(code, request))

    def _record(
        self,
        request: _Request,
        status: int,
        error: str | None,
        *,
        faulted: bool = False,
        backdoor: bool,
        seconds: float = 0.0,
    ) -> None:
        if backdoor:
            return
        call = Call(
            request.service,
            request.operation,
            request.region,
            request.access_key,
            request.account,
            status,
            error,
            faulted,
            seconds,
        )
        with self._lock:
            self._calls.append(call)


# moto's DescribeParameters

# AWS answers a DescribeParameters page with up to MaxResults parameters (1 to 50; the fake refuses other values as
# AWS does); moto answers 10 whatever MaxResults says. Pages are cut here by MaxResults, as AWS documents, so calls
# counted on the fake are the calls AWS would be asked for. With MaxResults absent the page stays moto's 10 (AWS
# documents no default). Nothing else of moto's answer changes: its filters, its order, and a NextToken after a full
# last page (so listing exactly a page's worth costs one more, empty, page).
DESCRIBE_PARAMETERS_DEFAULT_PAGE = 10


def _describe_parameters_by_max_results(self: SimpleSystemManagerResponse) -> ActionResult:
    page_size = int(self._get_param("MaxResults") or DESCRIBE_PARAMETERS_DEFAULT_PAGE)
    token = str(self._get_param("NextToken") or "").strip() or "0"
    start = int(token)
    found = self.ssm_backend.describe_parameters(self._get_param("Filters"), self._get_param("ParameterFilters"))
    page = found[start : start + page_size]
    response: dict[str, Any] = {"Parameters": [parameter.describe_response_object(False) for parameter in page]}
    if len(page) == page_size:
        response["NextToken"] = str(start + page_size)
    return ActionResult(response)


SimpleSystemManagerResponse.describe_parameters = _describe_parameters_by_max_results  # type: ignore[method-assign]


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    """One loader for every client, so each service model is parsed once (40 ms a client otherwise)."""
    return botocore.loaders.create_loader()


def _mark_backdoor(request: Any, **_: Any) -> None:
    request.headers[BACKDOOR_HEADER] = "1"


def _buffer_body(environ: WSGIEnvironment) -> bytes:
    """Read the body and put it back as a fresh stream, so moto still reads all of it."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _parse_request(environ: WSGIEnvironment, body: bytes) -> _Request | None:
    scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    access_key, region, scope_service = scope.groups() if scope else (None, None, None)
    target = environ.get("HTTP_X_AMZ_TARGET")
    params: dict[str, Any] = {}
    if target:
        prefix, _, operation = target.rpartition(".")
        service = scope_service or _TARGET_PREFIX_SERVICES.get(prefix, prefix.lower())
        protocol = "json"
        try:
            decoded = json.loads(body or b"{}")
        except ValueError:
            decoded = None
        params = decoded if isinstance(decoded, dict) else {}
    else:
        form = parse_qs(environ.get("QUERY_STRING", ""))
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            form.update(parse_qs(body.decode("utf-8", "replace")))
        operation = form.get("Action", [""])[0]
        service = scope_service or ""
        protocol = "query"
        params = {key: values[0] for key, values in form.items()}
    if not operation:
        return None
    return _Request(service, operation, region, access_key, _account_of(access_key), protocol, params)


def _account_of(access_key: str | None) -> str:
    """The account moto acts in for this key: MOTO_ACCOUNT_ID if set, else the key's issuing account."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    return get_account_id_from(access_key) if access_key else DEFAULT_ACCOUNT


# Errors


def _resolve_error(error: str | int, service: str) -> tuple[str, int]:
    if isinstance(error, int):
        code = "ServiceUnavailable" if error == 503 else _INTERNAL_ERRORS.get(service, "InternalFailure")
        return code, error
    return error, _STATUS_BY_ERROR.get(error, 400)


def _default_message(code: str, request: _Request) -> str:
    if code in ("AccessDeniedException", "AccessDenied"):
        action = f"{request.service}:{request.operation}"
        return (
            f"User: {_principal_arn(request)} is not authorized to perform: {action} on resource: "
            f"{_resource(request)} because no identity-based policy allows the {action} action"
        )
    if _STATUS_BY_ERROR.get(code) == 500:
        return _INTERNAL_MESSAGE
    return _MESSAGES.get(code, code)


def _principal_arn(request: _Request) -> str:
    """The caller as IAM names it: the assumed role's session, else the IAM user (moto's default user is "moto")."""
    key = request.access_key or ""
    try:
        role = sts_backends[request.account]["aws"].get_assumed_role_from_access_key(key)
        if role is not None:
            return role.arn
        user = iam_backends[request.account]["aws"].get_user_from_access_key_id(key)
        if user is not None:
            return user.arn
    except (KeyError, AttributeError):
        pass
    return f"arn:aws:iam::{request.account}:user/moto"


def _resource(request: _Request) -> str:
    """The resource an AccessDenied message names, the way each service names it."""
    params, region, account = request.params, request.region or DEFAULT_REGION, request.account
    if request.service == "secretsmanager":
        return str(params.get("SecretId") or params.get("Name") or "*")
    if request.service == "ssm":
        name = params.get("Name") or next(iter(params.get("Names") or []), None) or params.get("Path")
        return f"arn:aws:ssm:{region}:{account}:parameter/{str(name).lstrip('/')}" if name else "*"
    if request.service == "kms" and params.get("KeyId"):
        key = str(params["KeyId"])
        return key if key.startswith("arn:") else f"arn:aws:kms:{region}:{account}:key/{key}"
    if request.service == "sts" and params.get("RoleArn"):
        return str(params["RoleArn"])
    return "*"


def _error_response(
    start_response: StartResponse, request: _Request, status: int, code: str, message: str
) -> list[bytes]:
    request_id = str(uuid.uuid4())
    if request.protocol == "json":
        content_type = "application/x-amz-json-1.1"
        body = json.dumps({"__type": code, "message": message}).encode()
    else:
        code = _QUERY_ERRORS.get(code, code)
        version = _QUERY_VERSIONS.get(request.service, "")
        content_type = "text/xml"
        body = (
            f'<ErrorResponse xmlns="https://{request.service}.amazonaws.com/doc/{version}/">'
            f"<Error><Type>{'Receiver' if status >= 500 else 'Sender'}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("x-amzn-RequestId", request_id),
    ]
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [body]


# Limits


def _limit_violation(request: _Request) -> str | None:
    """The ValidationException message AWS would answer this request with, or None if AWS would take it."""
    if request.protocol != "json" or request.service not in _VALIDATED_SERVICES:
        return None
    shape = _input_shape(request.service, request.operation)
    errors: list[str] = []
    if shape is not None:
        _check(shape, request.params, "", errors)
    if errors:
        plural = "s" if len(errors) > 1 else ""
        return f"{len(errors)} validation error{plural} detected: " + "; ".join(errors)
    if (request.service, request.operation) == ("ssm", "PutParameter"):
        return _ssm_tier_violation(request)
    return None


@functools.cache
def _input_shape(service: str, operation: str) -> StructureShape | None:
    try:
        model = ServiceModel(_shared_loader().load_service_model(service, "service-2"), service)
        return model.operation_model(operation).input_shape
    except (DataNotFoundError, OperationNotFoundError):
        return None


def _check(shape: Shape, value: Any, path: str, errors: list[str]) -> None:
    """Collect the model's length and range violations the way AWS words them; patterns are not checked."""
    if value is None:
        return
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                member_path = f"{path}.{_lower_first(name)}" if path else _lower_first(name)
                _check(member, value[name], member_path, errors)
        return
    if isinstance(shape, ListShape) and isinstance(value, list):
        _check_bounds(shape, value, len(value), low, high, "length", path, errors)
        for index, item in enumerate(value, start=1):
            _check(shape.member, item, f"{path}.{index}.member", errors)
        return
    if isinstance(shape, MapShape) and isinstance(value, dict):
        _check_bounds(shape, value, len(value), low, high, "length", path, errors)
        return
    if shape.type_name == "string" and isinstance(value, str):
        size = len(value.encode()) if shape.name in _BYTE_COUNTED_SHAPES else len(value)
        _check_bounds(shape, value, size, low, high, "length", path, errors)
    elif shape.type_name == "blob" and isinstance(value, str):
        try:
            size = len(base64.b64decode(value, validate=True))
        except binascii.Error:
            return
        _check_bounds(shape, value, size, low, high, "length", path, errors)
    elif shape.type_name in ("integer", "long") and isinstance(value, int):
        _check_bounds(shape, value, value, low, high, "value", path, errors)


def _check_bounds(
    shape: Shape, value: Any, size: int, low: int | None, high: int | None, kind: str, path: str, errors: list[str]
) -> None:
    if high is not None and size > high:
        constraint = f"Member must have {kind} less than or equal to {high}"
    elif low is not None and size < low:
        constraint = f"Member must have {kind} greater than or equal to {low}"
    else:
        return
    shown = "" if shape.metadata.get("sensitive") else f" '{_java_repr(value)}'"
    errors.append(f"Value{shown} at '{path}' failed to satisfy constraint: {constraint}")


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _java_repr(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_java_repr(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _ssm_tier_violation(request: _Request) -> str | None:
    value = request.params.get("Value")
    if not isinstance(value, str):
        return None
    size = len(value.encode())
    tier = request.params.get("Tier") or _existing_ssm_tier(request)
    # Intelligent-Tiering picks Advanced when the value needs it.
    if tier in ("Advanced", "Intelligent-Tiering"):
        return SSM_ADVANCED_TOO_LARGE if size > SSM_ADVANCED_LIMIT else None
    return SSM_STANDARD_TOO_LARGE if size > SSM_STANDARD_LIMIT else None


def _existing_ssm_tier(request: _Request) -> str | None:
    """An overwrite without Tier keeps the parameter's tier (moto does the same)."""
    # Imported here: moto.ssm pulls in EC2 and costs half a second, paid only once SSM is called anyway.
    from moto.ssm.models import ssm_backends

    try:
        versions = ssm_backends[request.account][request.region or DEFAULT_REGION]._parameters.get(
            str(request.params.get("Name"))
        )
    except (KeyError, AttributeError):
        return None
    return versions[-1].tier if versions else None


# Fixtures: a folder's conftest.py imports them by name (in a test module that would trip ruff's F811).
# `aws_env` lives in tests/fakes/aws_env.py, light enough for every test.


@pytest.fixture(scope="session")
def aws_fake_server() -> Iterator[AwsFake]:
    """One fake AWS server per xdist worker. Tests want `aws_fake`, which also wipes it."""
    with AwsFake() as fake:
        yield fake


@pytest.fixture
def aws_fake(aws_fake_server: AwsFake, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> AwsFake:
    """The worker's fake, wiped of state, counts and faults, with `aws_env` and AWS_ENDPOINT_URL set to it.

    AWS_ENDPOINT_URL points every boto3 client made without an explicit endpoint at the fake, never at real AWS.
    """
    aws_fake_server.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_fake_server.endpoint)
    return aws_fake_server


@pytest.fixture
def aws_no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard and adaptive retries retry at once, so injected throttles cost no sleep (up to 1 s each)."""
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
