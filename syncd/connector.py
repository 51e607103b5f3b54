"""The connector contract (v2): what a source or sink plugin must provide.

The core decides; the connector carries out. A plugin module exposes a
`ConnectorSpec` through the entry-point group `syncd.connectors`. Options
models are pydantic models; the core validates a manifest's target options
and `to` entries against them, so a plugin never sees unchecked input.

A sink implements three methods: `observe` (what is there, in one pass, for
one run), `write(item, expected, difference)` and `delete(expected)`, each
applied only if the item is still as the plan saw it (else `ItemMoved`).
Everything else (checking items, diffing, ownership decisions, retries,
rate limits, concurrency, reports) lives in the core, so every sink behaves
alike. A sink keeps nothing between calls: what outlives a run (a session,
a renewed token) is its connection, made once by `connect`.
"""

from __future__ import annotations

import contextlib
import email.utils
import ipaddress
import os
import threading
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

# Parsing a document a person wrote, without quoting it: connectors may import only this module, the model,
# the errors and secrets, so it is offered here.
from syncd.documents import BadPart, DocumentError, TooDeep, load_json, load_yaml  # noqa: F401
from syncd.errors import ItemMoved, SyncdError
from syncd.model import ActualItem, DesiredItem, Difference, Granularity, Ownership, SourceSecret
from syncd.ratelimit import UNLIMITED, RateLimiter
from syncd.secret import Secret
from syncd.threads import in_callers_context

T = TypeVar("T")
R = TypeVar("R")

# Names of the ownership marker, for sinks that hold key/value metadata (tags, labels, custom metadata).
MARKER_INSTANCE = "syncd.io/instance"
MARKER_SYNC = "syncd.io/sync"
MARKER_PREFIX = "syncd.io/"


def marker_tags(owner: Ownership) -> dict[str, str]:
    """The marker as key/value metadata: `syncd.io/instance` and `syncd.io/sync`."""
    return {MARKER_INSTANCE: owner.instance, MARKER_SYNC: owner.sync}


def owner_of(tags: Mapping[str, str]) -> Ownership | None:
    """The owner a set of key/value metadata names; None without a whole marker."""
    instance, sync = tags.get(MARKER_INSTANCE), tags.get(MARKER_SYNC)
    return Ownership(instance, sync) if instance and sync else None


def user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The metadata that is not syncd's own (the marker and anything else under `syncd.io/`)."""
    return {k: v for k, v in tags.items() if not k.startswith(MARKER_PREFIX)}


def expect_unmoved(target: str, expected: ActualItem | None, current: ActualItem | None) -> None:
    """Raise ItemMoved unless `current` (read just now) is still the item the plan saw as `expected`: both absent,
    or both present with the same owner, the same version when the sink reports versions, and the same data
    when both were read with their data (a person's edit may leave a version as it was)."""
    if expected is None and current is None:
        return
    address = (expected or current).address  # type: ignore[union-attr]
    if expected is None:
        raise ItemMoved("it was created by another writer since the plan", target=target, address=address)
    if current is None:
        raise ItemMoved("it was deleted by another writer since the plan", target=target, address=address)
    if current.owner != expected.owner:
        raise ItemMoved("its ownership marker changed since the plan", target=target, address=address)
    if expected.version is not None and current.version != expected.version:
        raise ItemMoved(
            f"its version moved from {expected.version} to {current.version} since the plan",
            target=target,
            address=address,
        )
    if expected.data is not None and current.data is not None and expected.data != current.data:
        raise ItemMoved("its value changed since the plan", target=target, address=address)


# Where a target's items or a source's secrets live, from the widest name to the narrowest: ("file", "/", "srv",
# "app.env"), ("vault", "https://vault:8200", "secret", "team"). Two places overlap when one is a prefix of the other.
Location = tuple[str, ...]


def file_location(path: str) -> Location:
    """The location of a file or folder: its real path (symbolic links and '..' resolved), split into parts."""
    return ("file", *Path(os.path.realpath(path)).parts)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def url_location(url: str | None) -> str:
    """A server's URL as one name for the overlap check: scheme and host lowercased, the scheme's default port
    spelt out, every loopback name (`localhost`, 127.0.0.0/8, `::1`) as one, no trailing '/'. Other names of
    one server (a DNS alias, an IP address) stay apart: no call is made to find them out."""
    if not url:
        return ""
    parts = urllib.parse.urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    with contextlib.suppress(ValueError):
        if host == "localhost" or ipaddress.ip_address(host).is_loopback:
            host = "loopback"
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return f"{scheme}://{host}:{port}{parts.path.rstrip('/')}"


