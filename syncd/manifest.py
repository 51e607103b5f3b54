"""Load a manifest: YAML with positions, the core schema, each connector's own schema,
the cross-references between them, and the name templates. No network call.

Every problem is reported as 'file:line:column: field.path: sentence', all of
them at once, and nothing is run when there is one.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import hashlib
import os
import re
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError

from syncd import references, yamlpos
from syncd.connector import ConnectorSpec, Sink, Source
from syncd.errors import ConfigError
from syncd.model import ConflictPolicy, Granularity
from syncd.registry import Registry, did_you_mean
from syncd.schema import NAME_PATTERN, Defaults, DestinationSpec, ManifestSpec, SourceSpec, SyncSpec, TargetSpec
from syncd.template import Template, TemplateError, compile_template

Loc = tuple[str | int, ...]

TEMPLATE_VARIABLES = ("sync", "target", "path", "name", "relpath")
PER_KEY_VARIABLES = (*TEMPLATE_VARIABLES, "key")


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


@dataclass(frozen=True)
class Destination:
    """One `to` entry, validated: core fields, the connector's own options and the compiled name."""

    spec: DestinationSpec
    options: BaseModel
    granularity: Granularity
    template: Template
    loc: Loc


@dataclass(frozen=True)
class Sync:
    spec: SyncSpec
    destinations: tuple[Destination, ...]
    prune: bool
    on_conflict: ConflictPolicy

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class Manifest:
    path: Path
    digest: str
    spec: ManifestSpec
    source_connector: ConnectorSpec
    target_connectors: Mapping[str, ConnectorSpec]
    syncs: tuple[Sync, ...]
    located: yamlpos.Located = field(repr=False)

    @property
    def instance(self) -> str:
        return self.spec.instance

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def source_options(self, env: Mapping[str, str] | None = None, *, lenient: bool = False) -> BaseModel:
        """The source's options with references resolved (a run-time step: reads env and files).

        `lenient` keeps a reference that cannot be resolved as written, and fails only when a field that
        holds one is invalid that way: for commands that use a few options and make no call (the policies).
        """
        cls = self.source_connector.source
        assert cls is not None
        return self._resolved_options(cls.Options, self.spec.source, ("source",), env, lenient)

    def target_options(self, target: str, env: Mapping[str, str] | None = None, *, lenient: bool = False) -> BaseModel:
        """One target's options with references resolved (see `source_options`)."""
        cls = self.target_connectors[target].sink
        assert cls is not None
        return self._resolved_options(cls.Options, self.spec.targets[target], ("targets", target), env, lenient)

    def open_source(self, env: Mapping[str, str] | None = None, client: Any = None, *, lenient: bool = False) -> Source:
        """The source connector on a connection of its own: for one-off use (tests, policies). A process that
        runs more than once keeps its connections in `syncd.run.Connections`."""
        cls = self.source_connector.source
        assert cls is not None
        options = self.source_options(env, lenient=lenient)
        return cls(options, cls.connect(options, client))

    def open_sink(
        self, target: str, env: Mapping[str, str] | None = None, client: Any = None, *, lenient: bool = False
    ) -> Sink:
        """One target's sink on a connection of its own (see `open_source`)."""
        cls = self.target_connectors[target].sink
        assert cls is not None
        options = self.target_options(target, env, lenient=lenient)
        return cls(target, options, cls.connect(target, options, client))

    def _resolved_options(
        self,
        model: type[BaseModel],
        spec: SourceSpec | TargetSpec,
        loc: Loc,
        env: Mapping[str, str] | None,
        lenient: bool = False,
    ) -> BaseModel:
        raw = spec.connector_options
        unresolved: dict[tuple[str | int, ...], references.BadReference] = {}
        resolved = references.resolve_tree(
            raw,
            env=os.environ if env is None else env,
            base_dir=self.base_dir,
            unresolved=unresolved,
            is_secret=lambda path: is_secret_option(model, path),
        )
        if unresolved and not lenient:
            raise ManifestError([self._reference_issue(loc, error) for error in unresolved.values()])
        resolved = _absolutize_paths(model, resolved, self.base_dir)
        try:
            return model.model_validate(resolved)
        except ValidationError as exc:
            issues = _issues(exc, self.located, loc, model, deferred=resolved if unresolved else None)
            # A field that failed because its reference could not be resolved: say that, not what it lacks.
            needed = {e["loc"] for e in exc.errors(include_input=False) if _holds_reference(resolved, e["loc"])}
            issues += [self._reference_issue(loc, error) for path, error in unresolved.items() if path in needed]
            raise ManifestError(issues) from None

    def _reference_issue(self, loc: Loc, error: references.BadReference) -> Issue:
        path = (*loc, *error.path)
        return Issue(self.located.where(path), _dotted(path), error.message)


