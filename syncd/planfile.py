"""The plan as JSON (schema `syncd.plan/v1`), saved plans, and the stale check.

The JSON holds no value and nothing derived from one: addresses, actions,
reasons, and the versions and timestamps the sinks and the source report.
The format is documented in docs/json-format.md; a change to it bumps the
version.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from syncd import __version__
from syncd.errors import ConfigError, StalePlanError
from syncd.model import Action, Change, ChangeResult, Plan, Problem

PLAN_FORMAT = "syncd.plan/v1"
APPLY_FORMAT = "syncd.apply/v1"


def summary_counts(plan: Plan) -> dict[str, int]:
    return {
        "create": plan.count(Action.CREATE),
        "update": plan.count(Action.UPDATE),
        "delete": plan.count(Action.DELETE),
        "conflict": plan.count(Action.CONFLICT),
        "noop": plan.count(Action.NOOP),
        "problems": len(plan.problems),
        "targets": len(plan.targets),
    }


def _change(change: Change) -> dict[str, Any]:
    return {
        "target": change.target,
        "address": change.address,
        "action": change.action.value,
        "sync": change.sync,
        "reasons": list(change.reasons),
        "difference": change.difference.to_data() if change.difference is not None else None,
        "actual_version": change.actual_version,
    }


def _problem(problem: Problem) -> dict[str, Any]:
    return {"sync": problem.sync, "target": problem.target, "address": problem.address, "message": problem.message}


def plan_to_dict(plan: Plan, manifest_path: str | None = None) -> dict[str, Any]:
    return {
        "format": PLAN_FORMAT,
        "syncd_version": __version__,
        "instance": plan.instance,
        "created_at": plan.created_at,
        "manifest": {"path": manifest_path, "sha256": plan.manifest_digest},
        "selection": {
            "syncs": list(plan.syncs),
            "targets": list(plan.targets),
            "filter": {
                "syncs": list(plan.sync_filter) if plan.sync_filter is not None else None,
                "targets": list(plan.target_filter) if plan.target_filter is not None else None,
            },
        },
        "summary": summary_counts(plan),
        "source_versions": dict(plan.source_versions),
        "refused_targets": list(plan.refused_targets),
        "changes": [_change(c) for c in plan.changes],
        "problems": [_problem(p) for p in plan.problems],
    }


def results_to_dict(plan: Plan, results: Sequence[ChangeResult], manifest_path: str | None = None) -> dict[str, Any]:
    return {
        "format": APPLY_FORMAT,
        "plan": plan_to_dict(plan, manifest_path),
        "results": [
            {**_change(r.change), "status": r.status.value, "error": r.error, "attempts": r.attempts} for r in results
        ],
        "summary": {
            "applied": sum(1 for r in results if r.ok),
            "failed": sum(1 for r in results if not r.ok),
        },
    }


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


# How many pieces of encoded JSON `dump` joins per write: few writes, and never the whole document at once.
_PIECES_PER_WRITE = 8192


def dump(data: Any, stream: TextIO) -> None:
    """`dumps(data)` written to `stream` as it is encoded: a plan of many changes is never held whole as text (nor as
    the encoder's list of a million small pieces, which `json.dumps` joins at the end)."""
    pieces: list[str] = []
    for piece in json.JSONEncoder(indent=2).iterencode(data):
        pieces.append(piece)
        if len(pieces) == _PIECES_PER_WRITE:
            stream.write("".join(pieces))
            pieces.clear()
    pieces.append("\n")
    stream.write("".join(pieces))


def save(data: Any, path: Path) -> None:
    """`dump(data)` into the file `path`, whole or not at all: written beside it, synced, then renamed over it, so an
    interruption or a full disk midway keeps the earlier file, and two writers at once leave one of their plans, never
    a mix. Raises OSError."""
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file 0600; a plan holds no value, and was always written 0644 under umask 022.
        os.chmod(name, 0o644)
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise


def load_saved(path: Path) -> dict[str, Any]:
    """A saved plan file, checked for shape; raises ConfigError naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"saved plan {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"saved plan {str(path)!r} is not readable JSON: {type(exc).__name__}") from None
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        raise ConfigError(f"{str(path)!r} is not a syncd plan (expected format {PLAN_FORMAT!r})")
    for key in ("manifest", "selection", "changes", "source_versions", "refused_targets"):
        if key not in data:
            raise ConfigError(f"saved plan {str(path)!r} lacks {key!r}")
    selection = data["selection"]
    if not isinstance(selection, dict) or not all(isinstance(selection.get(k), list) for k in ("syncs", "targets")):
        raise ConfigError(f"saved plan {str(path)!r} has no lists of selected syncs and targets")
    return data


def saved_manifest_path(saved: dict[str, Any]) -> Path | None:
    """The manifest path a saved plan was made from, as it was given to `plan` (None when not recorded)."""
    manifest = saved.get("manifest")
    path = manifest.get("path") if isinstance(manifest, dict) else None
    return Path(path) if isinstance(path, str) and path else None


def _fingerprint(changes: list[dict[str, Any]], by_difference: bool) -> set[tuple[Any, ...]]:
    """Each change as what it would do: the fields it writes (its difference) for a create or an update, its
    reasons for a delete or a conflict. A plan saved before differences were recorded is compared on reasons."""

    def what(change: dict[str, Any]) -> Any:
        found = change.get("difference") if by_difference else None
        return json.dumps(found, sort_keys=True) if found is not None else tuple(change["reasons"])

    return {(c["target"], c["address"], c["action"], what(c), c["actual_version"]) for c in changes}


def check_stale(saved: dict[str, Any], fresh: Plan) -> None:
    """Raise StalePlanError when `fresh` (made now) differs from the saved plan in anything that matters."""
    now = plan_to_dict(fresh)
    reasons: list[str] = []
    if saved["manifest"].get("sha256") != fresh.manifest_digest:
        reasons.append("the manifest changed")
    # A plan saved before the filters were recorded is compared on its lists alone.
    compared = [k for k in ("syncs", "targets", "filter") if k in saved["selection"]]
    if any(saved["selection"][k] != now["selection"][k] for k in compared):
        reasons.append("the selected syncs or targets differ")
    moved = sorted(
        p
        for p in set(saved["source_versions"]) | set(now["source_versions"])
        if saved["source_versions"].get(p) != now["source_versions"].get(p)
    )
    if moved:
        reasons.append(
            f"source secret {moved[0]!r} moved" + (f" (and {len(moved) - 1} more)" if len(moved) > 1 else "")
        )
    by_difference = all("difference" in c for c in saved["changes"])
    old, new = _fingerprint(saved["changes"], by_difference), _fingerprint(now["changes"], by_difference)
    if old != new:
        differing = sorted({(c[0], c[1]) for c in old ^ new})
        target, address = differing[0]
        more = f" (and {len(differing) - 1} more)" if len(differing) > 1 else ""
        reasons.append(f"item {address!r} on target {target!r} moved{more}")
    if sorted(saved["refused_targets"]) != sorted(fresh.refused_targets):
        reasons.append("the delete guard's verdict changed")
    if reasons:
        raise StalePlanError(
            "the saved plan is stale: " + "; ".join(reasons) + ". Run 'syncd plan' again and review the new plan"
        )
