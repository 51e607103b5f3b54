"""python-gitlab's errors as syncd's (connectors/gitlab/errors.py): built from the status alone, never from a body
that could echo a value. No server."""

from __future__ import annotations

import json

import gitlab.exceptions
import pytest

from connectors.gitlab.address import Owner
from connectors.gitlab.errors import Operation, already_taken, translate, variable_missing
from syncd.errors import PermanentError, TransientError

PLANTED = "PLANTED-echoed-value-8d21"
OP = Operation("create", Owner("project", "platform/app"), "project/platform/app/DB_PASSWORD", "DB_PASSWORD")


def error(status: int, body: object, kind: type[gitlab.exceptions.GitlabError] = gitlab.exceptions.GitlabCreateError):
    raw = json.dumps(body).encode()
    return kind(error_message=f"{PLANTED} {raw.decode()}", response_code=status, response_body=raw)


def translated(exc: Exception) -> PermanentError | TransientError:
    found = translate(exc, OP, target="gitlab-main", where="https://gitlab.example.com", timeout=30, retry_after=None)
    assert isinstance(found, PermanentError | TransientError)
    return found


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 418, 429, 500, 502])
def test_no_message_shows_the_body_or_pythongitlabs_text(status: int) -> None:
    """Whatever the status, the message is syncd's own: a value echoed in the body or in python-gitlab's error text
    never reaches it."""
    found = translated(error(status, {"message": {"value": [f"{PLANTED} is invalid"]}}))
    assert PLANTED not in str(found) + repr(found.args)
    assert found.__cause__ is None


def test_a_400_names_the_refused_fields_only() -> None:
    """A 400 names the variable, its owner and the fields GitLab refused, not GitLab's sentences."""
    found = translated(error(400, {"message": {"value": ["is invalid"], "description": ["is too long"]}}))
    assert isinstance(found, PermanentError)
    assert str(found) == (
        "target 'gitlab-main', item 'project/platform/app/DB_PASSWORD': GitLab refused to create variable "
        "DB_PASSWORD on project platform/app (fields: description, value) (HTTP 400)"
    )


def test_taken_and_missing_are_read_from_the_body() -> None:
    """A create's 'has already been taken' and a variable's 404 are told apart from other 400s and 404s."""
    assert already_taken(error(400, {"message": {"key": ["(DB_PASSWORD) has already been taken"]}}))
    assert not already_taken(error(400, {"message": {"value": ["is invalid"]}}))
    assert variable_missing(error(404, {"message": "404 Variable Not Found"}))
    assert variable_missing(error(404, {"message": "404 GroupVariable Not Found"}))
    assert not variable_missing(error(404, {"message": "404 Project Not Found"}))
