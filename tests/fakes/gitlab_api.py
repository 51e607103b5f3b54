"""The endpoints of the fake GitLab server (tests/fakes/gitlab.py): routing, auth, parameters, variables, pagination.

The order of checks is GitLab's (Grape): an unknown route answers 404 before auth; then the token (401), its scopes
(403), the project or group (404 when the token cannot see it, 403 when its role is too low), the parameters' types
(400 with `error`), the variable (404, 409) and the model's validation (400 with `message`).

PYTEST_DONT_REWRITE: the module has no asserts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode

from tests.fakes.gitlab_params import BadParams, body_params, integer, nested, scope_filter, variable_fields
from tests.fakes.gitlab_rules import (
    DEFAULT_PER_PAGE,
    FORBIDDEN,
    MAX_PER_PAGE,
    OWNER_NOT_FOUND,
    ROLE_LEVELS,
    SEVERAL_MATCH,
    UNAUTHORIZED,
    VARIABLE_NOT_FOUND,
    VARIABLES_ROLE,
    Kind,
    api_view,
    new_variable,
    validation_errors,
)

if TYPE_CHECKING:
    from tests.fakes.gitlab import GitLabFake, Owner, Request, Token

API_PREFIX = "/api/v4/"
# The body GitLab's OAuth layer gives a token that lacks the scope a route needs.
INSUFFICIENT_SCOPE = {
    "error": "insufficient_scope",
    "error_description": "The request requires higher privileges than provided by the access token.",
    "scope": "api",
}


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()

    def all_headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type, **self.headers}


def injected(status: int, retry_after: int | str | None) -> Reply:
    """A fault as GitLab's front layers answer it: Rack::Attack's 429 in plain text, the proxy's 5xx page in HTML."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    if status == 429:
        return Reply(429, "Retry later\n", headers, "text/plain")
    if status in (502, 503, 504):
        page = f"<html><head><title>{status} {phrase}</title></head><body><h1>{status} {phrase}</h1></body></html>"
        return Reply(status, page, headers, "text/html")
    return Reply(status, {"message": f"{status} {phrase}"}, headers)


def handle(
    fake: GitLabFake, request: Request, raw_query: str, headers: Mapping[str, str], body: bytes, base_url: str
) -> Reply:
    if not request.path.startswith(API_PREFIX):
        return Reply(404, {"error": "404 Not Found"})
    segments = [unquote(segment) for segment in request.path[len(API_PREFIX) :].split("/")]
    route = _route(segments)
    if route is None:
        return Reply(404, {"error": "404 Not Found"})
    name, methods = route
    # Grape answers HEAD wherever it answers GET (the handler sends no body).
    method = "GET" if request.method == "HEAD" else request.method
    if method not in methods:
        return Reply(405, {"error": "405 Not Allowed"})
    with fake.lock:
        token = _token(fake, headers)
        if token is None:
            return Reply(401, {"message": UNAUTHORIZED})
        if not _scope_allows(token, name, method):
            return Reply(403, INSUFFICIENT_SCOPE)
        try:
            params = {**nested(parse_qsl(raw_query, keep_blank_values=True)), **body_params(headers, body)}
        except BadParams as error:
            return Reply(400, {"error": str(error)})
        if name == "user":
            return Reply(200, _user_view(token, base_url))
        if name == "token":
            return Reply(200, _token_view(token))
        if name == "admin_variables":
            if not token.admin:
                return Reply(403, {"message": FORBIDDEN})
            owner = fake.owners[("instance", "")]
            key = segments[3] if len(segments) > 3 else None
            limit = fake.variable_limits["instance"]
            return _variables(owner, key, method, params, base_url + request.path, {}, limit)
        kind: Kind = "project" if segments[0] == "projects" else "group"
        owner_or_reply = _visible_owner(fake, token, kind, segments[1])
        if isinstance(owner_or_reply, Reply):
            return owner_or_reply
        owner = owner_or_reply
        if name == "owner":
            return Reply(200, _owner_view(fake, owner, base_url))
        if _level(token, owner) < ROLE_LEVELS[VARIABLES_ROLE[kind]]:
            return Reply(403, {"message": FORBIDDEN})
        key = segments[3] if len(segments) > 3 else None
        limit = fake.variable_limits[kind]
        if kind == "group" and not fake.group_scopes_licensed:
            # EE's filter_variable_parameters: without the licensed feature a group's scope parameter is dropped (the
            # filter stays: API::GroupVariables reads it from `params`, not from the filtered ones).
            params.pop("environment_scope", None)
        return _variables(owner, key, method, params, base_url + request.path, {"id": segments[1]}, limit)


