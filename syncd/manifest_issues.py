"""A manifest's problems: `Issue` ('file:line:column: field.path: sentence'), `ManifestError` holding all of
them, and pydantic's validation errors in our words, each naming the rule broken, never the value given."""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from syncd import references, yamlpos
from syncd.errors import ConfigError
from syncd.schema import NAME_PATTERN

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Issue:
    where: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.message}" if self.field else f"{self.where}: {self.message}"


class ManifestError(ConfigError):
    """Every problem found in a manifest; str() gives one line per problem."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


def dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _fields_at(model: Any, loc: Loc) -> list[str]:
    """The keys a mapping at `loc` inside `model` may hold (for did-you-mean)."""
    current: Any = model
    for part in loc:
        origin = typing.get_origin(current)
        if origin in (typing.Union, types.UnionType):
            models = [a for a in typing.get_args(current) if isinstance(a, type) and issubclass(a, BaseModel)]
            current = models[0] if models else None
            origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            match = next(
                (f for n, f in current.model_fields.items() if part in (n, f.alias)),
                None,
            )
            current = match.annotation if match else None
        elif origin in (dict, list):
            current = typing.get_args(current)[-1]
        else:
            return []
    if typing.get_origin(current) in (typing.Union, types.UnionType):
        current = next((a for a in typing.get_args(current) if isinstance(a, type)), None)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _suggestion(key: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return close[0] if close else None


def holds_reference(tree: Any, loc: Loc) -> bool:
    """True when the value at `loc` in `tree` is a string holding a ${env:...} or ${file:...} reference."""
    for part in loc:
        try:
            tree = tree[part]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(tree, str) and references.has_references(tree)


# What a mapping of each model holds, for "must be a mapping (...)".
_MAPPING_OF = {
    "ManifestSpec": "a manifest: version, instance, source, targets, syncs",
    "SyncSpec": "a sync: name, from, to",
    "DestinationSpec": "a destination: target, and name or other options",
    "SourceSpec": "the source: type and its options",
    "TargetSpec": "a target: type and its options",
    "Defaults": "defaults such as prune and on_conflict",
    "DeleteGuard": "max_count and max_percent",
}
# What a list or mapping that must not be empty says, by field name.
_AT_LEAST_ONE = {
    "syncs": "must list at least one sync",
    "to": "must list at least one destination",
    "targets": "must name at least one target",
}
_TYPE_WORDS = {
    "dict_type": "must be a mapping",
    "list_type": "must be a list",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_too_short": "must not be empty",
}


def _plain(kind: str, loc: Loc, ctx: dict[str, Any], said: str) -> str:
    """Our sentence for one of pydantic's error types; its own wording only for a type not listed here.

    A sentence names the rule, never the value given (which may be a secret, or text of the document)."""
    name = loc[-1] if loc else ""
    if kind in ("model_type", "model_attributes_type"):
        what = _MAPPING_OF.get(str(ctx.get("class_name")))
        return f"must be a mapping ({what})" if what else "must be a mapping"
    if kind in _TYPE_WORDS:
        return _TYPE_WORDS[kind]
    if kind == "too_short":
        if ctx.get("min_length") == 1:
            return _AT_LEAST_ONE.get(str(name), "must not be empty")
        return f"must list at least {ctx.get('min_length')} items"
    if kind == "too_long":
        return f"must list at most {ctx.get('max_length')} items"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long"
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == NAME_PATTERN:
            return (
                "must be a name of 1 to 63 letters, digits, '.', '_' or '-', starting and ending with a letter or a"
                " digit"
            )
        return f"must match the pattern {ctx.get('pattern')}"
    if kind in ("enum", "literal_error"):
        return f"must be one of {ctx.get('expected')}"
    bounds = {"greater_than_equal": ("at least", "ge"), "less_than_equal": ("at most", "le")}
    bounds |= {"greater_than": ("more than", "gt"), "less_than": ("less than", "lt")}
    if kind in bounds:
        words, key = bounds[kind]
        limit = ctx.get(key)
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)
        return f"must be {words} {limit}"
    return said.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def validation_issues(
    exc: ValidationError,
    located: yamlpos.Located,
    prefix: Loc,
    model: Any,
    extra_keys: tuple[str, ...] = (),
    deferred: Any = None,
) -> list[Issue]:
    """One Issue per pydantic error, in our words (`_plain`); errors on values in `deferred` (a tree) that hold a
    reference are left out."""
    errors = [
        (e["type"], tuple(p for p in e["loc"] if p != "[key]"), e["msg"], e.get("ctx") or {})
        for e in exc.errors(include_input=False, include_url=False)
    ]
    if deferred is not None:
        # A reference is checked once resolved, when the connector is opened: its text cannot pass a pattern now.
        errors = [e for e in errors if not holds_reference(deferred, e[1])]
    suggestions: dict[Loc, str | None] = {}
    for kind, loc, _, _ in errors:
        if kind == "extra_forbidden":
            known = [*_fields_at(model, loc[:-1]), *(extra_keys if len(loc) == 1 else ())]
            suggestions[loc] = _suggestion(str(loc[-1]), known)
    # A misspelt required key shows as one unknown key plus one missing key: report it once.
    misspelt = {(*loc[:-1], hint) for loc, hint in suggestions.items() if hint}
    issues: list[Issue] = []
    for kind, loc, msg, ctx in errors:
        full = (*prefix, *loc)
        if kind == "extra_forbidden":
            hint = suggestions[loc]
            message = f"unknown key {loc[-1]!r}" + (f"; did you mean {hint!r}?" if hint else "")
            issues.append(Issue(located.where(full), dotted(full), message))
        elif kind == "missing":
            if loc not in misspelt:
                issues.append(Issue(located.where(full[:-1]), dotted(full), f"missing required key {loc[-1]!r}"))
        else:
            issues.append(Issue(located.where(full), dotted(full), _plain(kind, loc, ctx, msg)))
    return issues
