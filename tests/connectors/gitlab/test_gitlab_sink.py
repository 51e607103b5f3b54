"""The `gitlab` sink on the fake GitLab server over real HTTP: settings, environment scopes, drift, ownership,
pagination, retries, and the errors of refused tokens and missing projects."""

from __future__ import annotations

import pytest
from gitlab.base import RESTObject

from connectors.gitlab import marker
from syncd.connector import Scope
from syncd.errors import PermanentError, TransientError
from syncd.model import Action, Ownership, Status
from syncd.retry import RetryPolicy
from syncd.testing.contract import shown
from tests.connectors.gitlab.gitlab_support import (
    ADOPT_AND_PRUNE,
    GROUP,
    OWNER,
    PROJECT,
    actions,
    apply,
    item,
    make_sink,
    plan,
    stored,
    writes,
)
from tests.fakes.gitlab import GitLabFake

FILTER = "filter[environment_scope]"
OTHER = Ownership("gl-other-instance", "gl-other-sync")


def test_masked_protected_raw_and_file_variables_are_stored_with_their_settings(gitlab_fake: GitLabFake) -> None:
    """Each setting of a `to` entry reaches GitLab as written, and the next plan finds nothing to change."""
    sink = make_sink(gitlab_fake)
    desired = [
        item(sink, "MASKED_TOKEN", "tok3n-abc:def@ghi", raw=False),
        item(sink, "PROTECTED_PW", "pr0tected-pw", protected=True),
        item(sink, "EXPANDED_URL", "https://$HOST/x", masked=False, raw=False),
        item(sink, "CA_PEM", "-----BEGIN X-----\nAAAA\n-----END X-----\n", masked=False, variable_type="file"),
    ]
    results = apply(sink, plan(sink, desired))
    assert all(result.ok for result in results), results
    expected = {
        "MASKED_TOKEN": {"masked": True, "raw": False, "protected": False, "variable_type": "env_var"},
        "PROTECTED_PW": {"masked": True, "raw": True, "protected": True, "variable_type": "env_var"},
        "EXPANDED_URL": {"masked": False, "raw": False, "protected": False, "variable_type": "env_var"},
        "CA_PEM": {"masked": False, "raw": True, "protected": False, "variable_type": "file"},
    }
    for key, settings in expected.items():
        variable = stored(gitlab_fake, key)
        assert {name: variable[name] for name in settings} == settings, key
        assert variable["hidden"] is False
        assert marker.parse(variable["description"]) == (None, OWNER)
    assert stored(gitlab_fake, "CA_PEM")["value"] == "-----BEGIN X-----\nAAAA\n-----END X-----\n"
    before = len(writes(gitlab_fake))
    assert set(actions(plan(sink, desired)).values()) == {Action.NOOP}
    assert len(writes(gitlab_fake)) == before


def test_a_changed_setting_is_planned_and_written_in_place(gitlab_fake: GitLabFake) -> None:
    """A `to` entry that turns protection on updates the variable in place with its scope's filter."""
    sink = make_sink(gitlab_fake)
    apply(sink, plan(sink, [item(sink, "DB_PASSWORD", "db-pass-0001")]))
    changes = plan(sink, [item(sink, "DB_PASSWORD", "db-pass-0001", protected=True)])
    assert [c.reasons for c in changes] == [("flags (protected)",)]
    assert all(r.ok for r in apply(sink, changes))
    assert stored(gitlab_fake, "DB_PASSWORD")["protected"] is True
    assert writes(gitlab_fake)[-1].method == "PUT"
    assert writes(gitlab_fake)[-1].query[FILTER] == "*"


def test_one_key_in_two_scopes_is_two_items_each_written_with_its_own_filter(gitlab_fake: GitLabFake) -> None:
    """A key in the production and staging scopes is two variables; each update and delete carries its own scope
    in filter[environment_scope], so neither touches the other."""
    sink = make_sink(gitlab_fake)
    first = [item(sink, "API_KEY", f"{scope}-key-v1", environment_scope=scope) for scope in ("production", "staging")]
    assert [i.address for i in first] == [f"project/{PROJECT}/API_KEY@production", f"project/{PROJECT}/API_KEY@staging"]
    apply(sink, plan(sink, first))
    second = [item(sink, "API_KEY", f"{scope}-key-v2", environment_scope=scope) for scope in ("production", "staging")]
    assert all(r.ok for r in apply(sink, plan(sink, second)))
    for scope in ("production", "staging"):
        assert stored(gitlab_fake, "API_KEY", scope=scope)["value"] == f"{scope}-key-v2"
    puts = [r for r in writes(gitlab_fake) if r.method == "PUT"]
    assert sorted(r.query[FILTER] for r in puts) == ["production", "staging"]
    assert all(r.path.endswith("/variables/API_KEY") for r in puts)
    assert all(r.ok for r in apply(sink, plan(sink, second[1:])))
    deletes = [r for r in writes(gitlab_fake) if r.method == "DELETE"]
    assert [r.query.get(FILTER) for r in deletes] == ["production"]
    assert stored(gitlab_fake, "API_KEY", scope="staging")["value"] == "staging-key-v2"
    assert [v["environment_scope"] for v in gitlab_fake.variables("project", PROJECT)] == ["staging"]


