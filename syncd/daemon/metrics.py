"""The daemon's Prometheus metrics, in a registry of their own (several daemons may share one process in tests).

Labels hold names only: sync, target, action, result, connector, operation; never a value, a secret's path or a
reference. docs/metrics.md lists every series.
"""

from __future__ import annotations

import contextlib
import platform
import threading
from collections.abc import Iterable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.metrics import MetricWrapperBase

from syncd import __version__
from syncd.daemon.outcome import RunOutcome, RunResult
from syncd.model import Action

# A run reads a source and plans and applies a few targets: from a fraction of a second to many minutes.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)

# The actions the drift gauge shows for every target of a finished run, 0 when the plan found none.
DRIFT_ACTIONS = tuple(action.value for action in Action if action is not Action.NOOP)


class DaemonMetrics:
    """Every series the daemon exports; the service calls one method per event."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        # (metric, label values) of every child that names a sync, by sync: what forget_sync removes.
        self._children: dict[str, set[tuple[MetricWrapperBase, tuple[str, ...]]]] = {}
        self._lock = threading.Lock()
        registry = self.registry

        self.build = Info("syncd_build", "The syncd version and the Python it runs on.", registry=registry)
        self.build.info({"version": __version__, "python": platform.python_version()})
        self.manifest = Info(
            "syncd_manifest",
            "The manifest in force: where it came from (file or git), its digest and its Git commit (empty if none).",
            registry=registry,
        )
        self.manifest_reloads = Counter(
            "syncd_manifest_reloads",
            "Manifest reloads by result: ok, invalid (the last good one keeps running), unreachable, unchanged.",
            ["result"],
            registry=registry,
        )
        self.is_leader = Gauge(
            "syncd_leader", "1 while this daemon may apply (the leader, or no election), else 0.", registry=registry
        )
        self.runs = Counter(
            "syncd_runs",
            "Finished runs by sync and result (ok, drift, failed, error).",
            ["sync", "result"],
            registry=registry,
        )
        self.target_runs = Counter(
            "syncd_target_runs",
            "Finished runs by sync, target and that target's result (ok, drift, failed, error).",
            ["sync", "target", "result"],
            registry=registry,
        )
        self.drift_items = Gauge(
            "syncd_drift_items",
            "Changes the last plan of a sync found on a target, by action (create, update, delete, conflict).",
            ["sync", "target", "action"],
            registry=registry,
        )
        self.last_success = Gauge(
            "syncd_last_success_timestamp_seconds",
            "When a run of a sync last finished with a target in sync (every change applied, or none needed).",
            ["sync", "target"],
            registry=registry,
        )
        self.run_duration = Histogram(
            "syncd_run_duration_seconds",
            "How long a run of a sync took: read, plan and apply.",
            ["sync"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.api_calls = Counter(
            "syncd_api_calls",
            "API calls made by connectors, by connector type, target ('source' for the source) and operation.",
            ["connector", "target", "operation"],
            registry=registry,
        )
        self.source_read_errors = Counter(
            "syncd_source_read_errors",
            "Source paths a run of a sync could not read.",
            ["sync"],
            registry=registry,
        )
        self.runs_in_progress = Gauge(
            "syncd_runs_in_progress", "Runs of a sync going on now (0 or 1).", ["sync"], registry=registry
        )
        self.audit_write_failures = Counter(
            "syncd_audit_write_failures",
            "Runs whose audit records could not be written (the changes were made; the log says which).",
            registry=registry,
        )
        self.notifications = Counter(
            "syncd_notifications",
            "Webhook notifications by result: sent, failed (the webhook refused or did not answer), dropped (unsent).",
            ["result"],
            registry=registry,
        )
        self.next_run_time = Gauge(
            "syncd_next_run_timestamp_seconds",
            "When the next scheduled run of a sync starts; absent when none is scheduled.",
            ["sync"],
            registry=registry,
        )

    def manifest_loaded(self, *, origin: str, digest: str, commit: str | None) -> None:
        """The manifest now in force (the info metric's old labels are replaced)."""
        self.manifest.info({"origin": origin, "digest": digest, "commit": commit or ""})

    def manifest_reload(self, result: str) -> None:
        self.manifest_reloads.labels(result=result).inc()

    def leader(self, is_leader: bool) -> None:
        """This replica may apply, or not. A replica that stops leading drops its per-target drift and last-success
        series: they would stand still while the new leader's move on, and alerts on them would fire here."""
        self.is_leader.set(1 if is_leader else 0)
        if not is_leader:
            for metric in (self.drift_items, self.last_success):
                with self._lock:
                    children = [(m, values) for kids in self._children.values() for m, values in kids if m is metric]
                    for kids in self._children.values():
                        kids.difference_update(children)
                _remove(children)

    def run_started(self, sync: str) -> None:
        self._child(self.runs_in_progress, sync).inc()

    def run_finished(self, outcome: RunOutcome) -> None:
        sync = outcome.sync
        self._child(self.runs_in_progress, sync).dec()
        self._child(self.runs, sync, outcome.result.value).inc()
        self._child(self.run_duration, sync).observe(max(0.0, outcome.duration))
        source_errors = self._child(self.source_read_errors, sync)
        if outcome.source_errors:
            source_errors.inc(outcome.source_errors)
        finished = outcome.finished_at.timestamp()
        for target in outcome.targets:
            self._child(self.target_runs, sync, target.target, target.result.value).inc()
            if target.result is RunResult.ERROR:
                continue  # no plan: what the last one found still stands
            for action in DRIFT_ACTIONS:
                self._child(self.drift_items, sync, target.target, action).set(target.drift.get(action, 0))
            if target.result is RunResult.OK:
                self._child(self.last_success, sync, target.target).set(finished)

    def notification(self, result: str, count: int = 1) -> None:
        self.notifications.labels(result=result).inc(count)

    def audit_write_failed(self) -> None:
        self.audit_write_failures.inc()

    def api_call(self, connector: str, part: str, operation: str) -> None:
        """One API call of a connector: fits `Connections(on_api_call=...)`; `part` is "source" or a target name."""
        self.api_calls.labels(connector=connector, target=part, operation=operation).inc()

    def next_run(self, sync: str, when: datetime | None) -> None:
        if when is None:
            self._forget(self.next_run_time, sync, (sync,))
        else:
            self._child(self.next_run_time, sync).set(when.timestamp())

    def forget_target(self, sync: str, target: str) -> None:
        """A reload took `target` out of `sync`: the series of that pair go."""
        with self._lock:
            children = {(m, values) for m, values in self._children.get(sync, set()) if values[1:2] == (target,)}
            self._children.get(sync, set()).difference_update(children)
        _remove(children)

    def forget_sync(self, sync: str) -> None:
        """A reload removed the sync: its series go (a new sync of that name starts from zero)."""
        with self._lock:
            children = self._children.pop(sync, set())
        _remove(children)

    def _child(self, metric: MetricWrapperBase, sync: str, *rest: str) -> MetricWrapperBase:
        values = (sync, *rest)
        with self._lock:
            self._children.setdefault(sync, set()).add((metric, values))
            return metric.labels(*values)

    def _forget(self, metric: MetricWrapperBase, sync: str, values: tuple[str, ...]) -> None:
        with self._lock:
            self._children.get(sync, set()).discard((metric, values))
        _remove([(metric, values)])


def _remove(children: Iterable[tuple[MetricWrapperBase, tuple[str, ...]]]) -> None:
    for metric, values in children:
        with contextlib.suppress(KeyError):  # never set, or removed already
            metric.remove(*values)
