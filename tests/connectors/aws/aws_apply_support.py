"""Whole runs (plan, then apply) of manifests with AWS targets against the moto fake, and what the fake holds.

The fault and concurrency tests of the AWS sinks share these: a scenario plants a state, a manifest maps a
memory source onto it, and `run` plans and applies with sinks built afresh from the manifest, as a new
process would. `Store` plants and inspects Secrets Manager or SSM through the fake's backdoor, which is
neither counted nor faulted.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncd.apply import apply_plan
from syncd.connector import MARKER_INSTANCE, MARKER_SYNC, ConnectorSpec
from syncd.engine import make_plan
from syncd.manifest import Manifest, load_manifest
from syncd.model import Action, ChangeResult, Ownership, Plan
from syncd.registry import Registry
from syncd.retry import RetryPolicy
from syncd.testing import MemorySink, MemorySource
from tests.fakes.aws import AwsFake

REGION = "us-east-1"
# A few quick attempts: an error reaches syncd's retry of the whole write, not only botocore's of one call.
RETRY = RetryPolicy(attempts=3, initial_delay=0)


def registry() -> Registry:
    """The installed connectors and the in-memory source."""
    found = Registry()
    found.register(ConnectorSpec(name="memory", summary="in-memory (tests)", source=MemorySource, sink=MemorySink))
    return found


def write_manifest(folder: Path, text: str, name: str = "syncd.yaml") -> Manifest:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return load_manifest(path, registry())


def doc(**data: str) -> str:
    """The SecretString the Secrets Manager sink stores for a document item."""
    return json.dumps({key: data[key] for key in sorted(data)}, ensure_ascii=False)


@dataclass
class Run:
    plan: Plan
    results: tuple[ChangeResult, ...]

    @property
    def failed(self) -> dict[str, str]:
        """Address → error of each change that failed."""
        return {r.change.address: r.error or "" for r in self.results if not r.ok}


def open_sinks(manifest: Manifest) -> dict[str, Any]:
    return {target: manifest.open_sink(target) for target in manifest.spec.targets}


def plan_only(manifest: Manifest, source: MemorySource) -> Plan:
    sinks = open_sinks(manifest)
    try:
        return make_plan(manifest, source, sinks, retry=RETRY)
    finally:
        for sink in sinks.values():
            sink.close()


def run(
    manifest: Manifest,
    source: MemorySource,
    *,
    concurrency: int = 1,
    before_apply: Callable[[], object] | None = None,
) -> Run:
    """Plan and apply with fresh sinks; `before_apply` runs between the two (to arm a fault)."""
    sinks = open_sinks(manifest)
    try:
        plan = make_plan(manifest, source, sinks, retry=RETRY)
        if before_apply is not None:
            before_apply()
        limits = dict.fromkeys(sinks, concurrency)
        return Run(plan, apply_plan(plan, sinks, retry=RETRY, concurrency=limits))
    finally:
        for sink in sinks.values():
            sink.close()


def unsettled(plan: Plan) -> dict[str, str]:
    """Address → action of every change that is neither a no-op nor a conflict."""
    return {c.address: c.action.value for c in plan.changes if c.action not in (Action.NOOP, Action.CONFLICT)}


def conflicts(plan: Plan) -> set[str]:
    return {c.address for c in plan.changes if c.action is Action.CONFLICT}


@dataclass(frozen=True)
class Held:
    """One item as the fake holds it: its stored value (None when scheduled for deletion) and its marker."""

    value: str | None
    owner: Ownership | None
    tags: Mapping[str, str] = field(default_factory=dict)
    scheduled: bool = False


def _owner(tags: Mapping[str, str]) -> Ownership | None:
    instance, sync = tags.get(MARKER_INSTANCE), tags.get(MARKER_SYNC)
    return Ownership(instance, sync) if instance and sync else None


def _marker(owner: Ownership | None) -> dict[str, str]:
    return {MARKER_INSTANCE: owner.instance, MARKER_SYNC: owner.sync} if owner else {}


class Store:
    """Plants and inspects one service's items through the backdoor."""

    def __init__(self, fake: AwsFake) -> None:
        self.fake = fake

    def plant(self, name: str, value: str, owner: Ownership | None = None, **extra: Any) -> None:
        raise NotImplementedError

    def edit(self, name: str, value: str) -> None:
        """A person's write: the value changes, the tags stay."""
        raise NotImplementedError

    def state(self) -> dict[str, Held]:
        raise NotImplementedError