def _alternatives(annotation: Any) -> list[Any]:
    """The types an annotation allows: `Annotated` unwrapped, unions and optionals split."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _alternatives(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _alternatives(arg)]
    return [annotation]


def is_secret_option(annotation: Any, path: Loc) -> bool:
    """Whether the option at `path` in a connector's options model is a credential: a field typed `SecretStr`
    (or `SecretBytes`) or declared with `secret_field()`, at any depth. An option the model does not describe
    counts as secret."""
    alternatives = _alternatives(annotation)
    if any(t in (SecretStr, SecretBytes, Any) for t in alternatives):
        return True
    if not path:
        return False
    described = False
    for alternative in alternatives:
        if isinstance(alternative, type) and issubclass(alternative, BaseModel):
            info = next((f for n, f in alternative.model_fields.items() if path[0] in (n, f.alias)), None)
            if info is None:
                continue
            described = True
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            if extra.get("secret") or is_secret_option(info.annotation, path[1:]):
                return True
        elif typing.get_origin(alternative) in (dict, list, tuple, Mapping):
            described = True
            if is_secret_option((typing.get_args(alternative) or (Any,))[-1], path[1:]):
                return True
    return not described


def _absolutize_paths(model: type[BaseModel], options: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Option fields marked `json_schema_extra={"path": True}` are relative to the manifest's folder."""
    out = dict(options)
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        value = out.get(name)
        if extra.get("path") and isinstance(value, str) and value:
            out[name] = str(base_dir / Path(value).expanduser())
    return out


def _dotted(loc: Loc) -> str:
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


def _holds_reference(tree: Any, loc: Loc) -> bool:
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


def _issues(
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
        errors = [e for e in errors if not _holds_reference(deferred, e[1])]
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
            issues.append(Issue(located.where(full), _dotted(full), message))
        elif kind == "missing":
            if loc not in misspelt:
                issues.append(Issue(located.where(full[:-1]), _dotted(full), f"missing required key {loc[-1]!r}"))
        else:
            issues.append(Issue(located.where(full), _dotted(full), _plain(kind, loc, ctx, msg)))
    return issues


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"manifest {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read manifest {str(path)!r}: {reason}") from None


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector out of a load: it would walk the growing tree of a large manifest
    again and again, and a manifest's data holds no cycle to collect."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_manifest(path: str | Path, registry: Registry) -> Manifest:
    """Read and validate a manifest completely; raises ConfigError/ManifestError."""
    path = Path(path)
    text = _read(path)
    with _collector_paused():
        located = yamlpos.load(text, str(path))
        if not isinstance(located.data, dict):
            raise ManifestError(
                [
                    Issue(
                        located.where(()),
                        "",
                        "a manifest must be a YAML mapping with version, instance, source, targets and syncs",
                    )
                ]
            )
        issues: list[Issue] = []
        try:
            spec: ManifestSpec | None = ManifestSpec.model_validate(located.data)
        except ValidationError as exc:
            # Report the schema's problems and go on checking every part that is valid on its own,
            # so that one run shows every mistake.
            issues += _issues(exc, located, (), ManifestSpec)
            spec = None
        parts = _Parts.of(spec) if spec is not None else _Parts.valid_in(located.data)
        checker = _Checker(parts, located, registry)
        manifest = checker.run(path, hashlib.sha256(text.encode()).hexdigest(), spec)
        issues += checker.issues
    if issues:
        raise ManifestError(issues)
    assert manifest is not None
    return manifest