def test_a_value_edited_out_of_band_is_planned_as_an_update_and_repaired(gitlab_fake: GitLabFake) -> None:
    """A value a person changed in GitLab (marker left in place) shows as a value update, and apply puts syncd's
    value back."""
    sink = make_sink(gitlab_fake)
    desired = [item(sink, "DB_PASSWORD", "the-right-value")]
    apply(sink, plan(sink, desired))
    edited = {**stored(gitlab_fake, "DB_PASSWORD"), "value": "edited-by-hand"}
    gitlab_fake.put_variable("project", PROJECT, **edited)
    changes = plan(sink, desired)
    assert [(c.action, c.reasons) for c in changes] == [(Action.UPDATE, ("value",))]
    assert all(r.ok for r in apply(sink, changes))
    assert stored(gitlab_fake, "DB_PASSWORD")["value"] == "the-right-value"


def test_a_group_variable_is_written_and_read_back(gitlab_fake: GitLabFake) -> None:
    """A `to` entry naming a group writes a group variable, which the next plan finds unchanged."""
    sink = make_sink(gitlab_fake)
    desired = [item(sink, "SHARED_TOKEN", "shared-token-1", group=GROUP, description="Shared by every project")]
    assert all(r.ok for r in apply(sink, plan(sink, desired)))
    variable = stored(gitlab_fake, "SHARED_TOKEN", kind="group", path=GROUP)
    assert variable["description"] == "Shared by every project [syncd instance=gl-instance sync=gl-sync]"
    assert set(actions(plan(sink, desired)).values()) == {Action.NOOP}


def test_prune_deletes_only_this_instances_variables(gitlab_fake: GitLabFake) -> None:
    """A variable syncd no longer maps is deleted; a person's variable and another instance's stay."""
    sink = make_sink(gitlab_fake)
    apply(sink, plan(sink, [item(sink, "KEPT", "kept-value-1"), item(sink, "GONE", "gone-value-1")]))
    gitlab_fake.put_variable("project", PROJECT, key="PERSONS", value="a person's value")
    theirs = marker.stamped(None, OTHER)
    gitlab_fake.put_variable("project", PROJECT, key="THEIRS", value="other instance", description=theirs)
    changes = plan(sink, [item(sink, "KEPT", "kept-value-1")])
    assert {a: x for a, x in actions(changes).items() if x is not Action.NOOP} == {
        f"project/{PROJECT}/GONE": Action.DELETE
    }
    assert all(r.ok for r in apply(sink, changes))
    assert sorted(v["key"] for v in gitlab_fake.variables("project", PROJECT)) == ["KEPT", "PERSONS", "THEIRS"]


def test_an_unowned_variable_is_a_conflict_and_adopt_takes_it_over(gitlab_fake: GitLabFake) -> None:
    """A variable without syncd's marker at a desired key is a conflict, never written; with on_conflict: adopt it
    gets the value, the settings and the marker, and the person's description is kept."""
    sink = make_sink(gitlab_fake)
    gitlab_fake.put_variable("project", PROJECT, key="DB_PASSWORD", value="persons-value", description="by hand")
    desired = [item(sink, "DB_PASSWORD", "syncds-value-1")]
    changes = plan(sink, desired)
    assert [c.action for c in changes] == [Action.CONFLICT]
    assert [r.status for r in apply(sink, changes)] == [Status.FAILED]
    assert stored(gitlab_fake, "DB_PASSWORD")["value"] == "persons-value"
    adopted = plan(sink, desired, policy=ADOPT_AND_PRUNE)
    assert [c.reasons for c in adopted] == [("adopt", "value", "flags (masked, raw)")]
    assert all(r.ok for r in apply(sink, adopted))
    variable = stored(gitlab_fake, "DB_PASSWORD")
    assert variable["value"] == "syncds-value-1"
    assert marker.parse(variable["description"]) == ("by hand", OWNER)


