"""The Kubernetes client's errors turned into syncd's, in one place (docs/connectors.md, `kubernetes`, has the table).

An ApiException's body and a urllib3 error's text can hold the request (a Secret's data), so neither is ever passed
on: messages are built from the answer's status code, the Status object's `reason` and `details` (kind, and each
cause's `field` and `reason`: names, never values) and the call syncd made. Every error is raised `from None`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from syncd.connector import retry_after_seconds
from syncd.errors import ConnectorError, PermanentError, TransientError

# Status codes worth another attempt: throttled, or the server (or what stands before it) failed.
_TRANSIENT = frozenset({429, 500, 502, 503, 504})
# The authorizer's refusal (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go `forbiddenMessage`):
# `User "NAME" cannot VERB resource "RESOURCE" ...`.
_RBAC_DENIAL = re.compile(r'\bcannot [a-z]+ resource "')


@dataclass(frozen=True)
class Call:
    """What a request tried, for its error message: the RBAC verb, the namespace, the Secret when there is one."""

    verb: str  # get, list, create, patch, delete
    namespace: str
    name: str | None = None

    @property
    def address(self) -> str | None:
        return f"{self.namespace}/{self.name}" if self.name else None


def status_of(exc: Any) -> dict[str, Any]:
    """The Status object an ApiException carries ({} when its body is not one)."""
    try:
        body = json.loads(exc.body) if getattr(exc, "body", None) else {}
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) and body.get("kind") == "Status" else {}


def retry_after(exc: Any) -> float | None:
    """The seconds the answer's `Retry-After` header asks to wait (a number or an HTTP date)."""
    headers = getattr(exc, "headers", None) or {}
    return retry_after_seconds(
        next((str(v) for k, v in dict(headers).items() if str(k).lower() == "retry-after"), None)
    )


def translate(exc: BaseException, call: Call, target: str, timeout: float) -> ConnectorError:
    """syncd's error for `exc`, raised by `call` on `target`."""
    if isinstance(exc, ConnectorError):
        return exc
    status = getattr(exc, "status", None)
    if status is None:
        return _transport(exc, call, target, timeout)
    if status == 0:
        # The client's own refusal: a TLS failure, or a request it could not build. Its text is not passed on.
        return PermanentError(
            f"the Kubernetes API server of target {target!r} could not be reached over TLS (certificate not trusted, "
            "or the handshake failed)",
            target=target,
            address=call.address,
        )
    answer = status_of(exc)
    where = f"in namespace {call.namespace!r} of target {target!r}"
    if status in _TRANSIENT:
        why = "throttled the request (HTTP 429)" if status == 429 else f"answered HTTP {status}"
        return TransientError(
            f"the Kubernetes API server {why} to {call.verb} secrets {where}",
            target=target,
            address=call.address,
            retry_after=retry_after(exc),
        )
    if status == 401:
        message = (
            f"the Kubernetes API server of target {target!r} rejected the credentials (HTTP 401): the token or "
            "client certificate of the kubeconfig or service account is invalid or expired"
        )
    elif status == 403 and by_rbac(answer):
        message = (
            f"Kubernetes RBAC does not allow syncd to {call.verb} secrets {where}; grant it with the Role "
            f"`syncd policy --target {target}` prints"
        )
    elif status == 403:
        message = (
            f"the Kubernetes API server refused to {call.verb} secrets {where} (HTTP 403), not by RBAC: an "
            "admission check such as a ResourceQuota, a namespace being deleted or a policy webhook"
        )
    elif status == 404 and (answer.get("details") or {}).get("kind") == "namespaces":
        message = (
            f"namespace {call.namespace!r} does not exist in this cluster: create it, or correct the namespace "
            "in the manifest"
        )
    elif status == 410:
        # A LIST's `continue` token expired (the listing took longer than the apiserver keeps it): list anew.
        return TransientError(
            f"the listing of secrets {where} expired before its last page (HTTP 410); it is read again",
            target=target,
            address=call.address,
        )
    elif status == 422:
        message = f"the Kubernetes API refused the Secret as invalid{_causes(answer)}"
    else:
        reason = answer.get("reason")
        reason_text = f" ({reason})" if isinstance(reason, str) and reason.isalnum() else ""
        message = f"the Kubernetes API answered HTTP {status}{reason_text} to {call.verb} secrets {where}"
    return PermanentError(message, target=target, address=call.address)


def by_rbac(answer: dict[str, Any]) -> bool:
    """Whether a 403's Status is the authorizer's ('User "x" cannot get resource "secrets" ...'), not an admission
    check's (a ResourceQuota, a terminating namespace, a webhook), which also answer 403. Only matched, never
    printed: an admission message may quote what was sent."""
    message = answer.get("message")
    return isinstance(message, str) and _RBAC_DENIAL.search(message) is not None


def _causes(answer: dict[str, Any]) -> str:
    """': field (reason), ...' from a 422 Status's causes: the field paths and reason codes, never the message,
    which may quote the refused value."""
    causes = (answer.get("details") or {}).get("causes") or []
    parts = []
    for cause in causes if isinstance(causes, list) else []:
        if not isinstance(cause, dict):
            continue
        field, reason = str(cause.get("field") or ""), str(cause.get("reason") or "")
        parts.append(f"{field} ({reason})" if field and reason else field or reason)
    shown = [p for p in dict.fromkeys(parts) if p][:10]
    return ": " + ", ".join(shown) if shown else ""


def _transport(exc: BaseException, call: Call, target: str, timeout: float) -> ConnectorError:
    """A request that got no answer: refused, timed out, broken off. Transient, named by its kind only."""
    import urllib3  # with the kubernetes client, which needs it

    server = f"the Kubernetes API server of target {target!r}"
    # NewConnectionError is a ConnectTimeoutError in urllib3 2: refused connections are told apart first.
    if isinstance(exc, urllib3.exceptions.NewConnectionError | urllib3.exceptions.NameResolutionError):
        message = f"{server} is unreachable (connection failed)"
    elif isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError):
        message = f"{server} did not answer within {timeout:g}s"
    elif isinstance(exc, urllib3.exceptions.HTTPError | OSError):
        message = f"{server} broke off the request ({type(exc).__name__})"
    else:
        return PermanentError(f"a call to {server} failed ({type(exc).__name__})", target=target, address=call.address)
    return TransientError(message, target=target, address=call.address)