@dataclass
class _Parts:
    """The parts of a manifest that passed the core schema, with the indexes they have in the file."""

    defaults: Defaults
    source: SourceSpec | None
    targets: dict[str, TargetSpec]
    # Every target name given, valid or not; None when `targets` is missing, empty or not a mapping.
    target_names: frozenset[str] | None
    syncs: list[tuple[int, SyncSpec]]

    @classmethod
    def of(cls, spec: ManifestSpec) -> _Parts:
        targets = dict(spec.targets)
        return cls(spec.defaults, spec.source, targets, frozenset(targets), list(enumerate(spec.syncs)))

    @classmethod
    def valid_in(cls, data: dict[str, Any]) -> _Parts:
        def valid(model: type[BaseModel], value: Any) -> Any:
            try:
                return model.model_validate(value)
            except ValidationError:
                return None

        raw_targets = data.get("targets")
        raw_syncs = data.get("syncs")
        targets: dict[str, TargetSpec] = {}
        if isinstance(raw_targets, dict):
            for name, target in raw_targets.items():
                checked = valid(TargetSpec, target)
                if checked is not None and re.fullmatch(NAME_PATTERN, name):
                    targets[name] = checked
        syncs = [(index, valid(SyncSpec, sync)) for index, sync in enumerate(raw_syncs or [])]
        return cls(
            defaults=valid(Defaults, data.get("defaults", {})) or Defaults(),
            source=valid(SourceSpec, data.get("source")),
            targets=targets,
            target_names=frozenset(raw_targets) if isinstance(raw_targets, dict) and raw_targets else None,
            syncs=[(index, sync) for index, sync in syncs if sync is not None] if isinstance(raw_syncs, list) else [],
        )


