"""What the gitlab sink tests share: a sink on the fake GitLab server, desired items, and reading variables back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.gitlab import GitLabDestination, GitLabSink, GitLabTargetOptions
from syncd.apply import apply_plan
from syncd.connector import Scope
from syncd.diff import Policy, PruneScope, diff_target
from syncd.model import (
    Action,
    ActualItem,
    Change,
    ChangeResult,
    ConflictPolicy,
    DesiredItem,
    Granularity,
    Ownership,
    Plan,
)
from syncd.retry import RetryPolicy
from syncd.secret import Secret
from tests.fakes.gitlab import ADMIN_TOKEN, GitLabFake, Request

TARGET = "gitlab-main"
OWNER = Ownership("gl-instance", "gl-sync")
PROJECT = "platform/app"
GROUP = "platform"


def make_sink(fake: GitLabFake, token: str = ADMIN_TOKEN, **options: Any) -> GitLabSink:
    """A sink of the fake, connected as syncd connects it (no ready-made client)."""
    settings = {"url": fake.url, "token": token, "projects": [PROJECT], "groups": [GROUP], **options}
    return GitLabSink(TARGET, GitLabTargetOptions(**settings))


def item(
    sink: GitLabSink,
    key: str,
    value: str,
    *,
    owner: Ownership = OWNER,
    description: str | None = None,
    recreate: bool = False,
    source_version: str | None = None,
    **destination: Any,
) -> DesiredItem:
    """The desired item for variable `key` under a `to` entry with `destination` (project platform/app unless it
    names a project or a group)."""
    if not {"project", "group", "instance"} & set(destination):
        destination["project"] = PROJECT
    dest = GitLabDestination(**destination)
    return DesiredItem(
        target=TARGET,
        address=sink.address(dest, key),
        owner=owner,
        data={key: Secret(value)},
        granularity=Granularity.PER_KEY,
        source_paths=("apps/source",),
        description=description,
        flags=sink.flags(dest),
        destination=dest,
        recreate=recreate,
        source_version=source_version,
    )


def observe(sink: GitLabSink, *items: DesiredItem, instance: str = OWNER.instance) -> dict[str, ActualItem]:
    return dict(sink.observe(list(items), Scope(instance, tuple(i.address for i in items))).items)


def stored(fake: GitLabFake, key: str, kind: str = "project", path: str = PROJECT, scope: str = "*") -> dict[str, Any]:
    """The one variable `key` in `scope` the fake stores (hidden values included)."""
    found = [v for v in fake.variables(kind, path) if v["key"] == key and v.get("environment_scope", "*") == scope]  # type: ignore[arg-type]
    assert len(found) == 1, f"{len(found)} variables {key} in scope {scope}"
    return found[0]


RETRY = RetryPolicy(attempts=3, initial_delay=0)
ADOPT_AND_PRUNE = Policy(on_conflict=ConflictPolicy.ADOPT, prune=True)
PRUNE = Policy(prune=True)


def plan(
    sink: GitLabSink, desired: Sequence[DesiredItem], instance: str = OWNER.instance, policy: Policy = PRUNE
) -> list[Change]:
    """What a plan of `desired` by `instance` would do: observe the whole target, diff, as the engine does."""
    observation = sink.observe(list(desired), Scope(instance, ("*",)))
    syncs = {item.owner.sync for item in desired} | {OWNER.sync}
    scope = PruneScope(policies=dict.fromkeys(syncs, policy), known_syncs=syncs)
    return diff_target(instance, TARGET, list(desired), observation.items, observation.owned, scope)


def apply(
    sink: GitLabSink, changes: Sequence[Change], instance: str = OWNER.instance, retry: RetryPolicy = RETRY
) -> tuple[ChangeResult, ...]:
    the_plan = Plan(instance, "", "", (TARGET,), (OWNER.sync,), tuple(changes))
    return apply_plan(the_plan, {TARGET: sink}, retry=retry)


def actions(changes: Sequence[Change]) -> dict[str, Action]:
    return {change.address: change.action for change in changes}


def writes(fake: GitLabFake) -> list[Request]:
    """The requests that change something (POST, PUT, DELETE), in order."""
    return [r for r in fake.requests if r.method in ("POST", "PUT", "DELETE")]
