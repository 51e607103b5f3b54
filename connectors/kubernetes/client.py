"""The long-lived connection to one cluster (what `connect` returns): one `ApiClient`, built on first use (so
`validate` and `syncd policy` make no call and read no kubeconfig), shared by every run and thread.

Every request goes out through `request`: the target's rate limiter, then the call with a connect and read timeout,
so a dead cluster fails in seconds. urllib3's retries are off (`Configuration.retries = False`) and the client's
client-go style read retries stay off: the core's retry layer is the only one. Errors come out as syncd's
(`errors.translate`). The bearer token the kubeconfig or the service account gives is registered with the redactor.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.kubernetes.errors import Call, translate
from connectors.kubernetes.options import KubernetesTargetOptions
from syncd.connector import UNLIMITED, RateLimiter
from syncd.errors import PermanentError
from syncd.secret import Secret

# The requests one target may have in flight: the sink's calls at once (8) and a margin.
MAX_CONNECTIONS = 16


@dataclass(frozen=True)
class Refusal:
    """A failed request whose status the caller expects and handles (404, 409)."""

    status: int


class KubeConnection:
    """One cluster's client, through which every request goes."""

    def __init__(
        self,
        target: str,
        options: KubernetesTargetOptions,
        api_client: Any = None,
        limiter: RateLimiter = UNLIMITED,
    ) -> None:
        self.target = target
        self.options = options
        self.limiter = limiter
        self._api_client = api_client
        self._core: Any = None
        self._lock = threading.Lock()
        if api_client is not None:
            no_retries(api_client)

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.options.connect_timeout, self.options.read_timeout)

    def core(self) -> Any:
        """The CoreV1Api, built with the ApiClient on first use."""
        with self._lock:
            if self._core is None:
                client = _kubernetes_client(self.target)
                if self._api_client is None:
                    self._api_client = build_api_client(self.target, self.options)
                self._core = client.CoreV1Api(self._api_client)
            return self._core

    def request(
        self, call: Call, send: Callable[..., Any], *args: Any, tolerate: tuple[int, ...] = (), **kwargs: Any
    ) -> dict[str, Any] | Refusal:
        """`send(*args, **kwargs)` (a CoreV1Api method) after the rate limiter, with the timeouts: the answer's JSON,
        or a Refusal when it failed with a status in `tolerate`. Any other failure is raised as syncd's error,
        without the client's text."""
        self.limiter.acquire(call.verb)
        try:
            response = send(*args, _request_timeout=self.timeout, _preload_content=False, **kwargs)
            body = response.data
        except Exception as exc:
            status = getattr(exc, "status", None)
            if status in tolerate:
                return Refusal(status)
            raise translate(exc, call, self.target, self.options.read_timeout) from None
        try:
            answer = json.loads(body) if body else {}
        except ValueError:
            raise PermanentError(
                f"the Kubernetes API server of target {self.target!r} answered {call.verb} with something other "
                "than JSON",
                target=self.target,
                address=call.address,
            ) from None
        return answer if isinstance(answer, dict) else {}

    def close(self) -> None:
        with self._lock:
            if self._api_client is not None:
                self._api_client.close()
            self._core = None
            self._api_client = None


def build_api_client(target: str, options: KubernetesTargetOptions) -> Any:
    """An ApiClient for `options`: from the kubeconfig file (and context), or the pod's service account."""
    client = _kubernetes_client(target)
    from kubernetes import config

    configuration = client.Configuration()
    try:
        if options.in_cluster:
            config.load_incluster_config(client_configuration=configuration)
        else:
            kubeconfig = options.kubeconfig
            assert kubeconfig is not None
            _check_kubeconfig(target, kubeconfig, options.context)
            config.load_kube_config(
                config_file=kubeconfig,
                context=options.context,
                client_configuration=configuration,
                persist_config=False,
            )
    except PermanentError:
        raise
    except config.ConfigException as exc:
        raise PermanentError(_config_problem(target, options, exc), target=target) from None
    except Exception as exc:
        # The loader parses the file and its fields unchecked: broken YAML, a list where a mapping belongs, a
        # number where text does... fail as YAMLError, TypeError, AttributeError, ValueError. Their text may quote
        # the file (a token), so only the type is named.
        raise PermanentError(_malformed(options, exc), target=target) from None
    configuration.retries = False
    # Room for every request one target has in flight, so no connection is made and dropped each time.
    configuration.connection_pool_maxsize = max(configuration.connection_pool_maxsize or 0, MAX_CONNECTIONS)
    _register_tokens(configuration)
    _register_sent_tokens(configuration)
    return no_retries(client.ApiClient(configuration))


