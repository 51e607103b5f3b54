"""A fake GitLab REST API over real HTTP on a loopback port, for the gitlab connector tests; python-gitlab talks to it
unchanged.

No GitLab server fits a test run (the real one needs PostgreSQL, Redis and minutes to boot; PyPI's gitlab-emulator
runs .gitlab-ci.yml jobs, not the API), so this one answers the part syncd uses: CI/CD variables of projects, groups
and the instance, with GitLab's documented fields, validation, error bodies, roles and offset pagination
(tests/fakes/gitlab_rules.py names the source of each rule; tests/fakes/gitlab_api.py serves the endpoints).

PYTEST_DONT_REWRITE: the module has no asserts, and test modules import it before their conftest.py loads it.

Use the `gitlab_fake` fixture (a fresh server per test: project `platform/app`, group `platform`, `ADMIN_TOKEN` and
`MAINTAINER_TOKEN`, a maintainer of the project) and `gitlab_client`:

    def test_reads(gitlab_fake: GitLabFake) -> None:
        gitlab_fake.put_variable("project", "platform/app", key="DB_PASSWORD", value="longenough", masked=True)
        project = gitlab_client(gitlab_fake, MAINTAINER_TOKEN).projects.get("platform/app", lazy=True)
        assert [v.key for v in project.variables.list(get_all=True, per_page=100)] == ["DB_PASSWORD"]
        assert [(r.method, r.query) for r in gitlab_fake.requests] == [("GET", {"per_page": "100"})]
        gitlab_fake.fail_next("PUT", r"/variables/DB_PASSWORD$", 429, retry_after=7)  # the next update's answer

python-gitlab retries a 429 itself (sleeping Retry-After) unless a call passes `obey_rate_limit=False`;
`retry_transient_errors=False` only stops its retries of 5xx and dropped connections.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import gitlab
import pytest

from tests.fakes import gitlab_api
from tests.fakes.gitlab_rules import ROLE_LEVELS, VARIABLE_LIMITS, Kind, new_variable
from tests.fakes.http_server import TrackingServer

ADMIN_TOKEN = "fake-admin-token"
MAINTAINER_TOKEN = "fake-maintainer-token"
READY_PATH = "/-/readiness"
START_DEADLINE_SECONDS = 10.0
POLL_SECONDS = 0.01
# An idle keep-alive connection's handler thread ends after this long.
IDLE_SECONDS = 10.0


class Request(NamedTuple):
    """One request as the server received it: the path as sent (still URL-encoded) and the query's parameters."""

    method: str
    path: str
    query: dict[str, str]


@dataclass
class Token:
    token: str
    user_id: int
    username: str
    roles: dict[tuple[str, str], str]
    admin: bool
    scopes: tuple[str, ...]


@dataclass
class Owner:
    """A project, a group, or the instance, with its variables in creation order (GitLab lists them by id)."""

    kind: Kind
    id: int
    path: str
    variables: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Rule:
    method: str
    path: re.Pattern[str]
    times: int | None

    def take(self, request: Request) -> bool:
        """Whether the rule applies to `request`; a match uses up one of its times."""
        if self.times == 0 or self.method not in ("*", request.method) or not self.path.search(request.path):
            return False
        if self.times is not None:
            self.times -= 1
        return True


@dataclass
class _Failure(_Rule):
    status: int = 500
    retry_after: int | str | None = None


@dataclass
class _Hook(_Rule):
    callback: Callable[[Request], None] = lambda request: None