def test_another_instances_variable_is_a_conflict_under_every_policy(gitlab_fake: GitLabFake) -> None:
    """A variable carrying another instance's marker is a conflict even with on_conflict: adopt."""
    sink = make_sink(gitlab_fake)
    theirs = marker.stamped(None, OTHER)
    gitlab_fake.put_variable("project", PROJECT, key="DB_PASSWORD", value="their-value-1", description=theirs)
    changes = plan(sink, [item(sink, "DB_PASSWORD", "syncds-value-1")], policy=ADOPT_AND_PRUNE)
    assert [c.action for c in changes] == [Action.CONFLICT]
    assert "gl-other-instance" in changes[0].reasons[0]


def test_an_update_refuses_a_variable_whose_marker_went_since_the_plan(gitlab_fake: GitLabFake) -> None:
    """A variable a person took over between plan and apply (marker gone, value theirs) is not overwritten: the
    sink refuses the write, the core's second look finds it unowned, and the change fails as moved."""
    sink = make_sink(gitlab_fake)
    apply(sink, plan(sink, [item(sink, "DB_PASSWORD", "value-one-1")]))
    changes = plan(sink, [item(sink, "DB_PASSWORD", "value-two-2")])
    gitlab_fake.put_variable("project", PROJECT, key="DB_PASSWORD", value="taken-over-3", description="mine now")
    (result,) = apply(sink, changes)
    assert result.status is Status.FAILED
    assert "moved" in (result.error or "") or "marker" in (result.error or "")
    variable = stored(gitlab_fake, "DB_PASSWORD")
    assert (variable["value"], variable["description"]) == ("taken-over-3", "mine now")


def test_a_value_edited_between_plan_and_apply_is_refused_and_repaired_by_the_next_run(
    gitlab_fake: GitLabFake,
) -> None:
    """A value edited since the plan (marker kept) makes the sink refuse the write it planned; the core reads the
    variable again, sees that the value itself moved (not only a version), and leaves it: a newer value another
    apply wrote is never overwritten unseen. The next plan and apply repair it."""
    sink = make_sink(gitlab_fake)
    apply(sink, plan(sink, [item(sink, "DB_PASSWORD", "value-one-1")]))
    changes = plan(sink, [item(sink, "DB_PASSWORD", "value-two-2")])
    gitlab_fake.put_variable("project", PROJECT, **{**stored(gitlab_fake, "DB_PASSWORD"), "value": "meanwhile-3"})
    start = len(gitlab_fake.requests)
    (result,) = apply(sink, changes)
    assert not result.ok
    assert "changed in what syncd compares" in (result.error or "")
    assert stored(gitlab_fake, "DB_PASSWORD")["value"] == "meanwhile-3"
    calls = [(r.method, r.path.rsplit("/", 1)[-1]) for r in gitlab_fake.requests[start:]]
    assert calls == [("GET", "DB_PASSWORD"), ("GET", "variables")]
    (again,) = apply(sink, plan(sink, [item(sink, "DB_PASSWORD", "value-two-2")]))
    assert again.ok, again.error
    assert stored(gitlab_fake, "DB_PASSWORD")["value"] == "value-two-2"


def test_listing_250_variables_takes_three_list_calls(gitlab_fake: GitLabFake) -> None:
    """observe lists 260 variables of a project in three pages of 100 (one call per page, none per key), and finds
    every one, owned or desired."""
    sink = make_sink(gitlab_fake)
    stamp = marker.stamped(None, OWNER)
    for index in range(260):
        gitlab_fake.put_variable("project", PROJECT, key=f"KEY_{index:03d}", value=f"value-{index}", description=stamp)
    desired = [item(sink, f"KEY_{index:03d}", f"value-{index}") for index in range(0, 260, 7)]
    observation = sink.observe(desired, Scope(OWNER.instance, ("*",)))
    lists = [r for r in gitlab_fake.requests if r.method == "GET" and r.path.endswith("/variables")]
    assert len([r for r in lists if "/projects/" in r.path]) == 3
    assert all(r.query.get("per_page") == "100" for r in lists)
    assert len(observation.owned) == 260
    assert set(observation.items) == {i.address for i in desired}