class SecretsStore(Store):
    def __init__(self, fake: AwsFake, client: Any) -> None:
        super().__init__(fake)
        self.client = client

    def plant(
        self,
        name: str,
        value: str,
        owner: Ownership | None = None,
        *,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        scheduled: bool = False,
    ) -> None:
        all_tags = {**(tags or {}), **_marker(owner)}
        request: dict[str, Any] = {"Name": name, "SecretString": value}
        if all_tags:
            request["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(all_tags.items())]
        if description is not None:
            request["Description"] = description
        self.client.create_secret(**request)
        if scheduled:
            self.client.delete_secret(SecretId=name, RecoveryWindowInDays=7)

    def edit(self, name: str, value: str) -> None:
        if name in self.state():
            self.client.put_secret_value(SecretId=name, SecretString=value)
        else:
            self.client.create_secret(Name=name, SecretString=value)

    def state(self) -> dict[str, Held]:
        found: dict[str, Held] = {}
        for page in self.client.get_paginator("list_secrets").paginate(IncludePlannedDeletion=True):
            for entry in page["SecretList"]:
                tags = {tag["Key"]: tag["Value"] for tag in entry.get("Tags") or ()}
                scheduled = entry.get("DeletedDate") is not None
                value = None if scheduled else self.client.get_secret_value(SecretId=entry["Name"])["SecretString"]
                found[entry["Name"]] = Held(value, _owner(tags), tags, scheduled)
        return found


class ParametersStore(Store):
    def __init__(self, fake: AwsFake, client: Any) -> None:
        super().__init__(fake)
        self.client = client

    def plant(
        self,
        name: str,
        value: str,
        owner: Ownership | None = None,
        *,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> None:
        all_tags = {**(tags or {}), **_marker(owner)}
        request: dict[str, Any] = {"Name": name, "Value": value, "Type": "SecureString"}
        if all_tags:
            request["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(all_tags.items())]
        if description is not None:
            request["Description"] = description
        self.client.put_parameter(**request)

    def edit(self, name: str, value: str) -> None:
        self.client.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)

    def state(self) -> dict[str, Held]:
        names = [
            meta["Name"]
            for page in self.client.get_paginator("describe_parameters").paginate()
            for meta in page["Parameters"]
        ]
        found: dict[str, Held] = {}
        for name in names:
            value = self.client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
            answer = self.client.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)
            tags = {tag["Key"]: tag["Value"] for tag in answer.get("TagList", [])}
            found[name] = Held(value, _owner(tags), tags)
        return found


@dataclass
class Expectations:
    """What may be found where, whatever was interrupted.

    `syncd` holds, per name, every value syncd wrote there or may write: an item carrying this instance's
    marker must hold one of them. `untouched` holds the items of people and other instances: each must keep
    its value and marker. `adopted` names may also hold their person's value without a marker.
    """

    instance: str
    syncd: dict[str, set[str]]
    untouched: dict[str, Held]
    adopted: dict[str, str] = field(default_factory=dict)

    def violations(self, state: Mapping[str, Held]) -> list[str]:
        """Every item that breaks a rule above, named with what is wrong (test values only)."""
        found = []
        for name, held in sorted(state.items()):
            if name in self.untouched:
                before = self.untouched[name]
                if (held.value, held.owner, held.scheduled) != (before.value, before.owner, before.scheduled):
                    found.append(f"{name}: someone else's item changed ({before} -> {held})")
            elif held.owner is not None and held.owner.instance == self.instance:
                if not held.scheduled and held.value not in self.syncd.get(name, set()):
                    found.append(f"{name}: carries the marker but holds {held.value!r}, which syncd never wrote")
            elif held.owner is not None:
                found.append(f"{name}: carries another instance's marker {held.owner}")
            elif name in self.adopted:
                if held.value not in {self.adopted[name], *self.syncd.get(name, ())}:
                    found.append(f"{name}: an adopted item holds {held.value!r}")
            else:
                found.append(f"{name}: syncd wrote {held.value!r} without its marker")
        return found
