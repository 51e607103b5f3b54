"""Two syncd instances writing the same variables at once, on the fake GitLab server: every variable ends in one
instance's hands, holding that instance's value, and the other reports the ones it lost."""

from __future__ import annotations

import threading

import pytest

from connectors.gitlab import marker
from syncd.model import Ownership
from tests.connectors.gitlab.gitlab_support import GROUP, PROJECT, apply, item, make_sink, plan
from tests.fakes.gitlab import GitLabFake

KEYS = [f"RACE_{index:02d}" for index in range(24)]
INSTANCES = {
    "first": Ownership("gl-first", "race"),
    "second": Ownership("gl-second", "race"),
}


def test_two_instances_creating_the_same_variables_at_once_never_share_one(gitlab_fake: GitLabFake) -> None:
    """Both instances plan every variable as a create, then apply at the same time: each variable carries exactly
    one instance's marker and that instance's value, and each variable is reported failed by the other."""
    plans = {}
    for name, owner in INSTANCES.items():
        sink = make_sink(gitlab_fake)
        desired = [item(sink, key, f"{name}-value-{key}", owner=owner) for key in KEYS]
        plans[name] = (sink, plan(sink, desired, instance=owner.instance))
    results: dict[str, dict[str, bool]] = {}
    start = threading.Barrier(len(INSTANCES))

    def run(name: str) -> None:
        sink, changes = plans[name]
        start.wait()
        outcome = apply(sink, changes, instance=INSTANCES[name].instance)
        results[name] = {r.change.address.rsplit("/", 1)[-1]: r.ok for r in outcome}

    threads = [threading.Thread(target=run, args=(name,)) for name in INSTANCES]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = {v["key"]: v for v in gitlab_fake.variables("project", PROJECT)}
    assert sorted(stored) == KEYS
    for key, variable in stored.items():
        _, owner = marker.parse(variable["description"])
        winner = next(name for name, o in INSTANCES.items() if o == owner)
        assert variable["value"] == f"{winner}-value-{key}", key
        assert results[winner][key] is True
        assert [results[name][key] for name in INSTANCES if name != winner] == [False]


def _group_update_racing_a_delete(gitlab_fake: GitLabFake, *, licensed: bool) -> tuple[bool, str | None]:
    """Someone's K@* and syncd's K@prod in group platform; syncd plans an update of K@prod, and K@prod is deleted
    between syncd's read and its PUT. Returns the change's outcome."""
    gitlab_fake.put_variable("group", GROUP, key="SHARED_KEY", value="theirs-all-envs", description="a person's")
    sink = make_sink(gitlab_fake)
    apply(sink, plan(sink, [item(sink, "SHARED_KEY", "ours-prod-one", group=GROUP, environment_scope="prod")]))
    changes = plan(sink, [item(sink, "SHARED_KEY", "ours-prod-two", group=GROUP, environment_scope="prod")])
    gitlab_fake.group_scopes_licensed = licensed
    gitlab_fake.before(
        "PUT",
        r"/groups/platform/variables/SHARED_KEY$",
        lambda request: gitlab_fake.delete_variable("group", GROUP, "SHARED_KEY", "prod"),
    )
    (result,) = apply(sink, changes)
    return result.ok, result.error


def test_a_group_update_that_lands_on_another_scope_fails_naming_both_scopes(gitlab_fake: GitLabFake) -> None:
    """When GitLab ignores the scope parameter (a group without the licensed feature) and the scoped variable is
    deleted between syncd's read and its PUT, GitLab's fallback writes into the key's `*` variable; syncd reads the
    PUT's answer and fails the change naming the key and both scopes."""
    ok, error = _group_update_racing_a_delete(gitlab_fake, licensed=False)
    assert not ok
    assert "SHARED_KEY" in (error or "") and "'*'" in (error or "") and "'prod'" in (error or "")
    assert "deleted since syncd read it" in (error or "")
    assert "ours-prod" not in (error or "")


@pytest.mark.parametrize("licensed", [True, False])
def test_a_group_update_racing_a_delete_is_reported_and_leaves_no_marker_on_the_other_variable(
    gitlab_fake: GitLabFake, licensed: bool
) -> None:
    """Whether or not GitLab honours group scopes, GitLab's fallback reaches someone's K@* when K@prod was deleted
    between syncd's read and its PUT: syncd sends no scope in the body, so the variable stays in `*`, its answer
    tells, and syncd takes its marker off that variable again (no later run may prune it) and fails the change."""
    ok, error = _group_update_racing_a_delete(gitlab_fake, licensed=licensed)
    assert not ok
    assert "'*'" in (error or "") and "'prod'" in (error or "") and "without syncd's marker" in (error or "")
    (variable,) = gitlab_fake.variables("group", GROUP)
    assert variable["environment_scope"] == "*"
    assert marker.parse(variable["description"])[1] is None