class GitLabFake:
    """The server's state and its test controls; `start()` serves it on a free loopback port."""

    ADMIN_TOKEN = ADMIN_TOKEN
    # Whether group variables take an environment scope (GitLab Premium and Ultimate). False models Free: EE's
    # `filter_variable_parameters` drops `environment_scope` from a group's create and update, so they land at `*`.
    group_scopes_licensed = True

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.owners: dict[tuple[Kind, str], Owner] = {("instance", ""): Owner("instance", 0, "")}
        self.tokens: dict[str, Token] = {}
        self._requests: list[Request] = []
        self._failures: list[_Failure] = []
        self._hooks: list[_Hook] = []
        # Distinct id ranges, so that a group's id used as a project's answers 404 as it would on most instances.
        self._ids: dict[str, Iterator[int]] = {"project": itertools.count(1001), "group": itertools.count(2001)}
        self._user_ids = itertools.count(1)
        self._server: TrackingServer | None = None
        # GitLab's plan limits on the number of variables; a test may lower one to reach it cheaply.
        self.variable_limits: dict[Kind, int | None] = dict(VARIABLE_LIMITS)
        # Exceptions raised while serving (a hook's, or the fake's own); the fixture raises the first at teardown.
        self.errors: list[BaseException] = []
        self.add_token(ADMIN_TOKEN, "root", {}, admin=True)

    # Setup

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake GitLab server is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_project(self, path: str, id: int | None = None) -> int:
        """A project at its full path (`group/sub/app`); answers by id and by URL-encoded path. Returns its id."""
        return self._add_owner("project", path, id)

    def add_group(self, path: str, id: int | None = None) -> int:
        """A group or subgroup at its full path; answers by id and by URL-encoded path. Returns its id."""
        return self._add_owner("group", path, id)

    def _add_owner(self, kind: Kind, path: str, id: int | None) -> int:
        with self.lock:
            if self.find_owner(kind, path) is not None:
                raise ValueError(f"the fake already has a {kind} at {path}")
            owner_id = next(self._ids[kind]) if id is None else id
            if any(owner.kind == kind and owner.id == owner_id for owner in self.owners.values()):
                raise ValueError(f"the fake already has a {kind} with id {owner_id}")
            self.owners[(kind, path.lower())] = Owner(kind, owner_id, path)
            return owner_id

    def add_token(
        self,
        token: str,
        username: str,
        roles: Mapping[tuple[str, str], str] | None = None,
        admin: bool = False,
        scopes: tuple[str, ...] = ("api",),
    ) -> None:
        """A personal access token of a user with these roles: {("project"|"group", path): "guest".."owner"}.

        A group's role reaches its subgroups and projects, as GitLab's inherited membership does. `admin` can do
        everything. `scopes` as GitLab's: "api" for everything, "read_api" for GET requests only.
        """
        for role in (roles or {}).values():
            if role not in ROLE_LEVELS:
                raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLE_LEVELS)}")
        with self.lock:
            roles_by_path = {(kind, path.lower()): role for (kind, path), role in (roles or {}).items()}
            self.tokens[token] = Token(token, next(self._user_ids), username, roles_by_path, admin, tuple(scopes))

    # Out-of-band state, for arranging and asserting

    def variables(self, kind: Kind, path: str = "") -> list[dict[str, Any]]:
        """The variables stored on a project, group or the instance (path ""), hidden values included."""
        with self.lock:
            return [dict(variable) for variable in self._owner(kind, path).variables]

    def put_variable(self, kind: Kind, path: str = "", **fields: Any) -> dict[str, Any]:
        """Create or replace a variable as a person would in the UI, without the API's validation.

        Fields as the API names them (`key` and `value` at least); `hidden=True` plants a hidden variable. A variable
        with the same key and environment scope is replaced in its place.
        """
        with self.lock:
            owner = self._owner(kind, path)
            variable = new_variable(kind, fields)
            if "hidden" in fields and kind != "instance":
                variable["hidden"] = bool(fields["hidden"])
            for index, other in enumerate(owner.variables):
                if other["key"] == variable["key"] and other.get("environment_scope") == variable.get(
                    "environment_scope"
                ):
                    owner.variables[index] = variable
                    break
            else:
                owner.variables.append(variable)
            return dict(variable)

    def delete_variable(self, kind: Kind, path: str = "", key: str = "", environment_scope: str = "*") -> None:
        """Delete a variable out of band; nothing happens when it does not exist."""
        with self.lock:
            owner = self._owner(kind, path)
            owner.variables = [
                variable
                for variable in owner.variables
                if not (variable["key"] == key and variable.get("environment_scope", "*") == environment_scope)
            ]

    def find_owner(self, kind: Kind, path: str) -> Owner | None:
        with self.lock:
            return self.owners.get((kind, path.lower()))

    def _owner(self, kind: Kind, path: str) -> Owner:
        owner = self.find_owner(kind, path)
        if owner is None:
            raise KeyError(f"the fake has no {kind} at {path!r}")
        return owner

    # Requests, faults and hooks

    @property
    def requests(self) -> list[Request]:
        """Every request received so far, in order (faulted ones included)."""
        with self.lock:
            return list(self._requests)

    def fail_next(
        self, method: str, path_regex: str, status: int, times: int | None = 1, retry_after: int | str | None = None
    ) -> None:
        """Answer the next `times` requests (None: all) whose method is `method` ("*": any) and whose path as sent
        (URL-encoded, no query) matches `path_regex` (re.search) with `status`, before auth and without acting on
        them: 429 as GitLab's rate limiter does ("Retry later"), 502/503 as its proxy does, others with a JSON
        message. `retry_after` adds a Retry-After header (seconds, or any text such as an HTTP date)."""
        with self.lock:
            self._failures.append(_Failure(method.upper(), re.compile(path_regex), times, status, retry_after))

    def before(self, method: str, path_regex: str, callback: Callable[[Request], None], times: int | None = 1) -> None:
        """Call `callback(request)` when a matching request arrives (as `fail_next` matches), before the server acts on
        it or injects a fault, `times` times (None: every time). It runs in the server's thread, outside the lock, so it
        may change state (`put_variable`, `delete_variable`) to stage a race with another writer."""
        with self.lock:
            self._hooks.append(_Hook(method.upper(), re.compile(path_regex), times, callback))

    def receive(self, request: Request) -> tuple[Callable[[Request], None] | None, _Failure | None]:
        """Record a request; the hooks to run and the failure to inject for it."""
        with self.lock:
            self._requests.append(request)
            hooks = [hook.callback for hook in self._hooks if hook.take(request)]
            failure = next((failure for failure in self._failures if failure.take(request)), None)

        def run_hooks(request: Request) -> None:
            for callback in hooks:
                callback(request)

        return (run_hooks if hooks else None), failure

    # Serving

    def start(self) -> GitLabFake:
        """Serve on a free loopback port; returns once the server answers."""
        self._server = TrackingServer(("127.0.0.1", 0), _handler_for(self))
        # A short poll interval: shutdown() waits for it.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while True:
            try:
                with opener.open(self.url + READY_PATH, timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the fake GitLab server did not answer in time") from None
            time.sleep(POLL_SECONDS)

    def stop(self) -> None:
        """Stop serving and drop open connections: a client then fails to connect, as with a server that is down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()


def _handler_for(fake: GitLabFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = IDLE_SECONDS

        def _serve(self) -> None:
            try:
                reply = self._reply()
            except Exception as error:
                fake.errors.append(error)
                reply = gitlab_api.Reply(500, {"message": "500 Internal Server Error"})
            self._send(reply)

        def _reply(self) -> gitlab_api.Reply:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            if parts.path == READY_PATH:
                return gitlab_api.Reply(200, {"status": "ok"})
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            request = Request(self.command, parts.path, query)
            run_hooks, failure = fake.receive(request)
            if run_hooks is not None:
                run_hooks(request)
            if failure is not None:
                return gitlab_api.injected(failure.status, failure.retry_after)
            base_url = f"http://{self.headers.get('Host') or fake.url.removeprefix('http://')}"
            return gitlab_api.handle(fake, request, parts.query, dict(self.headers.items()), body, base_url)

        def _send(self, reply: gitlab_api.Reply) -> None:
            payload = reply.payload()
            self.send_response(reply.status)
            for name, value in reply.all_headers().items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def gitlab_client(fake: GitLabFake, token: str) -> gitlab.Gitlab:
    """A python-gitlab client of the fake with this token; it leaves 5xx retries to the caller."""
    return gitlab.Gitlab(fake.url, private_token=token, retry_transient_errors=False, keep_base_url=True)


def new_gitlab_fake() -> GitLabFake:
    """A started server holding project platform/app, group platform, ADMIN_TOKEN and MAINTAINER_TOKEN."""
    fake = GitLabFake()
    fake.add_group("platform")
    fake.add_project("platform/app")
    fake.add_token(MAINTAINER_TOKEN, "maintainer", {("project", "platform/app"): "maintainer"})
    return fake.start()


@pytest.fixture
def gitlab_fake() -> Iterator[GitLabFake]:
    """A fresh fake GitLab per test (~ms to start); see the module's docstring."""
    fake = new_gitlab_fake()
    yield fake
    fake.stop()
    if fake.errors:
        raise fake.errors[0]