def path_parts(*paths: str | None) -> tuple[str, ...]:
    """The '/'-separated names of `paths`, in order, empty names and '.' dropped: for locations of path-like names."""
    return tuple(part for path in paths if path for part in path.split("/") if part not in ("", "."))


def retry_after_seconds(header: str | None, now: Callable[[], datetime] | None = None) -> float | None:
    """The wait an HTTP `Retry-After` header asks for, in seconds: a number of seconds or an HTTP date (RFC 9110);
    None when absent or unreadable. Every connector's error mapping hands it to `TransientError(retry_after=...)`."""
    text = (header or "").strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def in_parallel(function: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """`function` of each item, results in order, on up to `workers` threads; the first error is raised.

    For connectors whose API has no batch call: they may import only this module, the model, the errors and
    secrets, so the one thread helper they share lives here.
    """
    if len(items) <= 1 or workers <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="syncd-connector") as pool:
        return list(pool.map(in_callers_context(function), items))


class Options(BaseModel):
    """Base of every connector options model: unknown keys are errors.

    Option values may hold `${env:NAME}` / `${file:PATH}` references, which
    the core resolves before the connector is built; a field declared with
    `path_field()` is made relative to the manifest's folder. A credential is
    typed `pydantic.SecretStr` (or declared with `secret_field()`): what a
    reference yields there is registered with the redactor, and nothing else
    is, so a region or an address stays readable in output.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


def path_field(**kwargs: Any) -> Any:
    """A pydantic Field for a filesystem path: the core resolves a relative one against the manifest's folder."""
    return Field(json_schema_extra={"path": True}, **kwargs)


def secret_field(**kwargs: Any) -> Any:
    """A pydantic Field for a credential held as a plain `str` (one an SDK wants as text).

    What a `${env:...}` or `${file:...}` reference yields in it is registered with the redactor, as for a
    field typed `SecretStr`; every other option is configuration and is printed as it is.
    """
    return Field(json_schema_extra={"secret": True}, **kwargs)


class NoOptions(Options):
    """For connectors or destinations that take no options of their own."""


@dataclass(frozen=True)
class Capabilities:
    """What a connector can do, as data the core reads (no "did the subclass override this?" checks).

    `granularities`: the first is the default, a `to` entry may ask for another. `tags`, `description`: the
    sink stores them per item. `versions`: the sink can report `ActualItem.version` (a Vault KV v1 mount has none)
    and makes writes conditional on it.
    `batch_writes`: the API writes many items per call. `buffered`: writes are held and committed at the end of
    `batch()` (a file written whole). `max_concurrency`: how many calls may run at once against it.
    """

    granularities: tuple[Granularity, ...] = (Granularity.DOCUMENT,)
    tags: bool = False
    description: bool = False
    versions: bool = False
    batch_writes: bool = False
    buffered: bool = False
    max_concurrency: int = 16


@dataclass(frozen=True)
class Scope:
    """What the manifest maps into one target: the address patterns its syncs may write ('*' is what the source
    decides), and the instance whose items are asked for. A sink lists only inside `prefixes` (the literal start
    of each pattern: a name prefix, a path, a Kubernetes namespace, a GitLab project or group), and the core prunes
    only items `covers` names, so syncd needs no right beyond what the manifest maps."""

    instance: str
    patterns: tuple[str, ...] = ()
    # The target's `concurrency`: a sink that reads with calls side by side keeps at most this many in flight (and
    # never more than its own `capabilities.max_concurrency`); None leaves it to the sink.
    concurrency: int | None = None

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The literal start of each pattern, those inside another left out: "apps/" for "apps/*", a whole name for a
        literal one."""
        starts = sorted({p.split("*", 1)[0] for p in self.patterns})
        return tuple(s for s in starts if not any(o != s and s.startswith(o) for o in starts))

    def covers(self, address: str) -> bool:
        """Whether a destination could name `address`: it starts with a pattern's literal start, or it is a
        literal name itself (`prod/db` covers `prod/db`, not `prod/db2`)."""
        return any(
            address.startswith(pattern.split("*", 1)[0]) if "*" in pattern else address == pattern
            for pattern in self.patterns
        )


@dataclass(frozen=True)
class Observation:
    """One run's view of a target: `items` holds what exists among the desired addresses (absent ones omitted);
    `owned` every item inside the scope carrying the scope's instance marker (values need not be read)."""

    items: Mapping[str, ActualItem]
    owned: Mapping[str, ActualItem]


