"""The daemon's Prometheus series: what each DaemonMetrics event leaves in /metrics, read back with prometheus_client's
own parser over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from syncd import __version__
from syncd.daemon.metrics import DaemonMetrics
from syncd.daemon.outcome import RunOutcome, RunResult, TargetOutcome, Trigger
from tests.daemon.http_support import Daemon, daemon, fetch
from tests.leakscan import assert_no_leaks, no_redactor

__all__ = ["daemon", "no_redactor"]

STARTED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
PLANTED = "pl4nted-v4lue-in-an-error"


def made_up_outcome(**changes: object) -> RunOutcome:
    fields: dict[str, object] = {
        "run_id": "run-1",
        "sync": "app",
        "trigger": Trigger.SCHEDULE,
        "started_at": STARTED,
        "finished_at": STARTED + timedelta(seconds=3),
        "result": RunResult.FAILED,
        "targets": (
            TargetOutcome("prod-env", RunResult.OK, drift={"create": 2, "update": 1}, applied=3),
            TargetOutcome("kube", RunResult.FAILED, drift={"delete": 1}, failed=1, error_classes=("ItemMoved",)),
        ),
        "source_errors": 2,
        "error": f"one change failed ({PLANTED})",
        "manifest_commit": "abc123",
        "manifest_digest": "sha256:feed",
    }
    fields.update(changes)
    return RunOutcome(**fields)  # type: ignore[arg-type]


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition: (name, labels) → value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def names_with(found: dict[tuple[str, frozenset[tuple[str, str]]], float], label: str, wanted: str) -> set[str]:
    return {name for name, labels in found if (label, wanted) in labels}


def test_every_series_shows_in_metrics_after_a_run(daemon: Daemon) -> None:
    """After the events of one run, /metrics (parsed by prometheus_client) holds every series with its labels."""
    metrics = daemon.metrics
    metrics.manifest_loaded(origin="git", digest="sha256:feed", commit="abc123")
    metrics.manifest_reload("ok")
    metrics.manifest_reload("invalid")
    metrics.leader(True)
    metrics.next_run("app", STARTED + timedelta(minutes=5))
    metrics.run_started("app")
    metrics.run_started("other")
    metrics.api_call("vault", "source", "read")
    metrics.api_call("vault", "source", "read")
    metrics.api_call("kubernetes", "kube", "patch")
    metrics.run_finished(made_up_outcome())

    answer = daemon.get("/metrics")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    found = samples(answer.text)

    assert value(found, "syncd_build_info", version=__version__, python=found_python(found)) == 1
    assert value(found, "syncd_manifest_info", origin="git", digest="sha256:feed", commit="abc123") == 1
    assert value(found, "syncd_manifest_reloads_total", result="ok") == 1
    assert value(found, "syncd_manifest_reloads_total", result="invalid") == 1
    assert value(found, "syncd_leader") == 1
    assert value(found, "syncd_runs_total", sync="app", result="failed") == 1
    assert value(found, "syncd_target_runs_total", sync="app", target="prod-env", result="ok") == 1
    assert value(found, "syncd_target_runs_total", sync="app", target="kube", result="failed") == 1
    assert value(found, "syncd_drift_items", sync="app", target="prod-env", action="create") == 2
    assert value(found, "syncd_drift_items", sync="app", target="prod-env", action="update") == 1
    assert value(found, "syncd_drift_items", sync="app", target="prod-env", action="delete") == 0
    assert value(found, "syncd_drift_items", sync="app", target="kube", action="delete") == 1
    finished = (STARTED + timedelta(seconds=3)).timestamp()
    assert value(found, "syncd_last_success_timestamp_seconds", sync="app", target="prod-env") == finished
    assert value(found, "syncd_last_success_timestamp_seconds", sync="app", target="kube") is None
    assert value(found, "syncd_run_duration_seconds_count", sync="app") == 1
    assert value(found, "syncd_run_duration_seconds_sum", sync="app") == 3
    assert value(found, "syncd_run_duration_seconds_bucket", sync="app", le="2.5") == 0
    assert value(found, "syncd_run_duration_seconds_bucket", sync="app", le="5.0") == 1
    assert value(found, "syncd_api_calls_total", connector="vault", target="source", operation="read") == 2
    assert value(found, "syncd_api_calls_total", connector="kubernetes", target="kube", operation="patch") == 1
    assert value(found, "syncd_source_read_errors_total", sync="app") == 2
    assert value(found, "syncd_runs_in_progress", sync="app") == 0
    assert value(found, "syncd_runs_in_progress", sync="other") == 1
    assert value(found, "syncd_next_run_timestamp_seconds", sync="app") == (STARTED + timedelta(minutes=5)).timestamp()


def found_python(found: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> str:
    (labels,) = [dict(labels) for name, labels in found if name == "syncd_build_info"]
    assert labels["python"].count(".") == 2
    return labels["python"]


def test_openmetrics_is_served_when_the_scraper_asks_for_it(daemon: Daemon) -> None:
    """A scraper that accepts OpenMetrics gets it (ending in '# EOF'); others get the classic text format."""
    daemon.metrics.manifest_reload("ok")
    answer = daemon.get("/metrics", {"Accept": "application/openmetrics-text; version=1.0.0,text/plain;q=0.5"})
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("application/openmetrics-text")
    assert answer.text.endswith("# EOF\n")
    assert 'syncd_manifest_reloads_total{result="ok"} 1.0' in answer.text


def test_a_new_manifest_replaces_the_info_labels() -> None:
    """The manifest info metric names only the manifest in force, never the one before."""
    metrics = DaemonMetrics()
    metrics.manifest_loaded(origin="file", digest="sha256:old", commit=None)
    metrics.manifest_loaded(origin="git", digest="sha256:new", commit="c0ffee")
    found = [s for s in metrics.registry.collect() for s in s.samples if s.name == "syncd_manifest_info"]
    assert [s.labels for s in found] == [{"origin": "git", "digest": "sha256:new", "commit": "c0ffee"}]


def test_forgetting_a_sync_drops_its_series_and_keeps_the_others() -> None:
    """forget_sync removes every series labelled with that sync, and only those."""
    metrics = DaemonMetrics()
    for sync in ("app", "keep"):
        metrics.run_started(sync)
        metrics.next_run(sync, STARTED)
        metrics.run_finished(made_up_outcome(sync=sync))
    metrics.api_call("vault", "source", "read")
    metrics.forget_sync("app")
    found = samples(exposition(metrics))
    assert names_with(found, "sync", "app") == set()
    assert names_with(found, "sync", "keep") >= {
        "syncd_runs_total",
        "syncd_target_runs_total",
        "syncd_drift_items",
        "syncd_last_success_timestamp_seconds",
        "syncd_run_duration_seconds_count",
        "syncd_source_read_errors_total",
        "syncd_runs_in_progress",
        "syncd_next_run_timestamp_seconds",
    }
    assert value(found, "syncd_api_calls_total", connector="vault", target="source", operation="read") == 1


def test_no_next_run_removes_the_series() -> None:
    """A sync with no run scheduled has no next-run series (not a zero timestamp)."""
    metrics = DaemonMetrics()
    metrics.next_run("app", STARTED)
    metrics.next_run("app", None)
    assert value(samples(exposition(metrics)), "syncd_next_run_timestamp_seconds", sync="app") is None


def test_drift_shows_what_the_last_plan_found_and_an_error_keeps_it() -> None:
    """The drift gauge is the last plan's count (0 once repaired); a target that could not plan keeps the last
    count and its last success time."""
    metrics = DaemonMetrics()
    metrics.run_finished(made_up_outcome())
    repaired = (TargetOutcome("prod-env", RunResult.OK), TargetOutcome("kube", RunResult.ERROR))
    later = STARTED + timedelta(minutes=1)
    metrics.run_finished(made_up_outcome(targets=repaired, started_at=later, finished_at=later))
    found = samples(exposition(metrics))
    assert value(found, "syncd_drift_items", sync="app", target="prod-env", action="create") == 0
    assert value(found, "syncd_last_success_timestamp_seconds", sync="app", target="prod-env") == later.timestamp()
    assert value(found, "syncd_drift_items", sync="app", target="kube", action="delete") == 1
    assert value(found, "syncd_target_runs_total", sync="app", target="kube", result="error") == 1


def test_each_daemon_has_its_own_registry() -> None:
    """Two DaemonMetrics in one process count apart (neither uses the global registry)."""
    first, second = DaemonMetrics(), DaemonMetrics(CollectorRegistry())
    first.manifest_reload("ok")
    assert value(samples(exposition(first)), "syncd_manifest_reloads_total", result="ok") == 1
    assert value(samples(exposition(second)), "syncd_manifest_reloads_total", result="ok") is None


def test_metrics_hold_no_value_from_a_run(daemon: Daemon, no_redactor: None) -> None:
    """A value that reached a run's error sentence by mistake is not exported: labels hold names only."""
    daemon.metrics.run_finished(made_up_outcome())
    answer = fetch(daemon.address, "GET", "/metrics")
    assert_no_leaks({"planted": PLANTED}, texts={"/metrics": answer.text})


