"""The manifest's shape, as pydantic models. Connector-specific options are checked
afterwards by each connector's own models (see `syncd.manifest`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from syncd.cron import cron_trigger, is_cron
from syncd.durations import DURATION_RULE, parse_duration
from syncd.listen_address import parse_listen
from syncd.model import ConflictPolicy, Granularity

if TYPE_CHECKING:
    from syncd.registry import Registry

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


def _duration(value: Any) -> float:
    if not isinstance(value, str | int | float):
        raise ValueError(f"must be {DURATION_RULE}")
    return parse_duration(value)


# Seconds, written as "30s", "5m", "1h30m" or a number of seconds.
_DURATION_PATTERN = r"^\s*(\d+(\.\d+)?(ms|s|m|h|d))+\s*$"
Duration = Annotated[
    float,
    BeforeValidator(_duration),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": _DURATION_PATTERN}]}),
]


def check_schedule(value: str) -> str:
    """An interval (a duration of at least one second) or a five-field cron line; ValueError otherwise."""
    text = value.strip()
    if is_cron(text):
        _minute, _hour, day, _month, weekday = text.split()
        if day != "*" and weekday != "*":
            # crontab(5) runs when either day field matches, APScheduler only when both do: refused, not misread.
            raise ValueError(
                f"{value!r} restricts both the day of the month and the day of the week; cron reads that as either "
                "one, which this scheduler cannot: give one of them as '*', or use two syncs"
            )
        try:
            cron_trigger(text)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid cron line ({exc})") from None
        return text
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise ValueError(
            f'{value!r} is neither an interval such as "5m" or "1h" nor a five-field cron line such as "*/5 * * * *"'
        ) from None
    if seconds < 1:
        raise ValueError(f"{value!r} is shorter than one second")
    return text


class DeleteGuard(Strict):
    """A plan that deletes more than both limits of one target's owned items is refused."""

    max_count: int = Field(5, ge=0)
    max_percent: float = Field(20.0, ge=0, le=100)


class Defaults(Strict):
    prune: bool = False
    on_conflict: ConflictPolicy = ConflictPolicy.FAIL
    delete_guard: DeleteGuard = DeleteGuard()
    concurrency: int = Field(4, ge=1, le=64)
    # `syncd run`: how often each sync runs (an interval, or a cron line in UTC), and up to how much later at random.
    schedule: str = "5m"
    jitter: Duration = 0.0

    _schedule = field_validator("schedule")(classmethod(lambda cls, value: check_schedule(value)))


class SourceSpec(Open):
    type: str
    # Calls per second to the source, across all its threads (a token bucket); None: no limit.
    rate_limit: float | None = Field(None, gt=0, le=10000)


class TargetSpec(Open):
    type: str
    concurrency: int | None = Field(None, ge=1, le=64)
    # Calls per second to this target, across all its threads (a token bucket); None: no limit.
    rate_limit: float | None = Field(None, gt=0, le=10000)


RESERVED_TAG_PREFIX = "syncd.io/"


class DestinationSpec(Open):
    target: Name
    name: str | None = Field(None, min_length=1)
    granularity: Granularity | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    description: str | None = None
    recreate: bool = False

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
    schedule: str | None = None
    jitter: Duration | None = None

    _schedule = field_validator("schedule")(classmethod(lambda cls, value: value and check_schedule(value)))

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


def check_listen(value: str) -> str:
    """HOST:PORT ("0.0.0.0:9180", "[::1]:9180", ":9180" for every address); ValueError otherwise."""
    parse_listen(value)
    return value.strip()


class NotifySpec(Strict):
    """A Slack-compatible incoming webhook told when drift is found, an apply fails, and a sync recovers."""

    # Usually a reference (${env:...} or ${file:...}): a webhook's address is itself a credential.
    webhook: str = Field(min_length=1)
    min_interval: Duration = 300.0


class DaemonSpec(Strict):
    """What `syncd run` takes from the manifest; its command-line flags win."""

    listen: str | None = None
    # A reference to the bearer token of POST /v1/syncs/{name}/run; without one the trigger is off.
    trigger_token: str | None = None
    notify: NotifySpec | None = None

    _listen = field_validator("listen")(classmethod(lambda cls, value: value and check_listen(value)))


