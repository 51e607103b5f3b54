"""python-gitlab's and requests' errors turned into syncd's, in one place (docs/connectors.md, `gitlab`, Errors).

python-gitlab's exceptions carry the response body and their text can hold URLs and bodies (a 400 may quote what
was sent): no message here is built from them. Only the status code and, for a 400, the names of the fields GitLab
refused are read; every error is raised `from None`, so no traceback shows the original.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import gitlab.exceptions
import requests

from connectors.gitlab.address import Owner
from syncd.errors import ConnectorError, PermanentError, TransientError

# The role GitLab asks of a token's user to manage CI/CD variables (docs.gitlab.com/ci/variables, "For a
# project" and "For a group").
ROLE = {"project": "Maintainer", "group": "Owner", "instance": "Administrator"}
TAKEN = "has already been taken"
_FIELD = re.compile(r"[a-z_]{1,40}")


@dataclass(frozen=True)
class Operation:
    """What a call tried, for its error message."""

    verb: str  # "list", "read", "create", "update", "delete"
    owner: Owner
    address: str | None = None
    key: str | None = None


def _message(exc: gitlab.exceptions.GitlabError) -> object:
    """The `message` of an error answer's JSON body (None when there is none); read, never shown."""
    try:
        body = json.loads(exc.response_body or b"{}")
    except (ValueError, TypeError):
        return None
    return body.get("message") if isinstance(body, dict) else None


def refused_fields(exc: gitlab.exceptions.GitlabError) -> list[str]:
    """The names of the fields a 400 refused (`{"message": {"value": [...]}}`), never their messages."""
    message = _message(exc)
    names = message if isinstance(message, dict) else {}
    return sorted(name for name in names if isinstance(name, str) and _FIELD.fullmatch(name))


def variable_missing(exc: gitlab.exceptions.GitlabError) -> bool:
    """Whether a 404 is about the variable (`404 Variable Not Found`), not its project or group."""
    if exc.response_code != 404:
        return False
    message = _message(exc)
    return isinstance(message, str) and "Variable" in message


def already_taken(exc: gitlab.exceptions.GitlabError) -> bool:
    """Whether a create's 400 says the key is taken in that scope (`{"message": {"key": ["(K) has already been
    taken"]}}`): read inside the body, never shown."""
    if exc.response_code != 400:
        return False
    message = _message(exc)
    keys = message.get("key") if isinstance(message, dict) else None
    return isinstance(keys, list) and any(isinstance(k, str) and k.endswith(TAKEN) for k in keys)


def translate(
    exc: Exception, op: Operation, *, target: str, where: str, timeout: float, retry_after: float | None = None
) -> ConnectorError:
    """The syncd error for `exc`, raised by a call doing `op` against GitLab at `where`."""
    owner, address = op.owner, op.address
    if isinstance(exc, requests.exceptions.SSLError):
        return PermanentError(
            f"the TLS certificate of GitLab at {where} is not trusted (set ca_file to the CA that signed it), or "
            "the TLS handshake failed",
            target=target,
            address=address,
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return TransientError(f"GitLab at {where} did not answer within {timeout:g}s", target=target, address=address)
    if isinstance(exc, requests.exceptions.RequestException):
        return TransientError(
            f"GitLab at {where} is unreachable or broke off the answer ({type(exc).__name__})",
            target=target,
            address=address,
        )
    status = exc.response_code if isinstance(exc, gitlab.exceptions.GitlabError) else None
    if status == 429:
        message = f"GitLab at {where} is rate limiting syncd (HTTP 429)"
        return TransientError(message, target=target, address=address, retry_after=retry_after)
    if status is not None and status >= 500:
        return TransientError(f"GitLab at {where} answered HTTP {status}", target=target, address=address)
    if status == 401 or isinstance(exc, gitlab.exceptions.GitlabAuthenticationError):
        message = f"GitLab at {where} refused the token (HTTP 401): it is invalid, expired or revoked"
    elif status == 403:
        message = (
            f"GitLab refused to let the token {op.verb} CI/CD variables of {owner} (HTTP 403): it needs the 'api' "
            + (
                "scope and an administrator's account"
                if owner.kind == "instance"
                else f"scope and at least the {ROLE[owner.kind]} role on {owner}"
            )
        )
    elif status == 404:
        message = f"{owner} does not exist on GitLab at {where}, or the token cannot see it (HTTP 404)"
    elif status == 409:
        message = (
            f"GitLab found several variables {op.key} on {owner} for one {op.verb} (HTTP 409: it did not apply the "
            "environment scope filter, which it documents for Premium and Ultimate); nothing was changed"
        )
    elif status == 400:
        fields = refused_fields(exc)  # type: ignore[arg-type]
        named = f" (fields: {', '.join(fields)})" if fields else ""
        message = f"GitLab refused to {op.verb} variable {op.key} on {owner}{named} (HTTP 400)"
    else:
        message = f"GitLab refused to {op.verb} CI/CD variables of {owner}" + (f" (HTTP {status})" if status else "")
    return PermanentError(message, target=target, address=address)
