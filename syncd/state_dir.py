"""Where syncd keeps what outlives a process on one machine: the instance lock and the audit log."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

AUDIT_FILE = "audit.jsonl"


def default_state_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$SYNCD_STATE_DIR`, else systemd's `$STATE_DIRECTORY` (StateDirectory=; the first when it lists several),
    else `$XDG_STATE_HOME/syncd`, else `~/.local/state/syncd`."""
    env = os.environ if env is None else env
    if env.get("SYNCD_STATE_DIR"):
        return Path(env["SYNCD_STATE_DIR"])
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0])
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]) / "syncd"
    return Path.home() / ".local" / "state" / "syncd"
