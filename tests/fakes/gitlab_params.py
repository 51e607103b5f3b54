"""Request parameters as GitLab's Grape layer reads them, for the fake GitLab server (tests/fakes/gitlab_api.py).

Query and body parameters merge (Rack's nested `filter[environment_scope]` included); declared parameters are coerced
to their type, and every missing or ill-typed one is named in one 400 `error`.

PYTEST_DONT_REWRITE: the module has no asserts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes.gitlab_rules import BOOLEAN_FIELDS, VARIABLE_TYPES, Kind

# Grape's Boolean coercion (dry-types' params bool).
_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}


class BadParams(Exception):
    """A 400 from the parameters' check; its text is the `error` GitLab answers."""


def variable_fields(kind: Kind, params: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    """The declared parameters present, coerced as Grape does; raises BadParams naming every bad one."""
    problems: list[str] = []
    fields: dict[str, Any] = {}
    if creating:
        problems += [f"{name} is missing" for name in ("key", "value") if params.get(name) is None]
    for name in ("key", "value", "description", "environment_scope"):
        if name == "environment_scope" and kind == "instance":
            continue
        if name in params and params[name] is not None:
            if isinstance(params[name], dict | list):
                problems.append(f"{name} is invalid")
            else:
                fields[name] = _text(params[name])
        elif name == "description" and name in params:
            fields[name] = None
    booleans = BOOLEAN_FIELDS + (("masked_and_hidden",) if creating and kind != "instance" else ())
    for name in booleans:
        if name in params and params[name] is not None:
            value = _boolean(params[name])
            if value is None:
                problems.append(f"{name} is invalid")
            else:
                fields[name] = value
    if "variable_type" in params:
        if params["variable_type"] in VARIABLE_TYPES:
            fields["variable_type"] = params["variable_type"]
        else:
            problems.append("variable_type does not have a valid value")
    if problems:
        raise BadParams(", ".join(problems))
    return fields


def scope_filter(params: Mapping[str, Any]) -> str | None:
    """`filter[environment_scope]`, from the query or the body (Grape merges both); blank means no filter."""
    given = params.get("filter")
    if given is None:
        return None
    if not isinstance(given, dict):
        raise BadParams("filter is invalid")
    scope = given.get("environment_scope")
    return str(scope) if scope not in (None, "") else None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def integer(params: Mapping[str, Any], name: str, default: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadParams(f"{name} is invalid") from None


def nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Query or form pairs as Rack reads them: `filter[environment_scope]=x` becomes {"filter": {...}}."""
    params: dict[str, Any] = {}
    for name, value in pairs:
        outer, bracket, rest = name.partition("[")
        if bracket and rest.endswith("]"):
            nested = params.setdefault(outer, {})
            if isinstance(nested, dict):
                nested[rest[:-1]] = value
        else:
            params[name] = value
    return params


def body_params(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), "")
    if content_type.startswith("application/json"):
        try:
            parsed = json.loads(body)
        except ValueError:
            raise BadParams("The request body is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise BadParams("The request body is not a JSON object")
        return parsed
    if content_type.startswith("application/x-www-form-urlencoded"):
        return nested(parse_qsl(body.decode(), keep_blank_values=True))
    return {}
