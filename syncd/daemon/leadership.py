"""Who may write: this process alone (the instance lock already makes it the only writer on its machine), or the
holder of a leader election's lock among several replicas (`--leader-elect`)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from syncd.connector import Elector
from syncd.errors import SyncdError

log = structlog.get_logger(__name__)


class Solo:
    """No election: this process leads from the start."""

    enabled = False
    identity: str | None = None
    failure: str | None = None

    def __init__(self, on_started_leading: Callable[[], None]) -> None:
        self._on_started = on_started_leading

    @property
    def is_leader(self) -> bool:
        return True

    @property
    def known(self) -> bool:
        return True

    @property
    def holder(self) -> str | None:
        return None

    def start(self) -> None:
        self._on_started()

    def stop(self) -> None:
        pass


class Elected:
    """An `Elector` campaigning on its own thread. `is_leader` gates every run and every apply; becoming leader
    starts a full run at once, so a follower taking over does the work the old leader left."""

    enabled = True

    def __init__(
        self,
        elector: Elector,
        on_started_leading: Callable[[], None],
        on_change: Callable[[bool], None],
        on_failure: Callable[[str], None],
    ) -> None:
        self.elector = elector
        self.identity: str | None = elector.identity
        self.failure: str | None = None
        self._on_started, self._on_change, self._on_failure = on_started_leading, on_change, on_failure
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._campaign, name="syncd-leader-election", daemon=True)

    @property
    def is_leader(self) -> bool:
        return self.failure is None and self.elector.is_leader

    @property
    def known(self) -> bool:
        return self.elector.holder is not None

    @property
    def holder(self) -> str | None:
        return self.elector.holder

    def start(self) -> None:
        log.info("leader election started", lock=self.elector.describe(), identity=self.identity)
        self._thread.start()

    def stop(self) -> None:
        """End the campaign; the elector releases its lock on the way out (if the thread cannot finish in time, the
        lock simply expires)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _started(self) -> None:
        log.info("became the leader", lock=self.elector.describe(), identity=self.identity)
        self._on_change(True)
        self._on_started()

    def _stopped(self) -> None:
        log.info("stopped leading", lock=self.elector.describe(), identity=self.identity)
        self._on_change(False)

    def _campaign(self) -> None:
        try:
            self.elector.run(self._stop, self._started, self._stopped)
        except SyncdError as exc:
            self.failure = str(exc)
            log.error("leader election failed", lock=self.elector.describe(), error=str(exc))
            self._on_failure(str(exc))
        except Exception as exc:
            self.failure = f"unexpected {type(exc).__name__} in leader election"
            log.error("leader election failed", lock=self.elector.describe(), error_type=type(exc).__name__)
            self._on_failure(self.failure)
