"""A fake Kubernetes API server over real HTTP on loopback, for the kubernetes connector and Lease elector tests.

The official `kubernetes` client talks to it unchanged, through a kubeconfig (`kubeconfig_for`). It serves core v1
`secrets` and `coordination.k8s.io/v1` `leases` in the namespaces it knows: create, get, list (label and field
selectors, limit and continue), replace (PUT), patch (strategic merge, merge and JSON patch), delete (with
preconditions) and deletecollection, dryRun=All; and namespaces read-only. Everything the apiserver refuses it
refuses with the apiserver's `Status` and words: 409 Conflict on a stale resourceVersion and AlreadyExists, 404
NotFound, 400 BadRequest for a body that does not decode, 422 Invalid for one that breaks a validation rule, 401 and,
once `load_rbac` gave it roles, 403 Forbidden. Each module says where its rules come from:
tests/fakes/kube_validation.py (422 rules), kube_objects.py (decoding), kube_api.py (the verbs), kube_patch.py,
kube_selectors.py, kube_rbac.py, kube_status.py (the errors), kube_http.py (routing and the server).

Not served: watch (400), server-side apply (415), other kinds (404), finalizers, managedFields, generation. Lease
times are MicroTimes, as on the apiserver: a `renewTime` without six fraction digits (`datetime.isoformat()` at
microsecond 0) is refused with 400.

PYTEST_DONT_REWRITE: the module has no asserts, and test modules import it before their conftest.py loads it.

Fixtures (a folder's conftest.py imports them by name, as tests/connectors/conftest.py does):

* `kube_fake`: a server of the test's own (a few milliseconds to start) knowing the namespaces `default`, `team-a`
  and `team-b`, with the bearer token `ADMIN_TOKEN` allowed everything;
* `kube_fake_other`: a second, independent cluster;
* `kube_client`: builds an official `ApiClient` for a fake through a kubeconfig file, as production does.

    def test_reads(kube_fake: KubeFake, kube_client: KubeClientFactory) -> None:
        kube_fake.put_object({"kind": "Secret", "metadata": {"name": "db", "namespace": "team-a"}})
        api = CoreV1Api(kube_client(kube_fake))
        kube_fake.fail_next("GET", r"/secrets/db$", 503)
        ...
        assert kube_fake.count("GET", r"/namespaces/team-a/secrets/db$") == 2
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

import kubernetes.client
import kubernetes.config
import pytest
import yaml

from tests.fakes import kube_http, kube_status
from tests.fakes.kube_api import Operation, Store
from tests.fakes.kube_http import Server
from tests.fakes.kube_objects import LEASES, NAMESPACE, RESOURCES, SECRETS, Resource
from tests.fakes.kube_rbac import SUPERUSER_GROUP, Rbac, User, forbidden_reason
from tests.fakes.kube_status import StatusError

ADMIN_TOKEN = "fake-admin-token"
ADMIN_USER = "kubernetes-admin"
DEFAULT_NAMESPACES = ("default", "team-a", "team-b")
SERVER_VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-syncd-fake",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}
START_DEADLINE_SECONDS = 10.0
POLL_SECONDS = 0.005
# How often the idle server loop looks whether it was asked to stop; `stop` wakes it at once anyway.
SHUTDOWN_POLL_SECONDS = 0.5


class Request(NamedTuple):
    """One request the server saw: the method, the path, and the query string (decoded, '' when none)."""

    method: str
    path: str
    query: str


@dataclass
class _Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    retry_after: int | None
    message: str | None


@dataclass
class _Hook:
    method: str
    path: re.Pattern[str]
    callback: Callable[[Request], None]
    times: int | None


def _matches(method: str, pattern: re.Pattern[str], request: Request) -> bool:
    return method in ("*", request.method) and pattern.search(request.path) is not None


class KubeFake:
    """The server. `start()` it (or use it as a context manager, or the fixtures); `url` is its address."""

    def __init__(self, namespaces: Iterable[str] = DEFAULT_NAMESPACES) -> None:
        self.store = Store()
        for namespace in namespaces:
            self.store.add_namespace(namespace)
        self.requests: list[Request] = []
        self.statuses: list[tuple[Request, int]] = []
        """Each answered request with the HTTP status it got, in the order the answers were made."""
        self.patch_content_types: list[str] = []
        """The Content-Type of every PATCH, in order."""
        self.errors: list[BaseException] = []
        """Exceptions raised inside the server (a failing `before` callback, a bug): each answered 500."""
        self._users: dict[str, User] = {ADMIN_TOKEN: User(ADMIN_USER, (SUPERUSER_GROUP, "system:authenticated"))}
        self._rbac: Rbac | None = None
        self._faults: list[_Fault] = []
        self._lost: list[_Fault] = []
        self._hooks: list[_Hook] = []
        self._control = threading.Lock()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._address: str | None = None

    # Lifecycle.

    @property
    def url(self) -> str:
        """The server's address; after `stop` it still names the port, which then refuses connections."""
        if self._address is None:
            raise RuntimeError("the fake Kubernetes API server was never started")
        return self._address

    def start(self) -> KubeFake:
        """Listen on a free loopback port and return once /version answers."""
        self._server = Server(("127.0.0.1", 0), self.handle)
        host, port = self._server.server_address[:2]
        self._address = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), name="kube-fake", daemon=True
        )
        self._thread.start()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while True:
            try:
                with opener.open(self.url + "/version", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise
            time.sleep(POLL_SECONDS)
        with self._control:
            self.requests.clear()
            self.statuses.clear()

    def stop(self) -> None:
        """Stop serving and close every open connection. Stopping a stopped server does nothing."""
        if self._server is None:
            return
        self._server.stop()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> KubeFake:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # The cluster's state.

    def add_namespace(self, name: str) -> None:
        self.store.add_namespace(name)

    def add_user(self, token: str, username: str, groups: Iterable[str] = ()) -> None:
        """Accept `token` as `username` (in `groups`, plus system:authenticated). Group `system:masters` is never
        checked by RBAC, as on a real cluster."""
        with self._control:
            self._users[token] = User(username, (*groups, "system:authenticated"))

    @property
    def tokens(self) -> dict[str, str]:
        """The bearer tokens the server accepts, each with its username."""
        with self._control:
            return {token: user.name for token, user in self._users.items()}

    def load_rbac(self, yaml_text: str) -> None:
        """Enforce RBAC from now on with these Role, RoleBinding, ClusterRole and ClusterRoleBinding documents
        (multi-document YAML, as `kubectl apply -f` takes; a Role without a namespace goes to `default`). Loading
        more adds to, or replaces by name, what was loaded. Every user outside `system:masters` (ADMIN_TOKEN's user is
        in it) is then allowed only what a binding grants them: a user no binding names is refused everything."""
        with self._control:
            rbac = self._rbac or Rbac()
            rbac.load(yaml_text)
            self._rbac = rbac

    def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored Secret as the API returns it (data base64-encoded), or None."""
        return self.store.get(SECRETS, namespace, name)

    def lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.store.get(LEASES, namespace, name)

    def objects(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """The stored Secrets or Leases (in `namespace`, or everywhere), in namespace and name order."""
        resource = _resource_of(kind)
        with self.store.lock:
            return [obj for _key, obj in self.store.snapshot(resource, namespace, self.store.revision)]

    def put_object(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Write a Secret or Lease out of band (kind and metadata.namespace say where), as another writer would:
        created when absent, else replaced whole (no resourceVersion check); either way checked as the API checks it
        and given the next resourceVersion when it changes anything. Returns the stored object."""
        resource = _resource_of(obj.get("kind", ""))
        meta = obj.get("metadata") or {}
        namespace, name = meta.get("namespace"), meta.get("name")
        if not namespace or not name:
            raise ValueError("put_object needs metadata.namespace and metadata.name")
        body = json.loads(json.dumps(obj))
        body["metadata"].pop("resourceVersion", None)
        with self.store.lock:
            current = self.store.get(resource, namespace, name)
            if current is None:
                return self.store.create(resource, namespace, body)
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return self.store.update(resource, namespace, name, body)[0]

    def touch(self, kind: str, namespace: str, name: str) -> str:
        """Change an annotation of the object (`fake.example/touched`), as another writer's edit would: its
        resourceVersion moves. Returns the new resourceVersion."""
        with self.store.lock:
            resource = _resource_of(kind)
            current = self.store.get(resource, namespace, name)
            if current is None:
                raise KeyError(f"{resource.plural} {namespace}/{name} does not exist")
            annotations = current["metadata"].setdefault("annotations", {})
            annotations["fake.example/touched"] = str(int(annotations.get("fake.example/touched", "0")) + 1)
            return self.store.update(resource, namespace, name, current)[0]["metadata"]["resourceVersion"]

    def delete_object(self, kind: str, namespace: str, name: str) -> None:
        """Delete out of band, unconditionally; a missing object is no error."""
        with contextlib.suppress(StatusError):
            self.store.delete(_resource_of(kind), namespace, name, {})

    # Faults, hooks and what the server saw.

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        times: int = 1,
        retry_after: int | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next `times` requests whose method is `method` ("*" for any) and whose path matches
        `path_regex` (re.search) with an error Status: 429 TooManyRequests, 500 InternalError, 503
        ServiceUnavailable, or any other code; `retry_after` (seconds) adds a Retry-After header. `message` is the
        Status's message (an admission plugin's 403, "... is forbidden: exceeded quota: ..."), with the code's
        reason. The request is recorded but reaches nothing."""
        with self._control:
            self._faults.append(_Fault(method.upper(), re.compile(path_regex), status, times, retry_after, message))

    def lose_next_answer(self, method: str, path_regex: str, status: int = 503, times: int = 1) -> None:
        """Carry out the next `times` matching requests, then answer each with an error Status (503 by default)
        instead of the result: an answer lost after the server acted, as a dropped connection or a proxy's timeout
        leaves it. The client sees a failure of a call that took effect."""
        with self._control:
            self._lost.append(_Fault(method.upper(), re.compile(path_regex), status, times, None, None))

    def before(
        self, method: str, path_regex: str, callback: Callable[[Request], None], times: int | None = None
    ) -> None:
        """Call `callback(request)` before handling each matching request (every one, or the next `times`); it runs
        in the server's thread, outside the store's lock, so it may call `put_object` or `touch` to make a race."""
        with self._control:
            self._hooks.append(_Hook(method.upper(), re.compile(path_regex), callback, times))

    def count(self, method: str = "*", path_regex: str = "") -> int:
        """How many requests matched `method` ("*" for any) and `path_regex` (re.search on the path)."""
        pattern = re.compile(path_regex)
        with self._control:
            return sum(1 for request in self.requests if _matches(method.upper(), pattern, request))

    # Serving.

    def _take_fault(self, request: Request, faults: list[_Fault] | None = None) -> _Fault | None:
        with self._control:
            for fault in self._faults if faults is None else faults:
                if fault.times > 0 and _matches(fault.method, fault.path, request):
                    fault.times -= 1
                    return fault
        return None

    def _due_hooks(self, request: Request) -> list[Callable[[Request], None]]:
        due = []
        with self._control:
            for hook in self._hooks:
                if (hook.times is None or hook.times > 0) and _matches(hook.method, hook.path, request):
                    if hook.times is not None:
                        hook.times -= 1
                    due.append(hook.callback)
        return due

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], Any]:
        """One HTTP request: (status, extra headers, JSON body)."""
        split = urlsplit(target)
        request = Request(method, unquote(split.path), unquote_plus(split.query))
        with self._control:
            self.requests.append(request)
            if method == "PATCH":
                self.patch_content_types.append(headers.get("Content-Type", ""))
        answer = self._answer(request, split.path, split.query, headers, body)
        with self._control:
            self.statuses.append((request, answer[0]))
        return answer

    def _answer(
        self, request: Request, raw_path: str, raw_query: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        try:
            fault = self._take_fault(request)
            if fault is not None:
                raise kube_status.generic(fault.status, fault.retry_after, fault.message)
            if request.path == "/version":  # public, as the system:public-info-viewer ClusterRole makes it
                return 200, {}, SERVER_VERSION
            user = self._authenticate(headers.get("Authorization", ""))
            query = dict(parse_qsl(raw_query))
            operation = kube_http.operation(request.method, kube_http.route(raw_path), query)
            self._authorize(user, operation)
            for callback in self._due_hooks(request):
                callback(request)
            answer = self._perform(user, operation, query, headers.get("Content-Type", ""), body)
            lost = self._take_fault(request, self._lost)
            if lost is not None:
                raise kube_status.generic(lost.status, lost.retry_after, lost.message)
            return answer
        except StatusError as error:
            return error.code, error.headers, error.body()
        except Exception as error:  # a bug, or a failing hook: answered as the apiserver's 500 is
            with self._control:
                self.errors.append(error)
            status = kube_status.internal_error(f"{type(error).__name__}: {error}")
            return status.code, {}, status.body()

    def _authenticate(self, authorization: str) -> User:
        scheme, _, token = authorization.partition(" ")
        with self._control:
            user = self._users.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise kube_status.unauthorized()
        return user

    def _authorize(self, user: User, operation: Operation) -> None:
        with self._control:
            rbac = self._rbac
        resource = operation.resource
        if rbac is None or rbac.allows(
            user, operation.verb, resource.group, resource.plural, operation.namespace, operation.name
        ):
            return
        why = forbidden_reason(user, operation.verb, resource.group, resource.plural, operation.namespace)
        raise kube_status.forbidden(resource.group_resource, operation.name, why)

    def _perform(self, user: User, operation: Operation, query: dict[str, str], content_type: str, body: bytes) -> Any:
        store, resource, namespace, name = self.store, operation.resource, operation.namespace, operation.name
        verb = operation.verb
        if verb == "list":
            return 200, {}, store.list(resource, namespace, query)
        if verb == "watch":
            raise kube_status.bad_request("the fake Kubernetes API server serves no watch")
        if resource is NAMESPACE:
            found = store.get(resource, "", name)
            if found is None:
                raise kube_status.not_found(resource.group_resource, name)
            return 200, {}, found
        if namespace is None:  # the router gives every other verb a namespace
            raise kube_status.method_not_allowed(verb)
        if verb == "get":
            found = store.get(resource, namespace, name)
            if found is None:
                raise kube_status.not_found(resource.group_resource, name)
            return 200, {}, found
        if verb == "deletecollection":
            return 200, {}, store.delete_collection(resource, namespace, query)
        dry_run = _dry_run(query)
        if verb == "delete":
            options = kube_http.json_body(body, optional=True)
            return 200, {}, store.delete(resource, namespace, name, options, dry_run or _dry_run(options))
        if verb == "patch":
            return 200, {}, store.patch(resource, namespace, name, content_type, body, dry_run)
        if verb == "create":
            return 201, {}, store.create(resource, namespace, kube_http.json_body(body), dry_run)
        if resource is LEASES and store.get(resource, namespace, name) is None:
            # A PUT that would create the Lease also needs the verb create (handlers/update.go, withAuthorization).
            self._authorize(user, Operation("create", resource, namespace, name))
        obj, created = store.update(resource, namespace, name, kube_http.json_body(body), dry_run)
        return (201 if created else 200), {}, obj


def _dry_run(options: dict[str, Any]) -> bool:
    """dryRun=All (a query parameter, or in DeleteOptions): check and answer, store nothing. No other value exists."""
    value = options.get("dryRun")
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else ",".join(value)
    if not value:
        return False
    if value != "All":
        raise kube_status.bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
    return True


def _resource_of(kind: str) -> Resource:
    for resource in RESOURCES.values():
        if kind in (resource.kind, resource.plural):
            return resource
    raise ValueError(f"the fake stores Secrets and Leases, not {kind!r}")


def kubeconfig_for(fake: KubeFake, token: str, path: Path, context: str = "fake") -> Path:
    """Write a kubeconfig at `path` whose context `context` reaches `fake` with bearer `token` (namespace
    `default`), and return `path`."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": fake.url}}],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": "default"}}],
        "current-context": context,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class KubeClientFactory(Protocol):
    def __call__(
        self, fake: KubeFake, token: str = ADMIN_TOKEN, context: str = "fake"
    ) -> kubernetes.client.ApiClient: ...


@pytest.fixture
def kube_fake() -> Iterator[KubeFake]:
    """A fresh fake cluster with the namespaces default, team-a and team-b."""
    with KubeFake() as fake:
        yield fake


@pytest.fixture
def kube_fake_other() -> Iterator[KubeFake]:
    """A second fresh fake cluster, independent of `kube_fake`."""
    with KubeFake() as fake:
        yield fake


@pytest.fixture
def kube_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeClientFactory]:
    """Build an official ApiClient for a fake the way production does: from a kubeconfig file and a context."""
    clients: list[kubernetes.client.ApiClient] = []
    folder = tmp_path_factory.mktemp("kubeconfig")

    def build(fake: KubeFake, token: str = ADMIN_TOKEN, context: str = "fake") -> kubernetes.client.ApiClient:
        path = kubeconfig_for(fake, token, folder / f"kubeconfig-{len(clients)}", context)
        client = kubernetes.config.new_client_from_config(config_file=str(path), context=context)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()