def _register_token(value: Any) -> None:
    """Register a bearer token with the redactor, bare: the kubeconfig loader stores "Bearer TOKEN", the in-cluster
    one "bearer TOKEN", and output may show the token alone."""
    scheme, _, token = str(value).strip().partition(" ")
    Secret(token.strip() if scheme.lower() == "bearer" else str(value).strip())


def _register_tokens(configuration: Any) -> None:
    for value in (configuration.api_key or {}).values():
        _register_token(value)


def _register_sent_tokens(configuration: Any) -> None:
    """Register every token the client is about to send, refreshed ones included (the service account token re-read
    each minute, an exec plugin's new one). It wraps `get_api_key_with_prefix`, which every request calls after the
    loader's refresh hook, rather than the hook itself: the loaders set the hook anew on every refresh, and a wrapper
    of the hook is lost when requests refresh from several threads at once."""
    original = configuration.get_api_key_with_prefix
    registered: set[str] = set()

    def get_api_key_with_prefix(identifier: str, alias: str | None = None) -> str | None:
        value = original(identifier, alias)
        if value and value not in registered:
            _register_token(value)
            registered.add(value)
        return value

    configuration.get_api_key_with_prefix = get_api_key_with_prefix


def _kubernetes_client(target: str) -> Any:
    try:
        from kubernetes import client
    except ImportError as exc:  # the registry normally catches this first, with an install hint
        raise PermanentError(
            "the kubernetes package is not installed: pip install 'syncd[kubernetes]'", target=target
        ) from exc
    return client


def no_retries(api_client: Any) -> Any:
    """`api_client` sending each request once: urllib3's retries off, and no client-go style read retries. The
    connection pools take `retries` when they are made, so a client made elsewhere gets its pools anew."""
    from kubernetes.client import rest

    configuration = api_client.configuration
    configuration.client_go_retries = False
    if configuration.retries is not False:
        configuration.retries = False
        old_pools = api_client.rest_client.pool_manager
        api_client.rest_client = rest.RESTClientObject(configuration)
        old_pools.clear()  # its idle connections closed now, not when the collector gets to them
    return api_client


def _check_kubeconfig(target: str, path: str, context: str | None) -> None:
    """Refuse a kubeconfig that does not exist, or lacks the context, in syncd's words."""
    from kubernetes import config

    if not os.path.isfile(path):
        raise PermanentError(f"kubeconfig {path} does not exist", target=target)
    if context is None:
        return
    try:
        contexts, _ = config.list_kube_config_contexts(config_file=path)
    except Exception:
        return  # loading it says what is wrong
    names = [c.get("name") for c in contexts or []]
    if context not in names:
        known = ", ".join(repr(n) for n in names) or "none"
        raise PermanentError(f"kubeconfig {path} has no context {context!r} (contexts: {known})", target=target)


def _config_problem(target: str, options: KubernetesTargetOptions, exc: Exception) -> str:
    if options.in_cluster:
        return (
            f"cannot connect from inside the cluster (in_cluster: true): {_first_line(exc)}; syncd must run in a pod "
            "with a service account token mounted, and KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT set"
        )
    return f"kubeconfig {options.kubeconfig} cannot be used: {_first_line(exc)}"


def _malformed(options: KubernetesTargetOptions, exc: Exception) -> str:
    kind = type(exc).__name__
    if options.in_cluster:
        return (
            "cannot connect from inside the cluster (in_cluster: true): "
            f"the service account's files are not valid ({kind})"
        )
    if isinstance(exc, OSError):
        return f"kubeconfig {options.kubeconfig} cannot be read ({kind})"
    return f"kubeconfig {options.kubeconfig} is not a valid kubeconfig ({kind})"


def _first_line(exc: Exception) -> str:
    """The loader's own sentence, cut short: it names files and fields, not credentials."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= 160 else text[:157] + "..."
