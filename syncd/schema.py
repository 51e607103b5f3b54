"""The manifest's shape, as pydantic models. Connector-specific options are checked
afterwards by each connector's own models (see `syncd.manifest`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from syncd.model import ConflictPolicy, Granularity

NAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Open(BaseModel):
    """A model whose unknown keys are left for a connector's own options model."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    @property
    def connector_options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class DeleteGuard(Strict):
    """A plan that deletes more than both limits of one target's owned items is refused."""

    max_count: int = Field(5, ge=0)
    max_percent: float = Field(20.0, ge=0, le=100)


class Defaults(Strict):
    prune: bool = False
    on_conflict: ConflictPolicy = ConflictPolicy.FAIL
    delete_guard: DeleteGuard = DeleteGuard()
    concurrency: int = Field(4, ge=1, le=64)


class SourceSpec(Open):
    type: str


class TargetSpec(Open):
    type: str
    concurrency: int | None = Field(None, ge=1, le=64)


RESERVED_TAG_PREFIX = "syncd.io/"


class DestinationSpec(Open):
    target: Name
    name: str | None = Field(None, min_length=1)
    granularity: Granularity | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    description: str | None = None

    @field_validator("tags")
    @classmethod
    def _no_marker_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        reserved = sorted(k for k in tags if k.startswith(RESERVED_TAG_PREFIX))
        if reserved:
            raise ValueError(
                f"tag {reserved[0]!r} is reserved: syncd keeps its ownership marker under {RESERVED_TAG_PREFIX}"
            )
        return tags


class SyncSpec(Strict):
    name: Name
    from_: str = Field(alias="from", min_length=1)
    keys: list[str] | dict[str, str] | None = Field(None, union_mode="left_to_right")
    to: list[DestinationSpec] = Field(min_length=1)
    prune: bool | None = None
    on_conflict: ConflictPolicy | None = None

    @property
    def is_prefix(self) -> bool:
        return self.from_.endswith("/")

    @field_validator("keys", mode="before")
    @classmethod
    def _keys_shape(cls, value: Any) -> Any:
        if value is None:
            return value
        if isinstance(value, list):
            if not value:
                raise ValueError("an empty key list selects nothing; omit 'keys' to take every key")
            if not all(isinstance(k, str) and k for k in value):
                raise ValueError("every key in the list must be a non-empty string")
            if len(set(value)) != len(value):
                raise ValueError("a key is listed twice")
            return value
        if isinstance(value, dict):
            if not value:
                raise ValueError("an empty key map selects nothing; omit 'keys' to take every key")
            if not all(isinstance(k, str) and isinstance(v, str) and k and v for k, v in value.items()):
                raise ValueError("each entry must map a source key to a non-empty new name")
            renamed = list(value.values())
            dupes = sorted({n for n in renamed if renamed.count(n) > 1})
            if dupes:
                raise ValueError(f"two source keys are renamed to {dupes[0]!r}")
            return value
        raise ValueError("must be a list of key names or a map of source key to new name")

    def key_map(self) -> dict[str, str] | None:
        """Source key → name in the sinks, or None for every key unchanged."""
        if self.keys is None:
            return None
        if isinstance(self.keys, list):
            return {k: k for k in self.keys}
        return dict(self.keys)


class ManifestSpec(Strict):
    version: int = Field(description="manifest format version; only 1 exists")
    instance: Name
    defaults: Defaults = Defaults()
    source: SourceSpec
    targets: dict[Name, TargetSpec] = Field(min_length=1)
    syncs: list[SyncSpec] = Field(min_length=1)

    @field_validator("version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != 1:
            raise ValueError(f"unsupported manifest version {value}; this syncd reads version 1")
        return value