def test_a_listing_is_read_from_the_pages_json_without_copying_objects(
    gitlab_fake: GitLabFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """observe reads the listing's JSON as it came: python-gitlab's objects deep-copy their attributes each time they
    are read, which was most of the CPU of a steady plan of thousands of variables."""
    sink = make_sink(gitlab_fake)
    stamp = marker.stamped(None, OWNER)
    for index in range(5):
        gitlab_fake.put_variable("project", PROJECT, key=f"KEY_{index}", value=f"value-{index}", description=stamp)
    copied = []
    real = RESTObject.asdict
    monkeypatch.setattr(RESTObject, "asdict", lambda obj, **options: copied.append(obj) or real(obj, **options))
    wanted = item(sink, "KEY_0", "value-0")
    observation = sink.observe([wanted], Scope(OWNER.instance, ("*",)))
    assert len(observation.owned) == 5 and observation.items[wanted.address].data == wanted.data
    assert copied == []


def test_a_listing_answer_that_is_not_variables_is_an_error_not_an_empty_project(
    gitlab_fake: GitLabFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listing page holding something other than variables (a proxy's page, a changed API) fails the observation
    with one message naming the project or group, rather than reading as variables that are not there."""
    import gitlab

    sink = make_sink(gitlab_fake)
    monkeypatch.setattr(gitlab.Gitlab, "http_list", lambda *args, **kwargs: [{"key": "A", "value": "x"}, "<html>"])
    with pytest.raises(PermanentError, match=r"variables listing of (project|group) platform\S* with something other"):
        sink.observe([item(sink, "A", "x")], Scope(OWNER.instance, ("*",)))


def test_a_429_with_retry_after_and_a_502_are_retried_by_the_core(gitlab_fake: GitLabFake) -> None:
    """A create answered 429 with Retry-After, and an update answered 502, both succeed on the core's retry; the
    core waited at least what Retry-After asked, and python-gitlab retried nothing itself."""
    sink = make_sink(gitlab_fake)
    apply(sink, plan(sink, [item(sink, "UPDATED", "before-value")]))
    gitlab_fake.fail_next("POST", r"/variables$", 429, retry_after=7)
    gitlab_fake.fail_next("PUT", r"/variables/UPDATED$", 502)
    waits: list[float] = []
    retry = RetryPolicy(attempts=3, initial_delay=0, sleep=waits.append)
    changes = plan(sink, [item(sink, "CREATED", "created-value"), item(sink, "UPDATED", "after-value")])
    results = apply(sink, changes, retry=retry)
    assert [(r.ok, r.attempts) for r in results] == [(True, 2), (True, 2)]
    assert max(waits) >= 7
    assert len([r for r in gitlab_fake.requests if r.method == "POST"]) == 1 + 2
    assert stored(gitlab_fake, "CREATED")["value"] == "created-value"
    assert stored(gitlab_fake, "UPDATED")["value"] == "after-value"


def test_a_listing_answered_502_is_a_transient_error(gitlab_fake: GitLabFake) -> None:
    """observe raises TransientError when GitLab answers a listing with 502, for the core to retry."""
    sink = make_sink(gitlab_fake)
    gitlab_fake.fail_next("GET", r"/variables$", 502)
    with pytest.raises(TransientError, match="HTTP 502"):
        plan(sink, [item(sink, "K", "value-1234")])


def test_a_refused_token_says_so_without_showing_it(gitlab_fake: GitLabFake) -> None:
    """A token GitLab does not know gives an error saying the token was refused (401), never the token."""
    sink = make_sink(gitlab_fake, token="glpat-PLANTED-unknown-token")
    with pytest.raises(PermanentError) as raised:
        plan(sink, [item(sink, "K", "value-1234")])
    assert "refused the token (HTTP 401)" in str(raised.value)
    assert "PLANTED-unknown-token" not in shown(raised.value)


def test_a_token_without_the_role_is_told_which_role_on_which_project_or_group(gitlab_fake: GitLabFake) -> None:
    """A 403 names the owner and the role it needs: Maintainer on a project, Owner on a group."""
    gitlab_fake.add_token("reporter-token", "rep", {("project", PROJECT): "reporter"})
    gitlab_fake.add_token("group-maintainer-token", "gm", {("group", GROUP): "maintainer"})
    sink = make_sink(gitlab_fake, token="reporter-token")
    with pytest.raises(PermanentError) as raised:
        sink.observe([item(sink, "K", "value-1234")], Scope(OWNER.instance))
    assert f"Maintainer role on project {PROJECT}" in str(raised.value)
    assert "HTTP 403" in str(raised.value)
    sink = make_sink(gitlab_fake, token="group-maintainer-token")
    with pytest.raises(PermanentError) as raised:
        sink.observe([item(sink, "K", "value-1234", group=GROUP)], Scope(OWNER.instance))
    assert f"Owner role on group {GROUP}" in str(raised.value)


def test_a_missing_project_is_named(gitlab_fake: GitLabFake) -> None:
    """A project GitLab does not have gives an error naming it (404), not a list of nothing."""
    sink = make_sink(gitlab_fake)
    with pytest.raises(PermanentError) as raised:
        sink.observe([item(sink, "K", "value-1234", project="platform/missing")], Scope(OWNER.instance))
    assert "project platform/missing does not exist" in str(raised.value)


def test_a_variable_deleted_since_the_plan_is_not_created_again_by_an_update(gitlab_fake: GitLabFake) -> None:
    """An update planned on a variable someone deleted since fails as moved and creates nothing; a planned delete
    of it succeeds."""
    sink = make_sink(gitlab_fake)
    apply(sink, plan(sink, [item(sink, "UPDATED", "value-one-1"), item(sink, "PRUNED", "value-one-1")]))
    changes = plan(sink, [item(sink, "UPDATED", "value-two-2")])
    assert sorted(c.action for c in changes) == [Action.DELETE, Action.UPDATE]
    for key in ("UPDATED", "PRUNED"):
        gitlab_fake.delete_variable("project", PROJECT, key=key)
    results = {r.change.address.rsplit("/", 1)[-1]: r for r in apply(sink, changes)}
    assert results["UPDATED"].status is Status.FAILED
    assert "deleted since the plan" in (results["UPDATED"].error or "")
    assert results["PRUNED"].ok
    assert gitlab_fake.variables("project", PROJECT) == []


def test_a_variable_a_person_creates_just_before_syncds_create_stays_theirs(
    gitlab_fake: GitLabFake,
) -> None:
    """A person's variable that appears between syncd's plan and its create makes the create fail as moved, and
    their variable keeps its value and carries no marker of syncd's."""
    sink = make_sink(gitlab_fake)
    changes = plan(sink, [item(sink, "RACED", "syncds-value-1")])

    def person_creates(request: object) -> None:
        gitlab_fake.put_variable("project", PROJECT, key="RACED", value="persons-value-1")

    gitlab_fake.before("POST", r"/variables$", person_creates)
    (result,) = apply(sink, changes)
    assert result.status is Status.FAILED
    assert "created by someone else since the plan" in (result.error or "")
    variable = stored(gitlab_fake, "RACED")
    assert (variable["value"], variable["description"]) == ("persons-value-1", None)


def test_a_scoped_group_variable_on_gitlab_free_is_deleted_again_and_fails_naming_premium(
    gitlab_fake: GitLabFake,
) -> None:
    """GitLab Free drops a group variable's environment scope, so the create lands at `*`: syncd sees the scope in
    the answer, deletes that variable (with the `*` filter) and fails the change saying scopes need Premium."""
    gitlab_fake.group_scopes_licensed = False
    sink = make_sink(gitlab_fake)
    (result,) = apply(
        sink, plan(sink, [item(sink, "DEPLOY_KEY", "deploy-k3y-1", group=GROUP, environment_scope="prod")])
    )
    assert not result.ok
    assert "DEPLOY_KEY" in (result.error or "") and "'prod'" in (result.error or "") and "'*'" in (result.error or "")
    assert "GitLab Premium" in (result.error or "") and "deleted it again" in (result.error or "")
    assert gitlab_fake.variables("group", GROUP) == []
    assert [(r.method, r.query.get(FILTER)) for r in writes(gitlab_fake)] == [("POST", None), ("DELETE", "*")]


def test_adopting_a_variable_whose_kept_description_leaves_no_room_for_the_marker_fails_before_any_write(
    gitlab_fake: GitLabFake,
) -> None:
    """A `to` entry without a description keeps the text already in GitLab; when that text and the marker exceed
    GitLab's 255 characters, the change fails naming the key and how to go on, and no PUT is sent."""
    note = "A person's long note. " * 10
    gitlab_fake.put_variable("project", PROJECT, key="LEGACY_TOKEN", value="legacy-value-1", description=note.strip())
    sink = make_sink(gitlab_fake)
    (result,) = apply(sink, plan(sink, [item(sink, "LEGACY_TOKEN", "syncd-value-22")], policy=ADOPT_AND_PRUNE))
    assert not result.ok
    assert "LEGACY_TOKEN" in (result.error or "") and "GitLab allows 255" in (result.error or "")
    assert "shorten the variable's description in GitLab" in (result.error or "")
    assert writes(gitlab_fake) == []
    assert stored(gitlab_fake, "LEGACY_TOKEN")["value"] == "legacy-value-1"
