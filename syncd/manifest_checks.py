"""The checks of a manifest that span more than one field: connectors and their options, target names, name
templates, reference placement and literal name clashes; they build the `Manifest` value when all pass."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from syncd import references, yamlpos
from syncd.connector import ConnectorSpec
from syncd.errors import ConfigError
from syncd.manifest_issues import Issue, Loc, dotted, validation_issues
from syncd.manifest_value import Destination, Manifest, Sync
from syncd.model import Granularity
from syncd.registry import Registry, did_you_mean
from syncd.schema import NAME_PATTERN, Defaults, DestinationSpec, ManifestSpec, SourceSpec, SyncSpec, TargetSpec
from syncd.template import Template, TemplateError, compile_template

TEMPLATE_VARIABLES = ("sync", "target", "path", "name", "relpath")
PER_KEY_VARIABLES = (*TEMPLATE_VARIABLES, "key")


@dataclass
class Parts:
    """The parts of a manifest that passed the core schema, with the indexes they have in the file."""

    defaults: Defaults
    source: SourceSpec | None
    targets: dict[str, TargetSpec]
    # Every target name given, valid or not; None when `targets` is missing, empty or not a mapping.
    target_names: frozenset[str] | None
    syncs: list[tuple[int, SyncSpec]]

    @classmethod
    def of(cls, spec: ManifestSpec) -> Parts:
        targets = dict(spec.targets)
        return cls(spec.defaults, spec.source, targets, frozenset(targets), list(enumerate(spec.syncs)))

    @classmethod
    def valid_in(cls, data: dict[str, Any]) -> Parts:
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


class Checker:
    """The checks that span more than one field: connectors, targets, templates, references."""

    def __init__(self, parts: Parts, located: yamlpos.Located, registry: Registry) -> None:
        self.parts = parts
        self.located = located
        self.registry = registry
        self.issues: list[Issue] = []
        # Many syncs share a name template: parse and check each one once.
        self._templates: dict[tuple[str, Granularity], Template | TemplateError] = {}

    def add(self, loc: Loc, message: str) -> None:
        self.issues.append(Issue(self.located.where(loc), dotted(loc), message))

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
            for issue in validation_issues(exc, self.located, loc, cls.Options, core_keys, deferred=options):
                self.issues.append(issue)
        return conn

    def _check_references(self) -> None:
        trees = [(("targets", n), t.connector_options) for n, t in self.parts.targets.items()]
        if self.parts.source is not None:
            trees.insert(0, (("source",), self.parts.source.connector_options))
        if (daemon := self.located.data.get("daemon")) is not None:
            trees.append((("daemon",), daemon))
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
            core_keys = tuple(DestinationSpec.model_fields)
            self.issues.extend(validation_issues(exc, self.located, loc, sink.Destination, core_keys))
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
                        f"target {dest.spec.target!r} already gets an item named {name!r} from {dotted(seen[key])}",
                    )
                seen.setdefault(key, dest.loc)


def _default_name(sync: SyncSpec, granularity: Granularity) -> str:
    if granularity is Granularity.PER_KEY:
        return "{key}"
    return "{relpath}" if sync.is_prefix else "{sync}"