class ManifestSpec(Strict):
    version: int = Field(description="manifest format version; only 1 exists")
    instance: Name
    defaults: Defaults = Defaults()
    daemon: DaemonSpec = DaemonSpec()
    source: SourceSpec
    targets: dict[Name, TargetSpec] = Field(min_length=1)
    syncs: list[SyncSpec] = Field(min_length=1)

    def concurrency(self, target: str) -> int:
        """The target's own `concurrency`, else the defaults'."""
        return self.targets[target].concurrency or self.defaults.concurrency

    @field_validator("version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != 1:
            raise ValueError(f"unsupported manifest version {value}; this syncd reads version 1")
        return value


# The manifest as a JSON Schema, for editors (`syncd schema`). Built from the models above and from every installed
# connector's own models, so it follows the models `syncd validate` checks a manifest with.

JSON_SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"
# A connector option may hold a reference whatever its type (docs/manifest.md, References); checked once resolved.
REFERENCE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"\$\{(env|file):[^}]+\}",
    "description": "A reference, resolved at plan and apply time: ${env:NAME} or ${file:PATH}.",
}
_ANNOTATIONS = ("title", "description", "default")


def manifest_json_schema(registry: Registry) -> dict[str, Any]:
    """The JSON Schema of a manifest: the core fields, and each installed connector's options.

    `source` and each entry of `targets` is one of the connectors, chosen by `type`; a `to` entry takes the
    destination options of any sink, since its target's type is known only from the rest of the manifest.
    """
    root = ManifestSpec.model_json_schema(by_alias=True)
    defs: dict[str, Any] = root.pop("$defs")
    sources: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []
    destinations: list[dict[str, Any]] = []
    for name in registry.names():
        spec = registry.get(name)
        if spec.source is not None:
            sources.append(_connector_branch(f"{name} source", SourceSpec, spec.source.Options, defs, connector=name))
        if spec.sink is not None:
            targets.append(_connector_branch(f"{name} target", TargetSpec, spec.sink.Options, defs, connector=name))
            destinations.append(_connector_branch(f"{name} destination", DestinationSpec, spec.sink.Destination, defs))
    root["properties"]["source"] = {"description": "Where the truth lives: a connector `type` and its options."}
    root["properties"]["source"]["oneOf"] = sources
    target_names = root["properties"]["targets"]
    target_names["patternProperties"] = {NAME_PATTERN: {"oneOf": targets}}
    target_names["additionalProperties"] = False
    root["properties"]["version"]["enum"] = [1]
    defs["SyncSpec"]["properties"]["to"]["items"] = {"anyOf": destinations}
    for replaced in ("SourceSpec", "TargetSpec", "DestinationSpec"):
        del defs[replaced]
    defs["reference"] = REFERENCE_SCHEMA
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        **root,
        "title": "syncd manifest",
        "$defs": defs,
    }


def _connector_branch(
    title: str, core: type[BaseModel], options: type[BaseModel], defs: dict[str, Any], *, connector: str | None = None
) -> dict[str, Any]:
    """One connector's object: the core model's fields and the connector's own, and no other key.

    `connector` is given for a source or a target: its `type` must be that name, and each option may be a reference.
    """
    core_schema = core.model_json_schema(by_alias=True)
    for def_name, definition in core_schema.pop("$defs", {}).items():
        defs.setdefault(def_name, definition)
    # Each connector's nested models get a prefix, so two connectors' models of one name stay apart.
    prefix = title.replace(" ", ".") + "."
    option_schema = options.model_json_schema(by_alias=True, ref_template=f"#/$defs/{prefix}{{model}}")
    for def_name, definition in option_schema.pop("$defs", {}).items():
        defs[prefix + def_name] = _references_allowed(definition) if connector else definition
    option_properties = option_schema.get("properties", {})
    if connector is not None:
        option_properties = {key: _or_reference(value) for key, value in option_properties.items()}
    properties = {**core_schema["properties"], **option_properties}
    required = set(core_schema.get("required", [])) | set(option_schema.get("required", []))
    if connector is not None:
        properties["type"] = {"const": connector, "description": f"The connector: {connector}."}
    branch: dict[str, Any] = {"title": title, "type": "object", "properties": properties, "additionalProperties": False}
    if required:
        branch["required"] = sorted(required)
    return branch


def _or_reference(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema`, or a reference string in its place (but not in place of a constant, such as auth's `method`)."""
    if "const" in schema:
        return schema
    annotations = {key: schema[key] for key in _ANNOTATIONS if key in schema}
    value = {key: item for key, item in schema.items() if key not in _ANNOTATIONS}
    return {**annotations, "anyOf": [value, {"$ref": "#/$defs/reference"}]}


def _references_allowed(definition: dict[str, Any]) -> dict[str, Any]:
    """A nested options model whose fields may each be a reference too."""
    if "properties" not in definition:
        return definition
    properties = {key: _or_reference(value) for key, value in definition["properties"].items()}
    return {**definition, "properties": properties}
