"""Runs as a service: long-lived connections, and plan and apply on per-run connectors.

`Connections` keeps one connection per part of a manifest (the source, each target): the SDK session, its
auth and token renewal, and the part's rate limiter, made on first use and kept until `close`, so a process
that runs many times (the daemon) authenticates once. Each run gets fresh `Source` and `Sink` objects built
on those connections, with the options resolved again (a `${file:...}` credential may have been rotated;
a part whose resolved options changed gets a new connection). The command line and the daemon call only
`Runner.plan` and `Runner.apply`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from syncd.apply import Progress, apply_plan
from syncd.connector import Sink, Source
from syncd.engine import Selection, make_plan
from syncd.manifest import Manifest, ManifestError
from syncd.model import ChangeResult, Plan
from syncd.ratelimit import RateLimiter
from syncd.settings import DEFAULT_SETTINGS, Settings

SOURCE = "source"


class Connections:
    """The long-lived connections of one manifest's parts, keyed "source" or by target name.

    `clients` maps a part to a ready-made SDK client (tests, embedding); `env` replaces the process environment
    for `${env:...}` references; `on_api_call(connector, part, operation)` is told of every API call a part's
    connector makes (the daemon's metrics).
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        clients: Mapping[str, Any] | None = None,
        on_api_call: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.env = env
        self.clients = dict(clients or {})
        self.on_api_call = on_api_call
        self._lock = threading.Lock()
        # part → (the options it was made with, the connection, its rate limiter)
        self._open: dict[str, tuple[BaseModel, Any, RateLimiter]] = {}

    def _connection(self, part: str, kind: str, options: BaseModel, rate: float | None, make: Any) -> Any:
        with self._lock:
            held = self._open.get(part)
            if held is not None and held[0] == options and held[2].rate == rate:
                return held[1]
            if held is not None:
                _close(held[1])
            limiter = RateLimiter(rate, on_call=self._counter(kind, part))
            connection = make(options, self.clients.get(part), limiter)
            self._open[part] = (options, connection, limiter)
            return connection

    def _counter(self, kind: str, part: str) -> Callable[[str], None] | None:
        report = self.on_api_call
        if report is None:
            return None
        return lambda operation: report(kind, part, operation)

    def source(self, manifest: Manifest) -> Source:
        cls = manifest.source_connector.source
        assert cls is not None
        options = manifest.source_options(self.env)
        rate = manifest.spec.source.rate_limit if manifest.spec.source else None
        kind = manifest.spec.source.type
        return cls(options, self._connection(SOURCE, kind, options, rate, cls.connect))

    def sink(self, manifest: Manifest, target: str) -> Sink:
        cls = manifest.target_connectors[target].sink
        assert cls is not None
        options = manifest.target_options(target, self.env)
        rate = manifest.spec.targets[target].rate_limit

        def connect(options: BaseModel, client: Any, limiter: RateLimiter) -> Any:
            return cls.connect(target, options, client, limiter)

        kind = manifest.spec.targets[target].type
        return cls(target, options, self._connection(target, kind, options, rate, connect))

    @contextlib.contextmanager
    def opened(self, manifest: Manifest, targets: Sequence[str]) -> Iterator[tuple[Source, dict[str, Sink]]]:
        """This run's source and the sinks of `targets`; the problems of all of them (every unset variable,
        every invalid option) raised together as one ManifestError. The run's objects are closed on exit;
        the connections stay."""
        issues = []
        source: Source | None = None
        sinks: dict[str, Sink] = {}
        try:
            try:
                source = self.source(manifest)
            except ManifestError as exc:
                issues += exc.issues
            for target in targets:
                try:
                    sinks[target] = self.sink(manifest, target)
                except ManifestError as exc:
                    issues += exc.issues
            if issues:
                raise ManifestError(issues)
            assert source is not None
            yield source, sinks
        finally:
            for part in (*sinks.values(), source):
                if part is not None:
                    _close(part)

    def close(self) -> None:
        """End every connection (at process end, or when the manifest no longer names a part)."""
        with self._lock:
            held, self._open = self._open, {}
        for _, connection, _ in held.values():
            _close(connection)


def _close(thing: Any) -> None:
    close = getattr(thing, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()


class Runner:
    """Plan and apply for one manifest, on `connections`: what the command line and the daemon call."""

    def __init__(self, manifest: Manifest, connections: Connections, settings: Settings = DEFAULT_SETTINGS) -> None:
        self.manifest = manifest
        self.connections = connections
        self.settings = settings

    @contextlib.contextmanager
    def connectors(self, selection: Selection) -> Iterator[tuple[Source, dict[str, Sink]]]:
        selection.check(self.manifest)
        with self.connections.opened(self.manifest, selection.pick_targets(self.manifest)) as parts:
            yield parts

    def plan(
        self, source: Source, sinks: Mapping[str, Sink], selection: Selection, *, allow_mass_delete: bool = False
    ) -> Plan:
        return make_plan(
            self.manifest, source, sinks, selection, settings=self.settings, allow_mass_delete=allow_mass_delete
        )

    def apply(
        self,
        plan: Plan,
        sinks: Mapping[str, Sink],
        progress: Progress | None = None,
        may_write: Callable[[], bool] | None = None,
    ) -> tuple[ChangeResult, ...]:
        spec = self.manifest.spec
        concurrency = {target: spec.concurrency(target) for target in spec.targets}
        return apply_plan(
            plan, sinks, concurrency=concurrency, progress=progress, settings=self.settings, may_write=may_write
        )
