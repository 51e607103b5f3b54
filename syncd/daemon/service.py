"""`syncd run`: the daemon. One APScheduler job per sync, a full run at start and after each reload, the manifest
followed (SIGHUP, the file changing, a Git ref moving), the instance lock held for the process's life, leader election
across replicas, and the HTTP endpoints, metrics, audit log and notifications fed from every run.

Threads: the caller's (main) thread runs `serve`: start-up, the reload and watch loop, shutdown. The scheduler's
workers run the syncs (at most one run per sync at a time: a per-sync lock; a full run takes them all). The HTTP
server and the elector have a thread each. The manifest in force is swapped as one reference under `_state`; a
run keeps the manifest it started with.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from syncd import __version__, references
from syncd.audit import AuditLog, audit_records, manifest_reference
from syncd.connector import LeaderElection
from syncd.daemon.http import DEFAULT_LISTEN, HttpServer, TriggerAnswer
from syncd.daemon.leadership import Elected, Solo
from syncd.daemon.manifest_source import ManifestRevision, ManifestSource, ManifestSourceError
from syncd.daemon.metrics import DaemonMetrics
from syncd.daemon.notify import Notifier
from syncd.daemon.outcome import RunOutcome, RunResult, Trigger
from syncd.daemon.runs import outcomes_of
from syncd.daemon.schedule import Schedule, schedules
from syncd.daemon.status import sync_document
from syncd.engine import Selection
from syncd.errors import ConfigError, SyncdError
from syncd.instance_lock import InstanceLock, LockHeld
from syncd.listen_address import parse_listen, show_address
from syncd.manifest import Manifest, allow_manifest_names, load_manifest
from syncd.model import ChangeResult, Plan
from syncd.registry import Registry
from syncd.run import Connections, Runner
from syncd.settings import DEFAULT_SETTINGS, Settings
from syncd.state_dir import AUDIT_FILE

log = structlog.get_logger(__name__)

FULL_RUN = "(all)"


@dataclass(frozen=True)
class DaemonOptions:
    """What `syncd run` was told on its command line."""

    origin: ManifestSource
    # How often the origin is asked whether the manifest changed (the file: seconds; Git: --git-poll).
    poll_interval: float
    state_dir: Path
    lock_wait: float | None = 0.0
    listen: str | None = None
    dry_run: bool = False
    shutdown_timeout: float = 60.0
    election: LeaderElection | None = None
    workers: int = 4


@dataclass(frozen=True)
class Loaded:
    """A manifest in force, with what the daemon resolved from it."""

    manifest: Manifest
    revision: ManifestRevision
    schedules: Mapping[str, Schedule]
    trigger_token: str | None
    notify_url: str | None
    notify_interval: float
    loaded_at: datetime

    @property
    def audit_ref(self) -> str:
        return manifest_reference(self.manifest.digest, self.revision.commit)


class Daemon:
    """The running daemon; `serve` is the whole life of `syncd run`, the rest is what its threads call."""

    def __init__(
        self,
        options: DaemonOptions,
        registry: Registry,
        *,
        env: Mapping[str, str] | None = None,
        clients: Mapping[str, Any] | None = None,
        settings: Settings = DEFAULT_SETTINGS,
    ) -> None:
        self.options = options
        self.registry = registry
        self.env = env
        self.settings = settings
        self.metrics = DaemonMetrics()
        self.connections = Connections(env, clients, on_api_call=self.metrics.api_call)
        self._state = threading.Lock()
        self._loaded: Loaded | None = None
        self._last_reload: dict[str, Any] = {}
        self._outcomes: dict[str, RunOutcome] = {}
        self._last_success: dict[str, datetime] = {}
        self._busy: dict[str, threading.Lock] = {}
        self._again: set[str] = set()
        self._full_queued = False
        self._active = 0
        self._idle = threading.Condition(self._state)
        self._stop = threading.Event()
        self._reload_requested = threading.Event()
        self._wake = threading.Event()
        self._fatal: str | None = None
        self._stopping = False
        # Set when shutdown left runs going: the last of them releases the lease and the instance lock.
        self._left_to_runs = False
        self._notifier: Notifier | None = None
        self._server: HttpServer | None = None
        self._lock: InstanceLock | None = None
        self.audit = AuditLog(options.state_dir / AUDIT_FILE)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=options.workers)},
            # A run that could not start on time (the process was busy or suspended) runs once, late, never twice.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.leadership: Solo | Elected = Solo(self._queue_full_run)

    # The life of the process (main thread)

    def serve(self) -> int:
        """Start, follow the manifest until asked to stop, shut down; the exit code. A first manifest that does not
        load, a lock held by another process, or an address in use raise ConfigError before anything runs."""
        loaded = self._load(self.options.origin.fetch())
        self._install(loaded)
        if not self.options.dry_run:  # a dry run never writes: it needs no writer's lock
            self._lock = InstanceLock(self.options.state_dir, loaded.manifest.instance, "syncd run")
            try:
                self._lock.acquire(self.options.lock_wait, self._stop)
            except LockHeld:
                if not self._stop.is_set():
                    raise
                log.info("stopped while waiting for the instance lock")
                return 0
        try:
            self.audit.check()
            self._server = self._start_server(loaded)
            self.leadership = self._leadership(loaded.manifest)
            self.scheduler.start()
            self._schedule(loaded)
            log.info(
                "syncd run started",
                instance=loaded.manifest.instance,
                manifest=loaded.revision.origin,
                commit=loaded.revision.commit,
                syncs=len(loaded.schedules),
                dry_run=self.options.dry_run,
                listen=show_address(*self._server.address),
            )
            self.leadership.start()
            self._follow()
        finally:
            code = self._shutdown()
        return code

    def request_stop(self) -> None:
        """SIGTERM, SIGINT: stop scheduling and shut down (safe from a signal handler)."""
        self._stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        """SIGHUP: read the manifest again now (safe from a signal handler)."""
        self._reload_requested.set()
        self._wake.set()

    def _follow(self) -> None:
        """Until stopped: reload on request, and ask the origin every poll interval whether the manifest changed."""
        while not self._stop.is_set():
            self._wake.wait(self.options.poll_interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            forced = self._reload_requested.is_set()
            self._reload_requested.clear()
            self._reload(forced)

    def _shutdown(self) -> int:
        """Stop scheduling and let running applies finish within the deadline; then release the lease and the lock.
        Past the deadline both stay held by the runs still going, and the last of them releases them when it ends
        (`runs_left`): `syncd run` does not wait for that, it leaves the process (see run_commands)."""
        self._stopping = True
        log.info("syncd run stopping", deadline_seconds=self.options.shutdown_timeout)
        if self.scheduler.running:
            self.scheduler.pause()
            self.scheduler.remove_all_jobs()
        with self._idle:
            finished = self._idle.wait_for(lambda: self._active == 0, timeout=self.options.shutdown_timeout)
            # Decided under `_idle`, where the last run checks it, so the hand-over cannot fall between the two.
            self._left_to_runs = not finished
        if finished:
            self._release_writer()
        else:
            # The lease and the instance lock stay held (renewed) while these applies may still land, so no other
            # replica or process writes meanwhile; the last run to end releases them, or the process exit does.
            log.error("runs still going at the shutdown deadline; leaving them", runs=self._active)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._server is not None:
            self._server.stop()
        if self._notifier is not None:
            self._notifier.close()
        if finished:
            self.connections.close()
        log.info("syncd run stopped")
        if self._fatal is not None:
            return 1
        return 0

    @property
    def runs_left(self) -> bool:
        """Runs are still going after `serve` returned (the shutdown deadline passed): they hold the lease and the
        instance lock until the last of them ends, or until the process ends, which `syncd run` makes it do at once
        (see run_commands)."""
        with self._idle:
            return self._left_to_runs

    def _release_writer(self) -> None:
        """End the campaign (the elector gives the lease up) and release the instance lock."""
        self.leadership.stop()
        if self._lock is not None:
            self._lock.release()

    # Manifests

    def _load(self, revision: ManifestRevision) -> Loaded:
        """A manifest and what the daemon takes from it; ManifestError or ConfigError when it cannot run."""
        manifest = load_manifest(revision.path, self.registry)
        allow_manifest_names(manifest)
        daemon = manifest.spec.daemon
        token = self._resolve(manifest, daemon.trigger_token, "daemon.trigger_token")
        notify = daemon.notify
        url = self._resolve(manifest, notify.webhook, "daemon.notify.webhook") if notify else None
        if url is not None and not url.lower().startswith(("http://", "https://")):
            raise ConfigError(f"{manifest.path}: daemon.notify.webhook must resolve to an http:// or https:// URL")
        return Loaded(
            manifest=manifest,
            revision=revision,
            schedules=schedules(manifest),
            trigger_token=token,
            notify_url=url,
            notify_interval=notify.min_interval if notify else 0.0,
            loaded_at=datetime.now(UTC),
        )

    def _resolve(self, manifest: Manifest, text: str | None, where: str) -> str | None:
        if text is None:
            return None
        env = self.env if self.env is not None else os.environ
        try:
            value = references.resolve(text, env=env, base_dir=manifest.path.parent, secret=True)
        except references.BadReference as exc:
            raise ConfigError(f"{manifest.path}: {where}: {exc.message}") from None
        if not value.strip():
            raise ConfigError(f"{manifest.path}: {where} is empty once resolved")
        return value

    def _install(self, loaded: Loaded) -> None:
        """Put `loaded` in force: the per-sync locks, the notifier, the metrics' manifest info."""
        with self._state:
            previous, self._loaded = self._loaded, loaded
            for name in loaded.schedules:
                self._busy.setdefault(name, threading.Lock())
            removed = [n for n in (previous.schedules if previous else ()) if n not in loaded.schedules]
            for name in removed:
                self._outcomes.pop(name, None)
                self._last_success.pop(name, None)
                self.metrics.forget_sync(name)
            if previous is not None:
                now_targets = _targets(loaded.manifest)
                for name, targets in _targets(previous.manifest).items():
                    for target in targets - now_targets.get(name, targets):
                        self.metrics.forget_target(name, target)
        if previous is None or (previous.notify_url, previous.notify_interval) != (
            loaded.notify_url,
            loaded.notify_interval,
        ):
            old, self._notifier = self._notifier, None
            if old is not None:
                old.close()
            if loaded.notify_url:
                self._notifier = Notifier(
                    loaded.notify_url,
                    instance=loaded.manifest.instance,
                    min_interval=loaded.notify_interval,
                    counted=self.metrics.notification,
                )
        revision = loaded.revision
        self.options.origin.in_force(revision)
        self.metrics.manifest_loaded(origin=revision.origin, digest=revision.digest, commit=revision.commit)

    def _reload(self, forced: bool) -> None:
        current = self._loaded
        assert current is not None
        origin = self.options.origin
        try:
            revision = origin.fetch() if forced else origin.poll()
        except (ManifestSourceError, SyncdError) as exc:
            self._reloaded("unreachable", error=str(exc))
            log.error("manifest unreachable; the last good one keeps running", error=str(exc))
            return
        with self._state:
            # Reached again after being unreachable: say so, or the status keeps the stale error.
            recovered = self._last_reload.get("result") == "unreachable"
        if revision is None or (
            revision.digest == current.revision.digest and revision.commit == current.revision.commit
        ):
            if forced or recovered:
                self._reloaded("unchanged")
                log.info("manifest unchanged", manifest=current.revision.origin)
            return
        try:
            loaded = self._load(revision)
            if loaded.manifest.instance != current.manifest.instance:
                raise ConfigError(
                    f"the new manifest names instance {loaded.manifest.instance!r} instead of "
                    f"{current.manifest.instance!r}; an instance's lock and audit trail stay with its process: "
                    "restart syncd to switch instances"
                )
        except SyncdError as exc:
            issues = [str(issue) for issue in getattr(exc, "issues", ())] or [str(exc)]
            self._reloaded("invalid", error=issues[0], issues=issues)
            log.error(
                "invalid manifest; the last good one keeps running",
                manifest=revision.origin,
                commit=revision.commit,
                errors=issues,
            )
            return
        self._install(loaded)
        self._schedule(loaded)
        self._reloaded("ok")
        log.info("manifest reloaded", manifest=revision.origin, commit=revision.commit, digest=revision.digest[:12])
        listen = loaded.manifest.spec.daemon.listen
        if self.options.listen is None and listen != current.manifest.spec.daemon.listen:
            log.warning("daemon.listen changed; it takes effect when syncd restarts", listen=listen)
        self._queue_full_run(Trigger.START)

    def _reloaded(self, result: str, *, error: str | None = None, issues: Sequence[str] = ()) -> None:
        self.metrics.manifest_reload(result)
        with self._state:
            self._last_reload = {
                "at": _iso(datetime.now(UTC)),
                "result": result,
                "error": error,
                "errors": list(issues),
            }

    # Scheduling

    def _schedule(self, loaded: Loaded) -> None:
        """One job per sync, replaced when its schedule changed; the jobs of syncs no longer there removed."""
        existing = {job.id: job for job in self.scheduler.get_jobs() if job.id.startswith("sync:")}
        for name, schedule in loaded.schedules.items():
            job_id = f"sync:{name}"
            previous = existing.pop(job_id, None)
            if previous is not None and previous.kwargs.get("schedule") == schedule:
                continue
            if previous is not None:
                previous.remove()
            self.scheduler.add_job(
                self._run_scheduled,
                trigger=schedule.trigger(),
                id=job_id,
                name=name,
                args=[name],
                kwargs={"schedule": schedule},
            )
        for job in existing.values():
            job.remove()
        self._publish_next_runs()

    def _publish_next_runs(self) -> None:
        for job in self.scheduler.get_jobs():
            if job.id.startswith("sync:"):
                self.metrics.next_run(job.name, job.next_run_time)

    def _queue_full_run(self, trigger: Trigger = Trigger.START) -> None:
        """A run of every sync as soon as a worker is free (at start, after a reload, on becoming leader); one queued
        at most."""
        with self._state:
            if self._full_queued or self._stopping:
                return
            self._full_queued = True
        self.scheduler.add_job(self._run_full, args=[trigger], id=f"full:{uuid.uuid4().hex}", name=FULL_RUN)

    def _queue_sync_run(self, sync: str) -> None:
        self.scheduler.add_job(self._run_requested, args=[sync], id=f"now:{sync}:{uuid.uuid4().hex}", name=sync)

    # Runs (scheduler workers)

    def _run_scheduled(self, sync: str, schedule: Schedule) -> None:
        self._run([sync], Trigger.SCHEDULE)
        self._publish_next_runs()

    def _run_requested(self, sync: str) -> None:
        self._run([sync], Trigger.API)

    def _run_full(self, trigger: Trigger) -> None:
        with self._state:
            self._full_queued = False
        self._run(None, trigger)

    def _run(self, syncs: list[str] | None, trigger: Trigger) -> None:
        """Plan and apply `syncs` (None: all of them, orphans pruned too) on the manifest in force now."""
        loaded = self._loaded
        if loaded is None or self._stopping or not self.leadership.is_leader:
            return
        names = list(loaded.schedules) if syncs is None else [s for s in syncs if s in loaded.schedules]
        if not names:
            return
        again: list[str] = []
        with self._holding(names, wait=syncs is None, again=again) as held:
            # A reload while this run waited for its locks queued a full run of the new manifest: this one is stale.
            if held and self._loaded is loaded:
                self._run_held(loaded, names, syncs is None, trigger)
            elif not held and trigger is Trigger.API:
                again += self._run_after_current(names)
        for name in again:
            self._queue_sync_run(name)

    def _run_after_current(self, names: Sequence[str]) -> list[str]:
        """A requested run that found its sync busy: have the run in progress start it again when it ends. The
        names whose run ended meanwhile are returned, to run now (checked under `_state`, where a run releases its
        locks and takes the requests it met, so no request falls between the two)."""
        with self._state:
            busy = [name for name in names if self._busy[name].locked()]
            self._again.update(busy)
        return [name for name in names if name not in busy]

    @contextlib.contextmanager
    def _holding(self, names: Sequence[str], *, wait: bool, again: list[str]) -> Iterator[bool]:
        """The per-sync locks of `names`, all or none: waiting for them (a full run), or not (one sync's run, which a
        run in progress makes unnecessary). Once held and released, `again` gets the names requested meanwhile."""
        with self._state:
            locks = [self._busy[name] for name in sorted(names)]
        taken: list[threading.Lock] = []
        held = False
        try:
            for lock in locks:
                if not lock.acquire(blocking=wait):
                    yield False
                    return
                taken.append(lock)
            held = True
            with self._idle:
                self._active += 1
            try:
                yield True
            finally:
                with self._idle:
                    self._active -= 1
                    self._idle.notify_all()
                    last_after_shutdown = self._left_to_runs and self._active == 0
                    if last_after_shutdown:
                        self._left_to_runs = False
                if last_after_shutdown:
                    log.info("the runs left at shutdown have ended; releasing the instance")
                    self.connections.close()
                    self._release_writer()
        finally:
            with self._state:
                for lock in reversed(taken):
                    lock.release()
                if held:
                    requested = [name for name in names if name in self._again]
                    self._again.difference_update(requested)
                    again += requested

    def _run_held(self, loaded: Loaded, names: list[str], full: bool, trigger: Trigger) -> None:
        if self._stopping:
            return
        manifest = loaded.manifest
        run_id = uuid.uuid4().hex[:12]
        started = datetime.now(UTC)
        for name in names:
            self.metrics.run_started(name)
        selection = Selection(None if full else frozenset(names))
        with structlog.contextvars.bound_contextvars(run_id=run_id):
            plan, results, error = self._plan_and_apply(manifest, selection, run_id)
        finished = datetime.now(UTC)
        if results:
            self._audit(loaded, results, run_id, trigger)
        outcomes = outcomes_of(
            manifest,
            names,
            plan,
            results,
            run_id=run_id,
            trigger=trigger,
            started_at=started,
            finished_at=finished,
            dry_run=self.options.dry_run,
            manifest_commit=loaded.revision.commit,
            error=error,
        )
        self._report(run_id, plan, outcomes)

    def _plan_and_apply(
        self, manifest: Manifest, selection: Selection, run_id: str
    ) -> tuple[Plan | None, Sequence[ChangeResult], str | None]:
        """The run's plan (None when it could not be made), what apply did, and the error that stopped it."""
        plan: Plan | None = None
        results: Sequence[ChangeResult] = ()
        error: str | None = None
        try:
            runner = Runner(manifest, self.connections, self.settings)
            with runner.connectors(selection) as (source, sinks):
                plan = runner.plan(source, sinks, selection)
                if plan.has_drift and not self.options.dry_run:
                    if self.leadership.is_leader:
                        results = runner.apply(plan, sinks, may_write=lambda: self.leadership.is_leader)
                    else:
                        error = "this replica stopped leading before applying; nothing was written"
        except SyncdError as exc:
            error = str(exc).splitlines()[0]
        except Exception as exc:
            error = f"unexpected {type(exc).__name__} (run with --log-level debug for the traceback)"
            log.debug("run failed", run_id=run_id, error_type=type(exc).__name__, exc_info=exc)
        return plan, results, error

    def _audit(self, loaded: Loaded, results: Sequence[ChangeResult], run_id: str, trigger: Trigger) -> None:
        records = audit_records(
            results, run_id=run_id, instance=loaded.manifest.instance, manifest=loaded.audit_ref, trigger=trigger.value
        )
        try:
            self.audit.append(records)
        except SyncdError as exc:
            # The changes are made; what is lost is their record, which the log line below keeps in part.
            log.error("audit log not written", run_id=run_id, records=len(records), error=str(exc))
            self.metrics.audit_write_failed()

    def _report(self, run_id: str, plan: Plan | None, outcomes: Sequence[RunOutcome]) -> None:
        # Each failed change is logged by apply itself (a "change" event at error level, with this run's id).
        for problem in plan.problems if plan else ():
            log.warning("problem", run_id=run_id, sync=problem.sync, target=problem.target, message=problem.message)
        notifier = self._notifier
        for outcome in outcomes:
            with self._state:
                current = self._loaded
                if current is None or outcome.sync not in current.schedules:
                    continue  # a reload removed the sync while it ran: its state and series are gone for good
                self._outcomes[outcome.sync] = outcome
                if outcome.result is RunResult.OK:
                    self._last_success[outcome.sync] = outcome.finished_at
                self.metrics.run_finished(outcome)
            if notifier is not None:
                notifier.run_finished(outcome)
            log.info(
                "run finished",
                run_id=run_id,
                sync=outcome.sync,
                trigger=outcome.trigger.value,
                result=outcome.result.value,
                drift=outcome.drift_total(),
                applied=sum(t.applied for t in outcome.targets),
                failed=sum(t.failed for t in outcome.targets),
                error=outcome.error,
                seconds=round(outcome.duration, 3),
            )

    # Set-up pieces

    def _start_server(self, loaded: Loaded) -> HttpServer:
        text = self.options.listen or loaded.manifest.spec.daemon.listen or DEFAULT_LISTEN
        try:
            host, port = parse_listen(text)
        except ValueError as exc:
            raise ConfigError(f"--listen: {exc}") from None  # the manifest's daemon.listen was checked at load
        server = HttpServer(self, self.metrics, host, port, token=self._token)
        server.start()
        return server

    def _token(self) -> str | None:
        loaded = self._loaded
        return loaded.trigger_token if loaded else None

    def _leadership(self, manifest: Manifest) -> Solo | Elected:
        election = self.options.election
        if election is None:
            self.metrics.leader(True)
            return Solo(self._queue_full_run)
        if not election.name:
            # A Lease's name is a DNS subdomain: lower case, no underscore (an instance name may have both).
            election = dataclasses.replace(election, name=f"syncd-{manifest.instance.lower().replace('_', '-')}")
        spec = self.registry.get("kubernetes")
        if spec.leader_elector is None:
            raise ConfigError("--leader-elect needs the kubernetes connector's Lease elector, which is not installed")
        elector = spec.leader_elector(election)
        self.metrics.leader(False)
        return Elected(elector, lambda: self._queue_full_run(Trigger.START), self.metrics.leader, self._failed)

    def _failed(self, message: str) -> None:
        """Leader election cannot go on (its lock is forbidden to us): stop with exit code 1."""
        self._fatal = message
        self.request_stop()

    # What the HTTP endpoints show (DaemonView)

    def health(self) -> tuple[bool, dict[str, Any]]:
        alive = self.scheduler.running and not self._stopping and self._fatal is None
        return alive, {"scheduler": "running" if self.scheduler.running else "stopped", "error": self._fatal}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        loaded = self._loaded is not None
        known = self.leadership.known
        ready = loaded and known and not self._stopping and self._fatal is None
        return ready, {"manifest_loaded": loaded, "leader_state_known": known, "stopping": self._stopping}

    def trigger(self, sync: str) -> TriggerAnswer:
        loaded = self._loaded
        if loaded is None or self._stopping:
            return TriggerAnswer.NOT_READY
        if sync not in loaded.schedules:
            return TriggerAnswer.UNKNOWN_SYNC
        if not self.leadership.is_leader:
            return TriggerAnswer.NOT_LEADER
        self._queue_sync_run(sync)
        return TriggerAnswer.ACCEPTED

    def status(self) -> dict[str, Any]:
        loaded = self._loaded
        jobs = {job.name: job for job in self.scheduler.get_jobs() if job.id.startswith("sync:")}
        with self._state:
            outcomes = dict(self._outcomes)
            successes = dict(self._last_success)
            last_reload = dict(self._last_reload)
            running = {name for name, lock in self._busy.items() if lock.locked()}
        syncs: dict[str, Any] = {}
        for name, schedule in (loaded.schedules if loaded else {}).items():
            job = jobs.get(name)
            next_run = job.next_run_time if job else None
            syncs[name] = {
                "schedule": schedule.describe(),
                **sync_document(outcomes.get(name), next_run, name in running),
                "last_success": _iso(successes[name]) if name in successes else None,
            }
        revision = loaded.revision if loaded else None
        return {
            "instance": loaded.manifest.instance if loaded else None,
            "version": __version__,
            "dry_run": self.options.dry_run,
            "leader": {
                "election": self.leadership.enabled,
                "is_leader": self.leadership.is_leader,
                "identity": self.leadership.identity,
                "holder": self.leadership.holder,
            },
            "manifest": {
                "origin": revision.origin if revision else None,
                "commit": revision.commit if revision else None,
                "digest": revision.digest if revision else None,
                "loaded_at": _iso(loaded.loaded_at) if loaded else None,
                "last_reload": last_reload or None,
            },
            "syncs": syncs,
        }


def _targets(manifest: Manifest) -> dict[str, set[str]]:
    return {sync.name: {d.spec.target for d in sync.destinations} for sync in manifest.syncs}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")
