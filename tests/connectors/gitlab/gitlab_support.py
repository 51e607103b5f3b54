"""What the gitlab sink tests share: a sink on the fake GitLab server, desired items, and reading variables back."""

from __future__ import annotations

from typing import Any

from connectors.gitlab import GitLabDestination, GitLabSink, GitLabTargetOptions
from syncd.connector import Scope
from syncd.model import ActualItem, DesiredItem, Granularity, Ownership
from syncd.secret import Secret
from tests.fakes.gitlab import ADMIN_TOKEN, GitLabFake

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
    **destination: Any,
) -> DesiredItem:
    """The desired item for variable `key` under a `to` entry with `destination` (project platform/app unless it
    names a project or a group)."""
    if "project" not in destination and "group" not in destination:
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
    )


def observe(sink: GitLabSink, *items: DesiredItem, instance: str = OWNER.instance) -> dict[str, ActualItem]:
    return dict(sink.observe(list(items), Scope(instance, tuple(i.address for i in items))).items)


def stored(fake: GitLabFake, key: str, kind: str = "project", path: str = PROJECT, scope: str = "*") -> dict[str, Any]:
    """The one variable `key` in `scope` the fake stores (hidden values included)."""
    found = [v for v in fake.variables(kind, path) if v["key"] == key and v.get("environment_scope", "*") == scope]  # type: ignore[arg-type]
    assert len(found) == 1, f"{len(found)} variables {key} in scope {scope}"
    return found[0]
