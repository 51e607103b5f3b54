"""Instance-level CI/CD variables (`instance: true`) on the fake GitLab server: written, updated and pruned
through the admin API, with no scope filter (they have no scope), and only with an administrator's token."""

from __future__ import annotations

import pytest

from connectors.gitlab import marker
from syncd.connector import Scope
from syncd.errors import PermanentError
from syncd.model import Action
from tests.connectors.gitlab.gitlab_support import OWNER, actions, apply, item, make_sink, plan, writes
from tests.fakes.gitlab import MAINTAINER_TOKEN, GitLabFake


def instance_variable(fake: GitLabFake, key: str) -> dict:
    (found,) = [v for v in fake.variables("instance") if v["key"] == key]
    return found


def test_an_instance_variable_is_created_updated_and_pruned(gitlab_fake: GitLabFake) -> None:
    """An `instance: true` entry writes instance/KEY through /admin/ci/variables with the marker, a new value is
    written in place, a steady state writes nothing, and prune deletes it; no request carries a scope filter."""
    sink = make_sink(gitlab_fake)
    first = [item(sink, "GLOBAL_TOKEN", "global-token-1", instance=True)]
    assert [c.address for c in plan(sink, first)] == ["instance/GLOBAL_TOKEN"]
    assert all(r.ok for r in apply(sink, plan(sink, first)))
    variable = instance_variable(gitlab_fake, "GLOBAL_TOKEN")
    assert variable["value"] == "global-token-1"
    assert marker.parse(variable["description"]) == (None, OWNER)
    second = [item(sink, "GLOBAL_TOKEN", "global-token-2", instance=True)]
    assert all(r.ok for r in apply(sink, plan(sink, second)))
    assert instance_variable(gitlab_fake, "GLOBAL_TOKEN")["value"] == "global-token-2"
    before = len(writes(gitlab_fake))
    assert set(actions(plan(sink, second)).values()) == {Action.NOOP}
    assert len(writes(gitlab_fake)) == before
    changes = sink.observe([], Scope(OWNER.instance, ("instance/*",)))
    assert list(changes.owned) == ["instance/GLOBAL_TOKEN"]
    sink.delete(changes.owned["instance/GLOBAL_TOKEN"])
    assert gitlab_fake.variables("instance") == []
    admin = [r for r in gitlab_fake.requests if "/admin/ci/variables" in r.path]
    assert {r.method for r in admin} == {"GET", "POST", "PUT", "DELETE"}
    assert not any("filter[environment_scope]" in r.query for r in admin)


def test_instance_variables_need_an_administrators_token(gitlab_fake: GitLabFake) -> None:
    """A token that is no administrator's is refused with a message saying an administrator's account is needed."""
    sink = make_sink(gitlab_fake, token=MAINTAINER_TOKEN)
    with pytest.raises(PermanentError, match="an administrator's account") as raised:
        sink.observe([item(sink, "GLOBAL_TOKEN", "global-token-1", instance=True)], Scope(OWNER.instance))
    assert "HTTP 403" in str(raised.value)
