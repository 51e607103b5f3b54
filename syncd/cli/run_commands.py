"""`syncd run`: the daemon, from its command line to its exit code; signals go to the daemon."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from syncd.cli.invocation import Invocation, config_path, setup_logging
from syncd.cli.options import ConfigOpt, LockWaitOpt, LogFormat, LogFormatOpt, LogLevel, LogLevelOpt, StateDirOpt
from syncd.errors import ConfigError
from syncd.instance_lock import InstanceLock

if TYPE_CHECKING:
    from syncd.daemon.manifest_source import GitManifest

DEFAULT_FILE_POLL = 2.0
# Each git call's limit; SIGTERM waits for a fetch in progress, so it stays well under the stop timeouts of deploy/.
GIT_TIMEOUT = 30.0
# Locks held for the life of the process.
_HELD: list[InstanceLock] = []


def run(
    config: ConfigOpt = None,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            help="HOST:PORT of /healthz, /readyz, /metrics, /v1/status and the trigger. "
            "Default: the manifest's daemon.listen, then 127.0.0.1:9180.",
            show_default=False,
        ),
    ] = None,
    state_dir: StateDirOpt = None,
    lock_wait: LockWaitOpt = "0",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan on schedule and report drift; never write.")] = False,
    leader_elect: Annotated[
        bool, typer.Option("--leader-elect", help="Apply only while holding a Kubernetes Lease (several replicas).")
    ] = False,
    lease_name: Annotated[
        str | None,
        typer.Option("--lease-name", help="The Lease's name. Default: syncd-<instance>.", show_default=False),
    ] = None,
    lease_namespace: Annotated[
        str | None,
        typer.Option(
            "--lease-namespace",
            help="The Lease's namespace. Default: $POD_NAMESPACE, then the pod's own namespace.",
            show_default=False,
        ),
    ] = None,
    lease_kubeconfig: Annotated[
        Path | None,
        typer.Option(
            "--lease-kubeconfig",
            help="Reach the Lease through this kubeconfig (default: in-cluster).",
            show_default=False,
        ),
    ] = None,
    lease_context: Annotated[
        str | None, typer.Option("--lease-context", help="A context of --lease-kubeconfig.", show_default=False)
    ] = None,
    lease_duration: Annotated[
        str | None,
        typer.Option(
            "--lease-duration",
            help="How long a follower waits before taking over a silent leader's Lease. Default: 15s.",
            show_default=False,
        ),
    ] = None,
    renew_deadline: Annotated[
        str | None,
        typer.Option(
            "--renew-deadline",
            help="How long the leader keeps leading without renewing its Lease. Default: 10s.",
            show_default=False,
        ),
    ] = None,
    retry_period: Annotated[
        str | None,
        typer.Option(
            "--retry-period", help="How often the Lease is tried or renewed. Default: 2s.", show_default=False
        ),
    ] = None,
    git_url: Annotated[
        str | None,
        typer.Option(
            "--git-url", help="Follow the manifest in this Git repository instead of a file.", show_default=False
        ),
    ] = None,
    git_ref: Annotated[
        str | None,
        typer.Option("--git-ref", help="Branch, tag or commit of --git-url. Default: main.", show_default=False),
    ] = None,
    git_path: Annotated[
        str | None, typer.Option("--git-path", help="The manifest's path in the repository.", show_default=False)
    ] = None,
    git_poll: Annotated[
        str | None, typer.Option("--git-poll", help="How often to fetch --git-ref. Default: 60s.", show_default=False)
    ] = None,
    git_token: Annotated[
        str | None,
        typer.Option(
            "--git-token",
            help="A reference to an HTTPS token for --git-url: ${env:NAME} or ${file:PATH}.",
            show_default=False,
        ),
    ] = None,
    shutdown_timeout: Annotated[
        str, typer.Option("--shutdown-timeout", help="How long SIGTERM waits for running applies.")
    ] = "60s",
    log_format: LogFormatOpt = LogFormat.json,
    log_level: LogLevelOpt = LogLevel.info,
) -> None:
    """Run as a daemon: each sync on its schedule, the manifest followed, health and metrics over HTTP."""
    from syncd.cli.options import duration_option, lock_wait_seconds
    from syncd.connector import LeaderElection
    from syncd.daemon.service import Daemon, DaemonOptions
    from syncd.registry import default_registry
    from syncd.settings import DEFAULT_SETTINGS
    from syncd.state_dir import default_state_dir

    setup_logging(log_level, log_format)
    state = state_dir or default_state_dir()
    if git_url is not None:
        if config is not None:
            raise ConfigError("give either --config or --git-url, not both: the manifest comes from one place")
        if not git_path:
            raise ConfigError("--git-url needs --git-path: the manifest's path in the repository")
        origin = _git_origin(git_url, git_ref or "main", git_path, git_token, state, lock_wait_seconds(lock_wait))
        poll = duration_option("--git-poll", git_poll or "60s")
    else:
        if git_path or git_token or git_ref or git_poll:
            raise ConfigError("--git-ref, --git-path, --git-poll and --git-token go with --git-url")
        from syncd.daemon.manifest_source import FileManifest

        origin, poll = FileManifest(config_path(config)), DEFAULT_FILE_POLL
    election = None
    if leader_elect:
        election = LeaderElection(
            name=lease_name or "",
            namespace=lease_namespace,
            kubeconfig=str(lease_kubeconfig.absolute()) if lease_kubeconfig else None,
            context=lease_context,
            lease_duration=duration_option("--lease-duration", lease_duration or "15s"),
            renew_deadline=duration_option("--renew-deadline", renew_deadline or "10s"),
            retry_period=duration_option("--retry-period", retry_period or "2s"),
        )
    elif lease_name or lease_namespace or lease_kubeconfig or lease_context:
        raise ConfigError("--lease-name, --lease-namespace, --lease-kubeconfig and --lease-context need --leader-elect")
    elif lease_duration or renew_deadline or retry_period:
        raise ConfigError("--lease-duration, --renew-deadline and --retry-period need --leader-elect")
    options = DaemonOptions(
        origin=origin,
        poll_interval=max(poll, 0.1),
        state_dir=state,
        lock_wait=lock_wait_seconds(lock_wait),
        listen=listen,
        dry_run=dry_run,
        shutdown_timeout=duration_option("--shutdown-timeout", shutdown_timeout),
        election=election,
    )
    daemon = Daemon(
        options,
        Invocation.registry or default_registry(),
        env=Invocation.env,
        clients=Invocation.clients,
        settings=Invocation.settings or DEFAULT_SETTINGS,
    )
    signal.signal(signal.SIGTERM, lambda *_: daemon.request_stop())
    signal.signal(signal.SIGINT, lambda *_: daemon.request_stop())
    signal.signal(signal.SIGHUP, lambda *_: daemon.request_reload())
    try:
        code = daemon.serve()
    finally:
        if not daemon.runs_left:
            while _HELD:
                _HELD.pop().release()
    if daemon.runs_left:
        # The shutdown deadline is the process's: leave now, releasing nothing. The kernel drops the instance lock
        # with the process and the Lease expires, so nobody else writes while the abandoned applies could still
        # land; their sinks' conditional writes let the next run finish the work. (Returning would wait for them:
        # the interpreter joins the scheduler's worker threads at exit.)
        logging.shutdown()
        os._exit(code)
    raise typer.Exit(code)


def _git_origin(
    url: str, ref: str, path: str, token_reference: str | None, state: Path, lock_wait: float | None
) -> GitManifest:
    from syncd import references
    from syncd.daemon.manifest_source import GitManifest

    token = None
    if token_reference is not None:
        env = Invocation.env if Invocation.env is not None else os.environ
        try:
            token = references.resolve(token_reference, env=env, base_dir=Path.cwd(), secret=True)
        except references.BadReference as exc:
            raise ConfigError(f"--git-token: {exc.message}") from None
    # One work folder per repository, ref and path, held by one daemon at a time: another daemon pruning its trees
    # would delete the tree of the manifest in force here. The lock lives as long as this process.
    key = hashlib.sha256(f"{url}\n{ref}\n{path}".encode()).hexdigest()[:16]
    lock = InstanceLock(state / "git", key, "syncd run", subject=f"the Git work folder of {url} {ref}:{path}")
    lock.acquire(lock_wait)
    _HELD.append(lock)
    return GitManifest(url, ref, path, state / "git" / key, token=token, timeout=GIT_TIMEOUT)