@dataclass(frozen=True)
class AccessPolicy:
    """The least privilege a part needs, in its own access system's language.

    `kind` names the system ("iam", "vault", "rbac", "gitlab"); `text` is the policy as that system reads it (an
    IAM policy document as JSON, Vault HCL, Kubernetes RBAC YAML, a GitLab token's scope and roles).
    """

    kind: str
    text: str


@dataclass(frozen=True)
class ItemDefaults:
    """What a target's options put on every item: tags (a `to` entry's own tags win) and a description."""

    tags: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None


class Source(ABC):
    """Where the truth lives. Reads never write."""

    Options: ClassVar[type[BaseModel]] = NoOptions
    # `max_concurrency`: how many reads may run at once (`read_many` calls side by side, and the reads within the
    # default one). Local sources gain nothing from threads.
    capabilities: ClassVar[Capabilities] = Capabilities(max_concurrency=8)

    def __init__(self, options: Any, connection: Any = None) -> None:
        """`options` is an instance of `Options`; `connection` what `connect` returned (shared across runs)."""
        self.options = options
        self.connection = connection

    @classmethod
    def connect(cls, options: Any, client: Any = None, limiter: RateLimiter = UNLIMITED) -> Any:
        """A long-lived connection (SDK session, auth, token renewal), made once per process and shared by every
        run; every API call goes through `limiter`. `client` is a ready-made SDK client (tests, embedding).
        The default, for sources with nothing to keep, returns `client`."""
        return client

    @abstractmethod
    def read(self, path: str) -> SourceSecret:
        """The secret at `path`; raises SourceError when it is missing, empty or unreadable."""

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Every secret path below `prefix`, recursively, sorted."""

    def read_many(self, paths: Sequence[str]) -> dict[str, SourceSecret | SyncdError]:
        """Each path's secret, or the error reading it, one `read` per path on up to `max_concurrency` threads.

        Sources with a batch API override this. A TransientError comes back for its path like any other; the
        core reads those paths again.
        """

        def read_one(path: str) -> SourceSecret | SyncdError:
            try:
                return self.read(path)
            except SyncdError as exc:
                return exc

        unique = list(dict.fromkeys(paths))
        workers = self.capabilities.max_concurrency
        return dict(zip(unique, in_parallel(read_one, unique, workers), strict=True))

    def location(self, path: str) -> Location | None:
        """Where the secrets at or below `path` live (see `Location`), computed from the options alone, with no
        call. The core refuses a target whose location overlaps it, since a sync would read its own output back.
        None, the default, means unknown: never refused."""
        return None

    def required_access(self, patterns: Sequence[str]) -> AccessPolicy | None:
        """The policy that lets syncd read the paths matching `patterns` ('*' is a wildcard); None when no
        access system governs the source. `syncd policy` prints it."""
        return None

    def close(self) -> None:
        """End what this run opened; the connection stays (see `connect`). The default has nothing."""


class Sink(ABC):
    """A place secrets are copied to."""

    Options: ClassVar[type[BaseModel]] = NoOptions
    # The connector-specific part of a sync's `to` entry.
    Destination: ClassVar[type[BaseModel]] = NoOptions
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, target: str, options: Any, connection: Any = None) -> None:
        """`options` is an instance of `Options`; `connection` what `connect` returned (shared across runs)."""
        self.target = target
        self.options = options
        self.connection = connection

    @classmethod
    def connect(cls, target: str, options: Any, client: Any = None, limiter: RateLimiter = UNLIMITED) -> Any:
        """A long-lived connection (SDK session, auth, token renewal), made once per process and shared by every
        run of `target`; every API call goes through `limiter`. `client` is a ready-made SDK client (tests,
        embedding). The default, for sinks with nothing to keep, returns `client`."""
        return client

    # Naming and rules: pure, no call.

    def address(self, destination: BaseModel, name: str) -> str:
        """The sink's own name for an item called `name` under `destination`."""
        return name

    def flags(self, destination: BaseModel) -> Mapping[str, Any]:
        """The connector-specific settings of items written under `destination`, compared on every run."""
        return {}

    def shape(self, destination: BaseModel, data: Mapping[str, Secret]) -> Mapping[str, Secret]:
        """The data of an item written under `destination` as the sink stores it (a Kubernetes dockerconfigjson
        Secret built from registry credentials); the core compares and writes this. Pure. Raise ValueError, one
        sentence naming no value, when `data` cannot be shaped: the core holds that item and reports it. The
        default returns `data` unchanged."""
        return data

    def check(self, item: DesiredItem) -> list[str]:
        """The sink's own rules (name charset, sizes); each problem is one sentence naming no value. The core
        calls it once per item, before any call: a write never sees an item that fails it."""
        return []

    def item_defaults(self) -> ItemDefaults:
        """Tags and a description the target's options put on every item."""
        return ItemDefaults()

    def describe(self) -> str:
        """A short human name for reports, e.g. 'us-east-1' or './out/.env'."""
        return ""

    def location(self) -> Location | None:
        """Where this target's items live, as far as `observe` and `write` reach (see `Location`), computed
        from the options alone, with no call. The core refuses two targets whose locations overlap (one is a
        prefix of the other): they would overwrite and prune each other's items. None, the default, means
        unknown: never refused."""
        return None

    def required_access(self, patterns: Sequence[str]) -> AccessPolicy | None:
        """The policy that lets syncd manage the items whose addresses match `patterns` ('*' is a wildcard);
        None when no access system governs the sink. `syncd policy` prints it."""
        return None

    # The three calls that reach the backend.

    @abstractmethod
    def observe(self, desired: Sequence[DesiredItem], scope: Scope) -> Observation:
        """What the target holds for one run, in as few calls as the API allows: the items among `desired`'s
        addresses (with their data), and the items inside `scope` carrying its instance's marker. Keeps
        nothing: the next run observes again."""

    @abstractmethod
    def write(self, item: DesiredItem, expected: ActualItem | None, difference: Difference) -> None:
        """Make the sink hold `item`, stamped with its owner, writing only what `difference` names (a create's
        difference names everything). Only if the item is still `expected` (None: still absent), by the API's
        own check (a version, a check-and-set, a re-read of the marker): otherwise raise ItemMoved. Idempotent:
        a retry after a lost answer finds its own write done and succeeds."""

    @abstractmethod
    def delete(self, expected: ActualItem) -> None:
        """Remove an owned item, only if it is still `expected` (else ItemMoved). Idempotent: an item already
        gone is success."""

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Apply runs every write and delete of one run inside this. A buffered sink (`capabilities.buffered`)
        holds its changes and commits them on exit; the default does nothing."""
        yield

    def close(self) -> None:
        """End what this run opened; the connection stays (see `connect`). The default has nothing."""


@dataclass(frozen=True)
class LeaderElection:
    """What `syncd run --leader-elect` asks of the connector that offers leader election: one lock named `name` in
    `namespace` (None: the connector's own default, such as the pod's namespace), reached through `kubeconfig` and
    `context` (None: from inside the cluster), held by `identity` (None: host name and a random part)."""

    name: str
    namespace: str | None = None
    identity: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


class Elector(Protocol):
    """One replica's part in a leader election. `is_leader` gates every write; `run` campaigns and renews until
    `stop` is set, then releases the lock; a denial that retrying cannot mend ends `run` by raising."""

    identity: str

    @property
    def is_leader(self) -> bool: ...

    @property
    def holder(self) -> str | None:
        """Whom the lock named when last read ("" when free); None until it has been read once."""
        ...

    def describe(self) -> str: ...

    def run(
        self,
        stop: threading.Event,
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class ConnectorSpec:
    """What a plugin module exports: its name and the classes it provides, and optionally `leader_elector`, which
    makes the `Elector` of a `LeaderElection` (the `kubernetes` connector's Lease)."""

    name: str
    summary: str
    source: type[Source] | None = None
    sink: type[Sink] | None = None
    leader_elector: Callable[[LeaderElection], Elector] | None = None

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(r for r, cls in (("source", self.source), ("sink", self.sink)) if cls)
