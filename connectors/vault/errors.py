"""hvac's and requests' errors turned into syncd's, in one place (docs/connectors.md, Errors, has the table). hvac's
exceptions carry the response text and the URL: only Vault's error sentences are kept, redacted and cut short, and
every error is raised `from None` so no traceback shows the original."""

from __future__ import annotations

import re
from dataclasses import dataclass

import hvac.exceptions
import requests

from syncd.errors import ConnectorError, ItemMoved, PermanentError, TransientError
from syncd.secret import REDACTOR

_MAX_REASON = 200
_TRANSIENT_STATUS = {
    hvac.exceptions.InternalServerError: 500,
    hvac.exceptions.BadGateway: 502,
    hvac.exceptions.RateLimitExceeded: 429,
}


@dataclass(frozen=True)
class Operation:
    """What a call tried, for its error message: the ACL capability it needs and the API path, without '/v1/'."""

    capability: str  # one ACL capability, or several joined by '|' when either may be checked
    api_path: str
    # The sink item or source path the error is about, when there is one.
    address: str | None = None
    # Said instead of the generic 'permission denied' sentence, when a 403 means something more specific.
    denied: str | None = None
    # A call the caller can do without: a 403 to it raises Denied, for the caller to fall back.
    optional: bool = False


class Denied(Exception):
    """A 403 to an optional call, with a token Vault still accepts: the policy lacks that capability."""


@dataclass(frozen=True)
class ErrorContext:
    """Who is calling: the Vault server for messages, the sink's target name, and the permanent error class."""

    where: str  # "Vault at ADDRESS"
    timeout: float
    target: str | None = None
    permanent: type[PermanentError] = PermanentError

    def fail(self, message: str, address: str | None = None) -> PermanentError:
        return self.permanent(message, target=self.target, address=address)


def reason(exc: hvac.exceptions.VaultError) -> str:
    """Vault's own error sentences, on one line, redacted and cut short; '' when it gave none."""
    errors = exc.errors if isinstance(exc.errors, list) else []
    text = "; ".join(str(e) for e in errors if e)
    # Vault wraps several errors as "N errors occurred:\n\t* first\n\t* second".
    text = re.sub(r"^\d+ errors? occurred:\s*", "", text.strip())
    text = re.sub(r"\s*\n\s*\*\s*", "; ", text).strip(" ;")
    text = " ".join(REDACTOR.redact(text).split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


# The sink's ItemMoved errors, for KV v2 and KV v1 alike: the item is no longer as the plan saw it.


def moved(target: str, address: str, seen: str = "", outcome: str = "nothing was written") -> ItemMoved:
    message = f"changed in Vault since the plan{seen}; {outcome}, run plan again"
    return ItemMoved(message, target=target, address=address)


def anothers(target: str, address: str, instance: str) -> ItemMoved:
    message = f"carries the ownership marker of syncd instance {instance!r}; nothing was written"
    return ItemMoved(message, target=target, address=address)


def marker_moved(target: str, address: str) -> ItemMoved:
    return ItemMoved("no longer carries the ownership marker the plan saw; left alone", target=target, address=address)


def translate(
    exc: hvac.exceptions.VaultError | OSError, op: Operation, context: ErrorContext, retry_after: float | None = None
) -> ConnectorError:
    """The syncd error for `exc`, raised by a call doing `op`; `retry_after` is the wait the answer asked for."""
    where, verb = context.where, op.capability.replace("|", "/")
    transient = _transient(exc, context)
    if transient is not None:
        return TransientError(transient, target=context.target, address=op.address, retry_after=retry_after)
    if isinstance(exc, hvac.exceptions.Forbidden):
        needs = " or ".join(repr(c) for c in op.capability.split("|"))
        message = op.denied or f"permission denied: needs {needs} on {op.api_path}"
    elif isinstance(exc, requests.exceptions.SSLError):
        message = _tls_problem(exc, where)
    elif isinstance(exc, OSError):
        message = f"cannot reach {where}: {exc.strerror or type(exc).__name__}"
    elif isinstance(exc, hvac.exceptions.InvalidPath):
        message = f"{op.api_path} does not exist"
    elif isinstance(exc, hvac.exceptions.VaultNotInitialized):
        message = f"{where} is not initialized"
    else:
        why = reason(exc)
        message = f"Vault refused to {verb} {op.api_path}" + (f": {why}" if why else "")
    return context.fail(message, op.address)


def translate_login(
    exc: Exception, method: str, mount_path: str, context: ErrorContext, retry_after: float | None = None
) -> ConnectorError:
    """The syncd error for a failed login or token lookup: transient when Vault is away, else an auth failure."""
    transient = _transient(exc, context)
    if transient is not None:
        return TransientError(transient, target=context.target, retry_after=retry_after)
    if isinstance(exc, requests.exceptions.SSLError):
        return context.fail(_tls_problem(exc, context.where))
    if isinstance(exc, hvac.exceptions.InvalidPath):
        why = f"no auth method is enabled at auth/{mount_path}"
    elif isinstance(exc, hvac.exceptions.Forbidden):
        # Vault answers 403 both to refused credentials and to a login at a path where nothing is enabled.
        why = f"permission denied (the credentials were refused, or no {method} auth method is enabled there)"
    elif isinstance(exc, hvac.exceptions.VaultError):
        why = reason(exc) or type(exc).__name__
    else:
        why = f"unexpected {type(exc).__name__}"
    return context.fail(f"authentication failed (method {method} at auth/{mount_path}): {why}")


def _transient(exc: Exception, context: ErrorContext) -> str | None:
    where = context.where
    if isinstance(exc, hvac.exceptions.VaultDown):
        return f"{where} is sealed or unavailable (HTTP 503)"
    status = next((code for cls, code in _TRANSIENT_STATUS.items() if isinstance(exc, cls)), None)
    if status is not None:
        return f"{where} answered HTTP {status}" + (" (rate limited)" if status == 429 else "")
    if isinstance(exc, hvac.exceptions.UnexpectedError):
        # A status hvac has no class for: 504 behind a load balancer, 412 from a lagging standby.
        return f"{where} answered an unexpected HTTP status"
    if isinstance(exc, requests.exceptions.Timeout):
        return f"{where} did not answer within {context.timeout:g}s"
    if isinstance(exc, requests.exceptions.SSLError):
        return None
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"{where} is unreachable (connection failed)"
    if isinstance(exc, requests.exceptions.RequestException):
        return f"{where} broke off the answer ({type(exc).__name__})"
    return None


def _tls_problem(exc: requests.exceptions.SSLError, where: str) -> str:
    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return f"the TLS certificate of {where} is not trusted; set ca_cert to the CA that signed it"
    return f"the TLS handshake with {where} failed"
