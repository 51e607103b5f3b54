"""The values that flow through a run: source secrets, items, changes, plans.

All frozen. A desired or actual item may hold `Secret` values; a `Change`
and a `Plan` reference items but their serialised forms never include a
value nor anything derived from one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from syncd.secret import Secret


class Granularity(StrEnum):
    """How a sink lays out a source secret: one item with many keys, or one item per key."""

    DOCUMENT = "document"
    PER_KEY = "per-key"


class ConflictPolicy(StrEnum):
    FAIL = "fail"
    ADOPT = "adopt"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    CONFLICT = "conflict"
    NOOP = "noop"

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "delete": "-", "conflict": "!", "noop": "="}[self.value]


@dataclass(frozen=True, order=True)
class Ownership:
    """The marker syncd stamps on every item it writes."""

    instance: str
    sync: str


@dataclass(frozen=True)
class SourceSecret:
    """One secret read from the source: a map of keys, and the version it was read at."""

    path: str
    data: Mapping[str, Secret]
    version: str | None = None


@dataclass(frozen=True)
class DesiredItem:
    """One item the manifest says must exist in a sink, with its value from the source.

    `data` holds every key of a document, or the single key of a per-key item.
    `flags` are the connector-specific settings that are compared and written
    (GitLab `masked`, a Kubernetes Secret's `type`); `destination` is the
    validated connector-specific part of the `to` entry it came from.
    """

    target: str
    address: str
    owner: Ownership
    data: Mapping[str, Secret]
    granularity: Granularity
    source_paths: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    flags: Mapping[str, Any] = field(default_factory=dict)
    destination: Any = None
    # The `to` entry allows a change the sink cannot make in place (see `ActualItem.fixed`) as a delete and create.
    recreate: bool = False
    # Where and at which version the data was read (source path, source keys, `SourceSecret.version`; names only),
    # for a sink that cannot read a value back (a GitLab hidden variable) and tells new data by what it recorded
    # when it wrote. None when the source reports no version.
    source_version: str | None = None

    @property
    def sync(self) -> str:
        return self.owner.sync

    def single_value(self) -> Secret:
        """The value of a per-key item."""
        if len(self.data) != 1:
            raise ValueError(f"item {self.address!r} holds {len(self.data)} keys, not one")
        return next(iter(self.data.values()))


@dataclass(frozen=True)
class ActualItem:
    """One item as a sink holds it now.

    `data` is None when the sink listed the item without reading its value.
    `version` is whatever the sink offers to tell that the item moved (a
    version id, a resourceVersion, a modification time), never a digest of
    the value. `marker_only` marks an owned item `observe` found holding no data
    of syncd's, only a leftover marker of this instance (a prune or a create
    that stopped part way, a version someone wrote since): its delete takes
    the marker off and touches no data. `fixed` names the fields of a
    `Difference` ("value", "tags", "description" or a flag's name) this item
    cannot change in place, each with why ("the Secret is immutable"): a
    change touching one is a recreate when its `to` entry allows it, else a
    conflict.
    """

    address: str
    owner: Ownership | None
    data: Mapping[str, Secret] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    flags: Mapping[str, Any] = field(default_factory=dict)
    version: str | None = None
    pending_deletion: bool = False
    marker_only: bool = False
    fixed: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Difference:
    """Which fields of an item differ from what the manifest wants: the diff as data.

    Computed once by the core (`syncd.diff.difference`); reasons are rendered from it, a sink writes only the
    fields it names, and a saved plan's stale check compares it. Key names and tag keys are names, never values.
    """

    value: bool = False
    # For a document item: the keys to add, to change and to remove.
    added_keys: tuple[str, ...] = ()
    changed_keys: tuple[str, ...] = ()
    removed_keys: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    description: bool = False
    flags: tuple[str, ...] = ()
    # The sync named in the item's marker when another sync of this instance takes it over.
    owner_was: str | None = None
    # The item carries no marker yet (`on_conflict: adopt`), or is this instance's, scheduled for deletion.
    adopt: bool = False
    restore: bool = False
    # The item cannot take this change in place (`ActualItem.fixed`): the sink deletes it and creates it whole.
    recreate: bool = False
    # Why, for display only ("the Secret is immutable"): not in `to_data`, so a reworded reason never makes a saved
    # plan stale.
    recreate_because: str | None = None

    def __bool__(self) -> bool:
        return bool(self.value or self.tags or self.description or self.flags or self.owner_was or self.adopt)

    @property
    def marker(self) -> bool:
        """The ownership marker must be (re)written: a new owner, an adopted item."""
        return self.adopt or self.owner_was is not None

    def reasons(self) -> tuple[str, ...]:
        """The display reasons of a plan, in a fixed order."""
        reasons: list[str] = []
        if self.restore:
            reasons.append("restore from scheduled deletion")
        if self.recreate:
            reasons.append(f"recreate ({self.recreate_because})" if self.recreate_because else "recreate")
        if self.adopt:
            reasons.append("adopt")
        if self.owner_was is not None:
            reasons.append(f"owner (was sync {self.owner_was!r})")
        if self.value:
            keys = [f"+{k}" for k in self.added_keys] + [f"~{k}" for k in self.changed_keys]
            keys += [f"-{k}" for k in self.removed_keys]
            reasons.append("value (keys " + " ".join(keys) + ")" if keys else "value")
        if self.tags:
            reasons.append("tags (" + ", ".join(self.tags) + ")")
        if self.description:
            reasons.append("description")
        if self.flags:
            reasons.append("flags (" + ", ".join(self.flags) + ")")
        return tuple(reasons)

    def to_data(self) -> dict[str, Any]:
        """The fields that differ, for a saved plan: names only."""
        data: dict[str, Any] = {}
        for name in ("value", "description", "adopt", "restore", "recreate"):
            if getattr(self, name):
                data[name] = True
        for name in ("added_keys", "changed_keys", "removed_keys", "tags", "flags"):
            if getattr(self, name):
                data[name] = list(getattr(self, name))
        if self.owner_was is not None:
            data["owner_was"] = self.owner_was
        return data

    def fields(self) -> tuple[str, ...]:
        """The fields this difference changes, by the names `ActualItem.fixed` uses: "value", "tags",
        "description" and each flag's name."""
        named = [name for name in ("value", "tags", "description") if getattr(self, name)]
        return (*named, *self.flags)


@dataclass(frozen=True)
class Change:
    """What apply will do to one item, and why (the reasons are for display only).

    `difference` is what a create or an update must write (None for a delete, a conflict or no change).
    """

    target: str
    address: str
    action: Action
    sync: str | None
    reasons: tuple[str, ...] = ()
    desired: DesiredItem | None = field(default=None, compare=False, repr=False)
    actual: ActualItem | None = field(default=None, compare=False, repr=False)
    difference: Difference | None = None

    @property
    def actual_version(self) -> str | None:
        return self.actual.version if self.actual else None

    @property
    def is_drift(self) -> bool:
        return self.action is not Action.NOOP


@dataclass(frozen=True)
class Problem:
    """Something that stopped part of a run: a source path, a target, or one item.

    The message names what and where and never holds a value.
    """

    message: str
    sync: str | None = None
    target: str | None = None
    address: str | None = None

    @property
    def subject(self) -> str:
        parts = []
        if self.target:
            parts.append(f"target {self.target}")
        if self.address:
            parts.append(f"item {self.address}")
        if self.sync and not parts:
            parts.append(f"sync {self.sync}")
        return ", ".join(parts) or "run"


@dataclass(frozen=True)
class Plan:
    """Every change of one run, computed before anything is written."""

    instance: str
    manifest_digest: str
    created_at: str
    targets: tuple[str, ...]
    syncs: tuple[str, ...]
    changes: tuple[Change, ...]
    problems: tuple[Problem, ...] = ()
    source_versions: Mapping[str, str | None] = field(default_factory=dict)
    # Targets whose deletes exceed the delete guard: apply leaves them alone.
    refused_targets: tuple[str, ...] = ()
    # The `--sync` and `--target` filters the plan was made with (None: not given), so a saved plan's
    # selection can be made again exactly, unused targets and orphan pruning included.
    sync_filter: tuple[str, ...] | None = None
    target_filter: tuple[str, ...] | None = None

    @property
    def drift(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.is_drift)

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)

    @property
    def has_drift(self) -> bool:
        return bool(self.drift)


class Status(StrEnum):
    APPLIED = "applied"
    FAILED = "failed"


@dataclass(frozen=True)
class ChangeResult:
    """What became of one change at apply time; `error` names what failed, never a value."""

    change: Change
    status: Status
    error: str | None = None
    attempts: int = 1
    # The failure's kind, for the audit log and metrics: the exception's class name ("ItemMoved",
    # "TransientError"), or "conflict", "refused", "target_down" when apply did not try; never a message.
    error_class: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.APPLIED