class _Checker:
    """The checks that span more than one field: connectors, targets, templates, references."""

    def __init__(self, parts: _Parts, located: yamlpos.Located, registry: Registry) -> None:
        self.parts = parts
        self.located = located
        self.registry = registry
        self.issues: list[Issue] = []
        # Many syncs share a name template: parse and check each one once.
        self._templates: dict[tuple[str, Granularity], Template | TemplateError] = {}

    def add(self, loc: Loc, message: str) -> None:
        self.issues.append(Issue(self.located.where(loc), _dotted(loc), message))

    def run(self, path: Path, digest: str, spec: ManifestSpec | None) -> Manifest | None:
        parts = self.parts
        source = self._connector(("source",), parts.source, "source") if parts.source is not None else None
        targets = {
            name: conn
            for name, target in parts.targets.items()
            if (conn := self._connector(("targets", name), target, "sink"))
        }
        self._check_references()
        seen: dict[str, int] = {}
        syncs = []
        valid = dict(parts.syncs)
        raw_syncs = self.located.data.get("syncs")
        # A sync that fails the schema is still checked for what can be seen: its name, its targets.
        for index, raw in enumerate(raw_syncs if isinstance(raw_syncs, list) else []):
            sync = valid.get(index)
            name = sync.name if sync is not None else raw.get("name") if isinstance(raw, dict) else None
            if isinstance(name, str):
                if name in seen:
                    self.add(("syncs", index, "name"), f"sync name {name!r} is already used by syncs[{seen[name]}]")
                seen.setdefault(name, index)
            if sync is not None:
                syncs.append(self._sync(index, sync, targets))
            elif isinstance(raw, dict) and isinstance(raw.get("to"), list):
                for d_index, dest in enumerate(raw["to"]):
                    if isinstance(dest, dict) and isinstance(dest.get("target"), str):
                        self._known_target(("syncs", index, "to", d_index), dest["target"])
        self._check_static_duplicates(syncs)
        if self.issues or source is None or spec is None:
            return None
        return Manifest(path, digest, spec, source, targets, tuple(syncs), located=self.located)

    def _connector(self, loc: Loc, spec: SourceSpec | TargetSpec, role: str) -> ConnectorSpec | None:
        try:
            conn = self.registry.get(spec.type)
        except ConfigError as exc:
            self.add((*loc, "type"), exc.message)
            return None
        cls = conn.source if role == "source" else conn.sink
        if cls is None:
            self.add((*loc, "type"), f"connector {spec.type!r} cannot be a {role} (it can be: {', '.join(conn.roles)})")
            return None
        core_keys = tuple(type(spec).model_fields)
        try:
            # References are still unresolved here; they are allowed in string options only.
            cls.Options.model_validate(spec.connector_options)
        except ValidationError as exc:
            options = spec.connector_options
            for issue in _issues(exc, self.located, loc, cls.Options, core_keys, deferred=options):
                self.issues.append(issue)
        return conn

    def _check_references(self) -> None:
        trees = [(("targets", n), t.connector_options) for n, t in self.parts.targets.items()]
        if self.parts.source is not None:
            trees.insert(0, (("source",), self.parts.source.connector_options))
        for loc, tree in trees:
            for exc in references.bad_references(tree):
                self.add((*loc, *exc.path), exc.message)
        raw_syncs = self.located.data.get("syncs")
        for index, sync in enumerate(raw_syncs if isinstance(raw_syncs, list) else []):
            if references.has_references(sync):
                self.add(
                    ("syncs", index), "${env:...} and ${file:...} references belong in source and target options only"
                )

    def _sync(self, index: int, sync: SyncSpec, targets: Mapping[str, ConnectorSpec]) -> Sync:
        destinations = []
        for d_index, dest in enumerate(sync.to):
            loc: Loc = ("syncs", index, "to", d_index)
            built = self._destination(loc, sync, dest, targets)
            if built:
                destinations.append(built)
        defaults = self.parts.defaults
        return Sync(
            spec=sync,
            destinations=tuple(destinations),
            prune=defaults.prune if sync.prune is None else sync.prune,
            on_conflict=sync.on_conflict or defaults.on_conflict,
        )

    def _destination(
        self, loc: Loc, sync: SyncSpec, dest: DestinationSpec, targets: Mapping[str, ConnectorSpec]
    ) -> Destination | None:
        if not self._known_target(loc, dest.target):
            return None
        conn = targets.get(dest.target)
        if conn is None or conn.sink is None:
            return None
        sink = conn.sink
        can = sink.capabilities
        granularity = dest.granularity or can.granularities[0]
        ok = True
        if granularity not in can.granularities:
            supported = ", ".join(can.granularities)
            self.add(
                (*loc, "granularity"),
                f"connector {conn.name!r} supports granularity {supported}, not {granularity.value!r}",
            )
            ok = False
        if dest.tags and not can.tags:
            self.add((*loc, "tags"), f"connector {conn.name!r} has no tags")
            ok = False
        if dest.description is not None and not can.description:
            self.add((*loc, "description"), f"connector {conn.name!r} has no description")
            ok = False
        options: BaseModel | None = None
        try:
            options = sink.Destination.model_validate(dest.connector_options)
        except ValidationError as exc:
            self.issues.extend(_issues(exc, self.located, loc, sink.Destination, tuple(DestinationSpec.model_fields)))
            ok = False
        template = self._template(dest.name or _default_name(sync, granularity), granularity)
        if isinstance(template, TemplateError):
            self.add((*loc, "name"), template.message)
            return None
        if granularity is Granularity.PER_KEY and "key" not in template.variables:
            keys = sync.key_map()
            if keys is None or len(keys) > 1:
                self.add((*loc, "name"), "a per-key name must use {key}, or every key would get the same name")
                ok = False
        return Destination(dest, options, granularity, template, loc) if ok and options is not None else None

    def _known_target(self, loc: Loc, target: str) -> bool:
        """Whether `target` names a target of the manifest (or no list of targets is given); if not, says so."""
        names = self.parts.target_names
        if names is None or target in names:
            return True
        known = sorted(names)
        listed = ", ".join(known)
        self.add((*loc, "target"), f"no target named {target!r}{did_you_mean(target, known)} (targets: {listed})")
        return False

    def _template(self, text: str, granularity: Granularity) -> Template | TemplateError:
        """The compiled template, or the error that says why it is not valid for `granularity`."""
        found = self._templates.get((text, granularity))
        if found is None:
            try:
                found = compile_template(text)
                found.check(PER_KEY_VARIABLES if granularity is Granularity.PER_KEY else TEMPLATE_VARIABLES)
            except TemplateError as exc:
                found = exc
            self._templates[(text, granularity)] = found
        return found

    def _check_static_duplicates(self, syncs: list[Sync]) -> None:
        """Two literal names on one target are caught here; names built from keys are caught at plan time."""
        seen: dict[tuple[str, str, str], Loc] = {}
        for sync in syncs:
            if sync.spec.is_prefix:
                continue
            for dest in sync.destinations:
                if not dest.template.variables <= {"sync", "target"}:
                    continue
                name = dest.template.render({"sync": sync.name, "target": dest.spec.target})
                # Most destinations have no options of their own; a pydantic repr costs more than the rest.
                options = repr(dest.options) if type(dest.options).model_fields else ""
                key = (dest.spec.target, name, options)
                if key in seen:
                    self.add(
                        (*dest.loc, "name"),
                        f"target {dest.spec.target!r} already gets an item named {name!r} from {_dotted(seen[key])}",
                    )
                seen.setdefault(key, dest.loc)


def _default_name(sync: SyncSpec, granularity: Granularity) -> str:
    if granularity is Granularity.PER_KEY:
        return "{key}"
    return "{relpath}" if sync.is_prefix else "{sync}"
