"""The connector contract: what a source or sink plugin must provide.

The core decides; the connector carries out. A plugin module exposes a
`ConnectorSpec` through the entry-point group `syncd.connectors`. Options
models are pydantic models; the core validates a manifest's target options
and `to` entries against them, so a plugin never sees unchecked input.

Sinks implement five small methods. Everything else (diffing, ownership
decisions, retries, concurrency, reports) lives in the core, so every sink
behaves alike.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

# Parsing a document a person wrote, without quoting it: connectors may import only this module, the model,
# the errors and secrets, so it is offered here.
from syncd.documents import BadPart, DocumentError, TooDeep, load_json, load_yaml  # noqa: F401
from syncd.errors import SyncdError
from syncd.model import ActualItem, DesiredItem, Granularity, SourceSecret

# Names of the ownership marker, for sinks that hold key/value metadata.
T = TypeVar("T")
R = TypeVar("R")

MARKER_INSTANCE = "syncd.io/instance"
MARKER_SYNC = "syncd.io/sync"

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


def in_parallel(function: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """`function` of each item, results in order, on up to `workers` threads; the first error is raised.

    For connectors whose API has no batch call: they may import only this module, the model, the errors and
    secrets, so the one thread helper they share lives here.
    """
    if len(items) <= 1 or workers <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="syncd-connector") as pool:
        return list(pool.map(function, items))


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


class Source(ABC):
    """Where the truth lives. Reads never write."""

    Options: ClassVar[type[BaseModel]] = NoOptions
    # How many reads may run at once: `read_many` calls side by side, and the reads within the default one.
    # Local sources gain nothing from threads.
    max_concurrency: ClassVar[int] = 8

    def __init__(self, options: Any, client: Any = None) -> None:
        """`options` is an instance of `Options`; `client` an optional ready-made SDK client."""
        self.options = options
        self.client = client

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
        return dict(zip(unique, in_parallel(read_one, unique, self.max_concurrency), strict=True))

    def location(self, path: str) -> Location | None:
        """Where the secrets at or below `path` live (see `Location`), computed from the options alone, with no
        call. The core refuses a target whose location overlaps it, since a sync would read its own output back.
        None, the default, means unknown: never refused."""
        return None

    def access_policy(self, patterns: Sequence[str]) -> list[dict[str, Any]] | None:
        """IAM policy statements that let syncd read the paths matching `patterns` ('*' is a wildcard).

        None when the source is not governed by IAM; `syncd iam-policy` prints what AWS connectors return.
        """
        return None

    def vault_policy(self, patterns: Sequence[str]) -> str | None:
        """The Vault policy (HCL) that lets syncd read the paths matching `patterns`; None when Vault does not
        govern the source. `syncd vault-policy` prints it."""
        return None

    def close(self) -> None:
        """Release connections; the default has none."""


class Sink(ABC):
    """A place secrets are copied to."""

    Options: ClassVar[type[BaseModel]] = NoOptions
    # The connector-specific part of a sync's `to` entry.
    Destination: ClassVar[type[BaseModel]] = NoOptions
    # The first one is the default; a `to` entry may ask for another.
    granularities: ClassVar[tuple[Granularity, ...]] = (Granularity.DOCUMENT,)
    supports_tags: ClassVar[bool] = False
    supports_description: ClassVar[bool] = False
    # How many changes apply may run at once against this sink.
    max_concurrency: ClassVar[int] = 16

    def __init__(self, target: str, options: Any, client: Any = None) -> None:
        """`options` is an instance of `Options`; `client` an optional ready-made SDK client."""
        self.target = target
        self.options = options
        self.client = client

    def address(self, destination: BaseModel, name: str) -> str:
        """The sink's own name for an item called `name` under `destination`."""
        return name

    def flags(self, destination: BaseModel) -> Mapping[str, Any]:
        """The connector-specific settings of items written under `destination`, compared on every run."""
        return {}

    def check(self, item: DesiredItem) -> list[str]:
        """The sink's own rules (name charset, sizes); each problem is one sentence naming no value."""
        return []

    def default_tags(self) -> Mapping[str, str]:
        """Tags the target's options put on every item; a `to` entry's own tags win over them."""
        return {}

    def default_description(self) -> str | None:
        """The description the target's options give items whose `to` entry sets none."""
        return None

    def access_policy(self, patterns: Sequence[str]) -> list[dict[str, Any]] | None:
        """IAM policy statements that let syncd manage the items whose addresses match `patterns`.

        '*' in a pattern is a wildcard. None when the sink is not governed by IAM.
        """
        return None

    def vault_policy(self, patterns: Sequence[str]) -> str | None:
        """The Vault policy (HCL) that lets syncd manage the items whose addresses match `patterns`; None when
        Vault does not govern the sink. `syncd vault-policy` prints it."""
        return None

    def prepare(self, items: Sequence[DesiredItem]) -> None:
        """The run's desired items for this sink (those `check` passed), given just before `read`.

        A hint for reading cheaply: a sink may remember what each item should
        look like (its owner, tags, layout) and confirm it in bulk instead of
        fetching everything per item. `read` must still report what is there.
        """

    @abstractmethod
    def read(self, addresses: Sequence[str]) -> dict[str, ActualItem]:
        """The items that exist among `addresses`, in as few calls as the API allows. Absent is omitted."""

    @abstractmethod
    def list_owned(self, instance: str) -> dict[str, ActualItem]:
        """Every item carrying `instance`'s ownership marker; values need not be read."""

    @abstractmethod
    def write(self, item: DesiredItem, actual: ActualItem | None) -> None:
        """Make the sink hold `item`, stamped with its owner. Idempotent."""

    @abstractmethod
    def delete(self, actual: ActualItem) -> None:
        """Remove an owned item. Idempotent: an item already gone is success."""

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Apply runs every write and delete of one run inside this.

        Sinks that can only write whole (a dotenv file) buffer changes and
        flush on exit; the default does nothing.
        """
        yield

    def describe(self) -> str:
        """A short human name for reports, e.g. 'us-east-1' or './out/.env'."""
        return ""

    def location(self) -> Location | None:
        """Where this target's items live, as far as `list_owned` and `write` reach (see `Location`), computed
        from the options alone, with no call. The core refuses two targets whose locations overlap (one is a
        prefix of the other): they would overwrite and prune each other's items. None, the default, means
        unknown: never refused."""
        return None

    def close(self) -> None:
        """Release connections; the default has none."""


@dataclass(frozen=True)
class ConnectorSpec:
    """What a plugin module exports: its name and the classes it provides."""

    name: str
    summary: str
    source: type[Source] | None = None
    sink: type[Sink] | None = None

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(r for r, cls in (("source", self.source), ("sink", self.sink)) if cls)
