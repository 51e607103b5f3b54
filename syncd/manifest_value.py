"""The loaded manifest as a value: `Manifest`, its `Sync`s and each one's `Destination`s, all validated, and each
part's options resolved on demand (a run-time step: reads env and files)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from syncd import yamlpos
from syncd.connector import ConnectorSpec, Sink, Source
from syncd.manifest_issues import Loc
from syncd.model import ConflictPolicy, Granularity
from syncd.option_resolution import resolve_options
from syncd.schema import DestinationSpec, ManifestSpec, SourceSpec, SyncSpec, TargetSpec
from syncd.template import Template


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
        return resolve_options(model, spec.connector_options, loc, self.located, self.base_dir, env, lenient)
