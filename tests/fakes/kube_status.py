"""The fake Kubernetes API server's errors: `Status` objects worded as the apiserver words them.

Each constructor follows its namesake in `k8s.io/apimachinery/pkg/api/errors` (errors.go), and `FieldError`
follows `k8s.io/apimachinery/pkg/util/validation/field` (errors.go), so that an `ApiException.body` from the fake
parses, and reads, like a real one.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# The resource a request names, as the apiserver qualifies it in messages: "secrets", "leases.coordination.k8s.io".


@dataclass(frozen=True)
class GroupResource:
    group: str
    resource: str

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


@dataclass(frozen=True)
class GroupKind:
    group: str
    kind: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind


NAMESPACES = GroupResource("", "namespaces")


def go_quote(text: str) -> str:
    """Go's %q for the strings these messages quote (JSON escaping, close enough for printable text)."""
    return json.dumps(text, ensure_ascii=False)


class StatusError(Exception):
    """An error the fake answers with: HTTP `code` and a `Status` body."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            status["reason"] = self.reason
        if self.details is not None:
            status["details"] = self.details
        status["code"] = self.code
        return status


def _details(qualified: GroupResource | GroupKind, name: str, **extra: Any) -> dict[str, Any]:
    """StatusDetails as Go marshals them: empty name and group are omitted."""
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if qualified.group:
        details["group"] = qualified.group
    details["kind"] = qualified.resource if isinstance(qualified, GroupResource) else qualified.kind
    details.update(extra)
    return details


def not_found(resource: GroupResource, name: str) -> StatusError:
    return StatusError(404, "NotFound", f"{resource} {go_quote(name)} not found", _details(resource, name))


def already_exists(resource: GroupResource, name: str) -> StatusError:
    return StatusError(409, "AlreadyExists", f"{resource} {go_quote(name)} already exists", _details(resource, name))


OPTIMISTIC_LOCK_MESSAGE = "the object has been modified; please apply your changes to the latest version and try again"


def conflict(resource: GroupResource, name: str, why: str = OPTIMISTIC_LOCK_MESSAGE) -> StatusError:
    message = f"Operation cannot be fulfilled on {resource} {go_quote(name)}: {why}"
    return StatusError(409, "Conflict", message, _details(resource, name))


def precondition_failed(resource: GroupResource, namespace: str, name: str, what: str) -> StatusError:
    """A DELETE whose preconditions do not hold: the storage layer's InvalidObjError, wrapped in a Conflict.

    The etcd3 store checks `Preconditions` (k8s.io/apiserver/pkg/storage/interfaces.go `Preconditions.Check`) and the
    registry turns the storage error into NewConflict (pkg/registry/generic/registry/store.go, InterpretDeleteError).
    """
    key = f"/registry/{resource}/{namespace}/{name}"
    why = f"StorageError: invalid object, Code: 4, Key: {key}, ResourceVersion: 0, AdditionalErrorMsg: {what}"
    return conflict(resource, name, why)


def forbidden(resource: GroupResource, name: str, why: str) -> StatusError:
    message = f"{resource} {go_quote(name)} is forbidden: {why}" if name else f"{resource} is forbidden: {why}"
    return StatusError(403, "Forbidden", message, _details(resource, name))


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def method_not_allowed(method: str) -> StatusError:
    """What the apiserver answers for a method no route of the resource takes."""
    return StatusError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})


def not_found_path() -> StatusError:
    """An unknown URL: the apiserver's NotFound handler answers 404 with this body."""
    return StatusError(404, "NotFound", "the server could not find the requested resource", {})


def unsupported_media_type(content_type: str, accepted: list[str]) -> StatusError:
    # negotiation.NewUnsupportedMediaTypeError (k8s.io/apiserver/pkg/endpoints/handlers/negotiation/errors.go).
    message = f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}"
    return StatusError(415, "UnsupportedMediaType", message)


def too_many_requests(retry_after: int | None) -> StatusError:
    details = {"retryAfterSeconds": retry_after} if retry_after is not None else None
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return StatusError(429, "TooManyRequests", "Too many requests, please try again later.", details, headers)


def internal_error(why: str) -> StatusError:
    details = {"causes": [{"message": why}]}
    return StatusError(500, "InternalError", f"Internal error occurred: {why}", details)


def service_unavailable(why: str, retry_after: int | None = None) -> StatusError:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return StatusError(503, "ServiceUnavailable", why, None, headers)


# The Status reason the apiserver gives each code (k8s.io/apimachinery/pkg/api/errors `NewGenericServerResponse`).
_REASONS = {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 422: "Invalid"}


def generic(code: int, retry_after: int | None = None, message: str | None = None) -> StatusError:
    """The error `KubeFake.fail_next` answers with for `code`, with `message` when one is given."""
    if message is not None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return StatusError(code, _REASONS.get(code, ""), message, None, headers)
    if code == 429:
        return too_many_requests(retry_after)
    if code == 500:
        return internal_error("injected fault")
    if code == 503:
        return service_unavailable("the server is currently unable to handle the request", retry_after)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return StatusError(code, "", f"injected fault: HTTP {code}", None, headers)


# Field errors, as k8s.io/apimachinery/pkg/util/validation/field/errors.go types and prints them.
REQUIRED = ("FieldValueRequired", "Required value")
INVALID = ("FieldValueInvalid", "Invalid value")
FORBIDDEN = ("FieldValueForbidden", "Forbidden")
TOO_LONG = ("FieldValueTooLong", "Too long")
_VALUELESS = {REQUIRED, FORBIDDEN, TOO_LONG}
_OMIT = object()


@dataclass(frozen=True)
class FieldError:
    type: tuple[str, str]
    field: str
    value: Any = field(default=_OMIT)
    detail: str = ""

    def body(self) -> str:
        """`Error.ErrorBody`: the type, the bad value as Go prints it, then the detail."""
        text = self.type[1]
        if self.type not in _VALUELESS and self.value is not _OMIT:
            if isinstance(self.value, str):
                text += f": {go_quote(self.value)}"
            elif isinstance(self.value, bool):
                text += f": {'true' if self.value else 'false'}"
            else:
                text += f": {self.value}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def invalid(kind: GroupKind, name: str, errors: list[FieldError]) -> StatusError:
    """errors.NewInvalid: 422 naming every field error; one prints bare, several as a bracketed list."""
    messages = list(dict.fromkeys(str(error) for error in errors))
    aggregate = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    causes = [{"reason": error.type[0], "message": error.body(), "field": error.field} for error in errors]
    return StatusError(
        422, "Invalid", f"{kind} {go_quote(name)} is invalid: {aggregate}", _details(kind, name, causes=causes)
    )
