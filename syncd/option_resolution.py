"""A connector's options at run time: `${env:...}` and `${file:...}` references resolved, options that are
paths made absolute from the manifest's folder, and the result validated by the connector's options model."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from syncd import references, yamlpos
from syncd.manifest_issues import Issue, Loc, ManifestError, dotted, holds_reference, validation_issues
from syncd.secret_options import is_secret_option


def resolve_options(
    model: type[BaseModel],
    raw: dict[str, Any],
    loc: Loc,
    located: yamlpos.Located,
    base_dir: Path,
    env: Mapping[str, str] | None,
    lenient: bool = False,
) -> BaseModel:
    """The options `raw` (at `loc` in the manifest) with references resolved, validated by `model`; raises
    ManifestError. `lenient`: see `Manifest.source_options`."""
    unresolved: dict[tuple[str | int, ...], references.BadReference] = {}
    resolved = references.resolve_tree(
        raw,
        env=os.environ if env is None else env,
        base_dir=base_dir,
        unresolved=unresolved,
        is_secret=lambda path: is_secret_option(model, path),
    )
    if unresolved and not lenient:
        raise ManifestError([_reference_issue(located, loc, error) for error in unresolved.values()])
    resolved = _absolutize_paths(model, resolved, base_dir)
    try:
        return model.model_validate(resolved)
    except ValidationError as exc:
        issues = validation_issues(exc, located, loc, model, deferred=resolved if unresolved else None)
        # A field that failed because its reference could not be resolved: say that, not what it lacks.
        needed = {e["loc"] for e in exc.errors(include_input=False) if holds_reference(resolved, e["loc"])}
        issues += [_reference_issue(located, loc, error) for path, error in unresolved.items() if path in needed]
        raise ManifestError(issues) from None


def _reference_issue(located: yamlpos.Located, loc: Loc, error: references.BadReference) -> Issue:
    path = (*loc, *error.path)
    return Issue(located.where(path), dotted(path), error.message)


def _absolutize_paths(model: type[BaseModel], options: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Option fields marked `json_schema_extra={"path": True}` are relative to the manifest's folder."""
    out = dict(options)
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        value = out.get(name)
        if extra.get("path") and isinstance(value, str) and value:
            out[name] = str(base_dir / Path(value).expanduser())
    return out
