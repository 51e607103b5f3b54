"""Helpers for the `kubernetes` sink's tests: a sink on a fake cluster reached through a kubeconfig the test writes
(as production reaches a cluster), desired items as the engine makes them, and plan and apply without a manifest."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from connectors.kubernetes import KubernetesDestination, KubernetesSink, KubernetesTargetOptions
from syncd.apply import apply_plan
from syncd.connector import Scope
from syncd.diff import Policy, PruneScope, diff_target
from syncd.model import Action, Change, ChangeResult, ConflictPolicy, DesiredItem, Granularity, Ownership, Plan
from syncd.retry import RetryPolicy
from syncd.secret import Secret
from tests.fakes.kubernetes import ADMIN_TOKEN, KubeFake, kubeconfig_for

TARGET = "k8s"
INSTANCE = "k8s-tests"
OWNER = Ownership(INSTANCE, "app")
NAMESPACES = ("default", "team-a", "team-b")
RETRY = RetryPolicy(attempts=3, initial_delay=0)
ADOPT_AND_PRUNE = Policy(on_conflict=ConflictPolicy.ADOPT, prune=True)
FAIL_AND_PRUNE = Policy(on_conflict=ConflictPolicy.FAIL, prune=True)


def kubeconfig(fake: KubeFake, folder: Path, token: str = ADMIN_TOKEN, name: str = "kubeconfig.yaml") -> Path:
    """A kubeconfig file naming `fake` with `token`, context 'fake'."""
    folder.mkdir(parents=True, exist_ok=True)
    return kubeconfig_for(fake, token, folder / name, context="fake")


def sink_for(
    fake: KubeFake, folder: Path, *, target: str = TARGET, token: str = ADMIN_TOKEN, **options: Any
) -> KubernetesSink:
    """A fresh sink on `fake`, through a kubeconfig written in `folder`."""
    path = kubeconfig(fake, folder, token, name=f"{target}-kubeconfig.yaml")
    return KubernetesSink(target, KubernetesTargetOptions(kubeconfig=str(path), context="fake", **options))


def scope(instance: str = INSTANCE, namespaces: Sequence[str] = NAMESPACES) -> Scope:
    """A scope over whole namespaces, as a destination `name: "{relpath}"` in each makes."""
    return Scope(instance, tuple(f"{namespace}/*" for namespace in namespaces))


def desired(
    sink: KubernetesSink,
    address: str,
    data: Mapping[str, str],
    *,
    owner: Ownership = OWNER,
    recreate: bool = False,
    **destination: Any,
) -> DesiredItem:
    """The item the engine makes for `address` under a `to` entry with `destination`: shaped, with the flags."""
    dest = KubernetesDestination(namespace=address.partition("/")[0], **destination)
    shaped = sink.shape(dest, {key: Secret(value) for key, value in data.items()})
    return DesiredItem(
        target=sink.target,
        address=address,
        owner=owner,
        data=dict(shaped),
        granularity=Granularity.DOCUMENT,
        source_paths=("apps/x",),
        flags=dict(sink.flags(dest)),
        destination=dest,
        recreate=recreate,
    )


def plan(
    sink: KubernetesSink,
    items: Sequence[DesiredItem],
    instance: str = INSTANCE,
    policy: Policy = ADOPT_AND_PRUNE,
    namespaces: Sequence[str] = NAMESPACES,
) -> list[Change]:
    """What a plan of `items` by `instance` would do: observe, then diff, as the engine does."""
    observation = sink.observe(items, scope(instance, namespaces))
    syncs = {item.owner.sync for item in items} | {"app"}
    prune = PruneScope(policies=dict.fromkeys(syncs, policy), known_syncs=syncs, prune_orphans=True)
    return diff_target(instance, sink.target, list(items), observation.items, observation.owned, prune)


def apply(
    sink: KubernetesSink, changes: Sequence[Change], instance: str = INSTANCE, concurrency: int = 1
) -> tuple[ChangeResult, ...]:
    the_plan = Plan(instance, "", "", (sink.target,), ("app",), tuple(changes))
    return apply_plan(the_plan, {sink.target: sink}, retry=RETRY, concurrency={sink.target: concurrency})


def converge(
    sink: KubernetesSink,
    items: Sequence[DesiredItem],
    instance: str = INSTANCE,
    namespaces: Sequence[str] = NAMESPACES,
) -> tuple[ChangeResult, ...]:
    """Plan and apply `items` (prune in `namespaces`); every change applied."""
    results = apply(sink, plan(sink, items, instance, namespaces=namespaces), instance)
    assert all(result.ok for result in results), [result.error for result in results]
    return results


def actions(changes: Sequence[Change]) -> dict[str, Action]:
    return {change.address: change.action for change in changes}


def stored(fake: KubeFake, address: str) -> dict[str, Any] | None:
    """The Secret the fake holds at `address`, as a dict, or None."""
    namespace, _, name = address.partition("/")
    return fake.secret(namespace, name)


def stored_data(fake: KubeFake, address: str) -> dict[str, str] | None:
    """The decoded data of the Secret at `address`, or None when there is none."""
    secret = stored(fake, address)
    if secret is None:
        return None
    return {key: base64.b64decode(value).decode() for key, value in (secret.get("data") or {}).items()}


def encoded(data: Mapping[str, str]) -> dict[str, str]:
    return {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}


def with_data(item: DesiredItem, data: Mapping[str, str]) -> DesiredItem:
    return dataclasses.replace(item, data={key: Secret(value) for key, value in data.items()})