def _route(segments: list[str]) -> tuple[str, frozenset[str]] | None:
    """The endpoint's name and methods for the path's segments (after /api/v4/), None for an unknown route."""
    if "" in segments:
        return None
    read, collection, member = frozenset({"GET"}), frozenset({"GET", "POST"}), frozenset({"GET", "PUT", "DELETE"})
    match segments:
        case ["user"]:
            return "user", read
        case ["personal_access_tokens", "self"]:
            return "token", read
        case ["projects" | "groups", _]:
            return "owner", read
        case ["projects" | "groups", _, "variables"]:
            return "variables", collection
        case ["projects" | "groups", _, "variables", _]:
            return "variables", member
        case ["admin", "ci", "variables"]:
            return "admin_variables", collection
        case ["admin", "ci", "variables", _]:
            return "admin_variables", member
    return None


def _token(fake: GitLabFake, headers: Mapping[str, str]) -> Token | None:
    lowered = {name.lower(): value for name, value in headers.items()}
    secret = lowered.get("private-token")
    if secret is None and lowered.get("authorization", "").startswith("Bearer "):
        secret = lowered["authorization"].removeprefix("Bearer ")
    return fake.tokens.get(secret) if secret else None


def _scope_allows(token: Token, route: str, method: str) -> bool:
    """docs.gitlab.com/user/profile/personal_access_tokens/#personal-access-token-scopes."""
    if route == "token" or "api" in token.scopes:
        return True
    if route == "user" and "read_user" in token.scopes:
        return True
    return method == "GET" and "read_api" in token.scopes


def _visible_owner(fake: GitLabFake, token: Token, kind: Kind, id_or_path: str) -> Owner | Reply:
    """The project or group, or a 404 when it does not exist or the token cannot see it (all are private)."""
    if id_or_path.isdigit():
        owner = next((o for o in fake.owners.values() if o.kind == kind and o.id == int(id_or_path)), None)
    else:
        owner = fake.find_owner(kind, id_or_path)
    if owner is None or not _can_see(token, owner):
        return Reply(404, {"message": OWNER_NOT_FOUND[kind]})
    return owner


def _level(token: Token, owner: Owner) -> int:
    """The token's access level on the owner: its own role or one inherited from an ancestor group."""
    if token.admin:
        return ROLE_LEVELS["owner"]
    path = owner.path.lower()
    levels = [
        ROLE_LEVELS[role]
        for (kind, role_path), role in token.roles.items()
        if (kind == owner.kind and role_path == path) or (kind == "group" and path.startswith(role_path + "/"))
    ]
    return max(levels, default=0)


def _can_see(token: Token, owner: Owner) -> bool:
    """A member sees the project or group; a member of a project or subgroup inside a group sees that group too."""
    if _level(token, owner) > 0:
        return True
    prefix = owner.path.lower() + "/"
    return owner.kind == "group" and any(role_path.startswith(prefix) for _, role_path in token.roles)


def _variables(
    owner: Owner,
    key: str | None,
    method: str,
    params: dict[str, Any],
    url: str,
    route_params: dict[str, str],
    limit: int | None,
) -> Reply:
    kind = owner.kind
    if key is None and method == "GET":
        return _page(owner.variables, params, url, route_params, lambda variable: api_view(kind, variable))
    try:
        fields = variable_fields(kind, params, creating=key is None)
        scope = scope_filter(params)
    except BadParams as error:
        return Reply(400, {"error": str(error)})
    if key is None:
        variable = new_variable(kind, fields)
        errors = validation_errors(kind, variable, owner.variables, limit=limit)
        if errors:
            return Reply(400, {"message": errors})
        owner.variables.append(variable)
        return Reply(201, api_view(kind, variable))
    found = _find(owner, key, scope, method, "filter" in params)
    if isinstance(found, Reply):
        return found
    if method == "GET":
        return Reply(200, api_view(kind, found))
    index = next(i for i, variable in enumerate(owner.variables) if variable is found)
    if method == "DELETE":
        del owner.variables[index]
        return Reply(204)
    fields.pop("key", None)
    updated = {**found, **fields}
    if kind != "instance":
        # HasEnvironmentScope#environment_scope= stores `new_environment_scope.to_s.strip`.
        updated["environment_scope"] = str(updated["environment_scope"]).strip()
    others = [variable for variable in owner.variables if variable is not found]
    errors = validation_errors(kind, updated, others, before=found)
    if errors:
        return Reply(400, {"message": errors})
    owner.variables[index] = updated
    return Reply(200, api_view(kind, updated))