def exposition(metrics: DaemonMetrics) -> str:
    return generate_latest(metrics.registry).decode("utf-8")


def test_a_target_taken_out_of_a_sync_and_a_lost_leadership_drop_their_series() -> None:
    """forget_target drops one (sync, target) pair's series; leader(False) drops every drift and last-success
    series, which would otherwise stand still on a follower and fire alerts there."""
    metrics = DaemonMetrics()
    now = datetime.now(UTC)
    targets = (TargetOutcome("a", RunResult.OK, {"create": 1}, 1), TargetOutcome("b", RunResult.OK, {}, 0))
    metrics.run_started("s")
    metrics.run_finished(RunOutcome("r", "s", Trigger.START, now, now, RunResult.OK, targets=targets))

    def series(name: str) -> set[tuple[str, ...]]:
        return {
            tuple(sorted(sample.labels.items()))
            for family in metrics.registry.collect()
            for sample in family.samples
            if sample.name == name
        }

    assert len(series("syncd_last_success_timestamp_seconds")) == 2
    metrics.forget_target("s", "b")
    assert series("syncd_last_success_timestamp_seconds") == {(("sync", "s"), ("target", "a"))}
    assert all(("target", "b") not in labels for labels in series("syncd_drift_items"))
    metrics.leader(False)
    assert series("syncd_last_success_timestamp_seconds") == set() and series("syncd_drift_items") == set()
    assert series("syncd_runs_total")  # counters stay