def _find(owner: Owner, key: str, scope: str | None, method: str, filter_given: bool) -> dict[str, Any] | Reply:
    """API::Helpers::VariablesHelpers#find_variable: the one variable with this key (and scope, when filtered)."""
    not_found = Reply(404, {"message": VARIABLE_NOT_FOUND[owner.kind]})
    with_key = [variable for variable in owner.variables if variable["key"] == key]
    if owner.kind == "instance":
        return with_key[0] if with_key else not_found
    if owner.kind == "group" and method == "PUT":
        # API::GroupVariables#put keeps its pre-filter behaviour (gitlab-org/gitlab MR 136475): without `filter` it
        # updates the first variable with the key, in any scope; with a filter matching none it falls back to the
        # same lookup (Ci::ChangeVariableService#find_variable). Only a filter matching one variable is exact.
        matches = [variable for variable in with_key if scope and variable["environment_scope"] == scope]
        if filter_given and matches:
            return matches[0]
        return with_key[0] if with_key else not_found
    matches = [variable for variable in with_key if not scope or variable["environment_scope"] == scope]
    if len(matches) > 1:
        return Reply(409, {"message": SEVERAL_MATCH})
    return matches[0] if matches else not_found


def _page(
    items: list[dict[str, Any]],
    params: dict[str, Any],
    url: str,
    route_params: dict[str, str],
    view: Callable[[dict[str, Any]], dict[str, Any]],
) -> Reply:
    """Gitlab::Pagination::OffsetPagination and OffsetHeaderBuilder, with Kaminari's page arithmetic; `view` makes what
    the API shows of each item on the page (only those: a listing of n items in pages costs n views, not n per page)."""
    try:
        page = integer(params, "page", 1)
        per_page = integer(params, "per_page", DEFAULT_PER_PAGE)
    except BadParams as error:
        return Reply(400, {"error": str(error)})
    # The docs are silent on values below 1; the fake serves the first page and the default size for them.
    page = max(page, 1)
    per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)
    total = len(items)
    total_pages = max(math.ceil(total / per_page), 1)
    next_page = page + 1 if page < total_pages else None
    prev_page = page - 1 if 1 < page <= total_pages else None
    flat = {name: value for name, value in params.items() if isinstance(value, str)}

    def href(number: int) -> str:
        query = {**flat, **route_params, "page": str(number), "per_page": str(per_page)}
        return f"{url}?{urlencode(sorted(query.items()))}"

    links = [f'<{href(prev_page)}>; rel="prev"'] if prev_page else []
    links += [f'<{href(next_page)}>; rel="next"'] if next_page else []
    links += [f'<{href(1)}>; rel="first"', f'<{href(total_pages)}>; rel="last"']
    headers = {
        "X-Per-Page": str(per_page),
        "X-Page": str(page),
        "X-Next-Page": str(next_page or ""),
        "X-Prev-Page": str(prev_page or ""),
        "Link": ", ".join(links),
        "X-Total": str(total),
        "X-Total-Pages": str(total_pages),
    }
    return Reply(200, [view(item) for item in items[(page - 1) * per_page : page * per_page]], headers)


def _user_view(token: Token, base_url: str) -> dict[str, Any]:
    """GET /user; `is_admin` is shown to administrators only (Entities::UserWithAdmin)."""
    view: dict[str, Any] = {
        "id": token.user_id,
        "username": token.username,
        "name": token.username,
        "state": "active",
        "web_url": f"{base_url}/{token.username}",
    }
    if token.admin:
        view["is_admin"] = True
    return view


def _token_view(token: Token) -> dict[str, Any]:
    """GET /personal_access_tokens/self (docs.gitlab.com/api/personal_access_tokens)."""
    return {
        "id": token.user_id,
        "name": f"{token.username}-token",
        "revoked": False,
        "created_at": "2026-01-01T00:00:00.000Z",
        "scopes": list(token.scopes),
        "user_id": token.user_id,
        "last_used_at": None,
        "active": True,
        "expires_at": None,
    }


def _owner_view(fake: GitLabFake, owner: Owner, base_url: str) -> dict[str, Any]:
    parent_path, _, name = owner.path.rpartition("/")
    view: dict[str, Any] = {"id": owner.id, "name": name, "path": name, "web_url": f"{base_url}/{owner.path}"}
    if owner.kind == "project":
        return {**view, "path_with_namespace": owner.path, "name_with_namespace": owner.path.replace("/", " / ")}
    parent = fake.find_owner("group", parent_path) if parent_path else None
    return {
        **view,
        "full_path": owner.path,
        "full_name": owner.path.replace("/", " / "),
        "parent_id": parent and parent.id,
    }
