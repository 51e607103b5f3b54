"""Masked-and-hidden variables on the fake GitLab server: GitLab never returns their value, so syncd takes it to be
the one it wants (a steady state writes nothing), and what GitLab sets only at creation."""

from __future__ import annotations

import pytest

from connectors.gitlab import marker
from syncd.errors import ItemMoved
from syncd.model import Action, Status
from syncd.retry import RetryPolicy
from tests.connectors.gitlab.gitlab_support import (
    ADOPT_AND_PRUNE,
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


def test_a_hidden_variable_is_created_hidden_and_a_steady_state_writes_nothing(gitlab_fake: GitLabFake) -> None:
    """A `masked_and_hidden` entry creates a hidden, masked variable; the next plans find nothing to change though
    GitLab shows no value, and apply writes nothing."""
    sink = make_sink(gitlab_fake)
    desired = [item(sink, "DEPLOY_KEY", "deploy-key-0001", masked_and_hidden=True)]
    assert all(r.ok for r in apply(sink, plan(sink, desired)))
    variable = stored(gitlab_fake, "DEPLOY_KEY")
    assert (variable["hidden"], variable["masked"], variable["value"]) == (True, True, "deploy-key-0001")
    before = len(writes(gitlab_fake))
    for _ in range(2):
        assert set(actions(plan(sink, desired)).values()) == {Action.NOOP}
        apply(sink, plan(sink, desired))
    assert len(writes(gitlab_fake)) == before


def test_a_hidden_variable_gets_the_current_value_when_updated_for_another_reason(gitlab_fake: GitLabFake) -> None:
    """A description change on a hidden variable is written with the value the source holds now (GitLab's update
    carries a value), and the variable stays hidden."""
    sink = make_sink(gitlab_fake)
    apply(sink, plan(sink, [item(sink, "DEPLOY_KEY", "deploy-key-0001", masked_and_hidden=True)]))
    changed = [item(sink, "DEPLOY_KEY", "deploy-key-0002", masked_and_hidden=True, description="Rotated")]
    changes = plan(sink, changed)
    assert [c.reasons for c in changes] == [("description",)]
    assert all(r.ok for r in apply(sink, changes))
    variable = stored(gitlab_fake, "DEPLOY_KEY")
    assert (variable["value"], variable["hidden"]) == ("deploy-key-0002", True)
    assert marker.parse(variable["description"]) == ("Rotated", OWNER)


def test_a_hidden_create_retried_after_a_lost_answer_succeeds(gitlab_fake: GitLabFake) -> None:
    """A create of a hidden variable made again (its first answer lost) finds its own variable by marker and
    settings, though GitLab shows no value, and succeeds."""
    sink = make_sink(gitlab_fake)
    desired = item(sink, "DEPLOY_KEY", "deploy-key-0001", masked_and_hidden=True)
    (change,) = plan(sink, [desired])
    sink.write(desired, None, change.difference)
    sink.write(desired, None, change.difference)
    assert stored(gitlab_fake, "DEPLOY_KEY")["hidden"] is True


def test_hiding_a_variable_without_recreate_is_a_conflict_that_says_why(gitlab_fake: GitLabFake) -> None:
    """A `to` entry that turns masked_and_hidden on for an existing variable is a conflict naming the field and
    GitLab's rule, and nothing is written."""
    sink = make_sink(gitlab_fake)
    apply(sink, plan(sink, [item(sink, "DEPLOY_KEY", "deploy-key-0001")]))
    before = len(writes(gitlab_fake))
    changes = plan(sink, [item(sink, "DEPLOY_KEY", "deploy-key-0001", masked_and_hidden=True)])
    assert [c.action for c in changes] == [Action.CONFLICT]
    assert changes[0].reasons == (
        "hidden cannot change in place (masked_and_hidden can only be set when a variable is created); set "
        "recreate: true on the `to` entry to delete and create it",
    )
    apply(sink, changes)
    assert len(writes(gitlab_fake)) == before
    assert stored(gitlab_fake, "DEPLOY_KEY")["hidden"] is False


@pytest.mark.parametrize("hide", [True, False])
def test_a_recreate_deletes_the_variable_and_creates_it_whole(gitlab_fake: GitLabFake, hide: bool) -> None:
    """With recreate: true, turning masked_and_hidden on (or off) deletes the variable, with its scope's filter,
    and creates it whole with the marker; the next plan finds nothing to do."""
    sink = make_sink(gitlab_fake)
    first = item(sink, "DEPLOY_KEY", "deploy-key-0001", environment_scope="production", masked_and_hidden=not hide)
    apply(sink, plan(sink, [first]))
    wanted = item(
        sink, "DEPLOY_KEY", "deploy-key-0002", environment_scope="production", masked_and_hidden=hide, recreate=True
    )
    changes = plan(sink, [wanted])
    assert [c.action for c in changes] == [Action.UPDATE]
    assert changes[0].reasons[0] == "recreate (masked_and_hidden can only be set when a variable is created)"
    start = len(writes(gitlab_fake))
    assert all(r.ok for r in apply(sink, changes))
    assert [(r.method, r.query.get("filter[environment_scope]")) for r in writes(gitlab_fake)[start:]] == [
        ("DELETE", "production"),
        ("POST", None),
    ]
    variable = stored(gitlab_fake, "DEPLOY_KEY", scope="production")
    assert (variable["hidden"], variable["masked"], variable["value"]) == (hide, True, "deploy-key-0002")
    assert marker.parse(variable["description"]) == (None, OWNER)
    assert set(actions(plan(sink, [wanted])).values()) == {Action.NOOP}


def test_a_recreate_stopped_after_its_delete_is_finished_by_the_next_apply(gitlab_fake: GitLabFake) -> None:
    """An error between a recreate's delete and its create leaves the variable absent; the next plan creates it,
    hidden, with syncd's marker."""
    sink = make_sink(gitlab_fake)
    apply(sink, plan(sink, [item(sink, "DEPLOY_KEY", "deploy-key-0001")]))
    wanted = item(sink, "DEPLOY_KEY", "deploy-key-0001", masked_and_hidden=True, recreate=True)
    gitlab_fake.fail_next("POST", r"/variables$", 500)
    (result,) = apply(sink, plan(sink, [wanted]), retry=RetryPolicy(attempts=1, initial_delay=0))
    assert result.status is Status.FAILED
    assert gitlab_fake.variables("project", PROJECT) == []
    changes = plan(sink, [wanted])
    assert [c.action for c in changes] == [Action.CREATE]
    assert all(r.ok for r in apply(sink, changes))
    assert stored(gitlab_fake, "DEPLOY_KEY")["hidden"] is True


def test_a_recreate_retried_after_its_create_finds_its_own_variable(gitlab_fake: GitLabFake) -> None:
    """A recreate made again after it already deleted and created (its answer lost) deletes nothing more and
    succeeds."""
    sink = make_sink(gitlab_fake)
    apply(sink, plan(sink, [item(sink, "DEPLOY_KEY", "deploy-key-0001")]))
    wanted = item(sink, "DEPLOY_KEY", "deploy-key-0001", masked_and_hidden=True, recreate=True)
    (change,) = plan(sink, [wanted])
    assert change.difference is not None and change.difference.recreate
    sink.write(wanted, change.actual, change.difference)
    start = len(writes(gitlab_fake))
    sink.write(wanted, change.actual, change.difference)
    assert [r.method for r in writes(gitlab_fake)[start:]] == ["POST"]
    assert stored(gitlab_fake, "DEPLOY_KEY")["hidden"] is True


def test_a_recreate_refuses_a_variable_whose_value_changed_since_the_plan(gitlab_fake: GitLabFake) -> None:
    """A recreate planned on one value does not delete the variable when a person changed its value since."""
    sink = make_sink(gitlab_fake)
    apply(sink, plan(sink, [item(sink, "DEPLOY_KEY", "deploy-key-0001")]))
    wanted = item(sink, "DEPLOY_KEY", "deploy-key-0001", masked_and_hidden=True, recreate=True)
    (change,) = plan(sink, [wanted])
    gitlab_fake.put_variable("project", PROJECT, **{**stored(gitlab_fake, "DEPLOY_KEY"), "value": "persons-0002"})
    with pytest.raises(ItemMoved):
        sink.write(wanted, change.actual, change.difference)  # type: ignore[arg-type]
    assert stored(gitlab_fake, "DEPLOY_KEY")["value"] == "persons-0002"


def test_a_new_source_version_reaches_a_hidden_variable_and_a_steady_one_writes_nothing(
    gitlab_fake: GitLabFake,
) -> None:
    """A hidden variable's marker records a digest of the source version its value came from; a plan at the same
    version finds nothing to do, one at a new version updates the value (and the record), and then rests again."""
    sink = make_sink(gitlab_fake)
    first = [item(sink, "DEPLOY_KEY", "deploy-key-0001", masked_and_hidden=True, source_version="7")]
    apply(sink, plan(sink, first))
    _, stamp = marker.parse_stamp(stored(gitlab_fake, "DEPLOY_KEY")["description"])
    assert stamp == marker.Stamp(OWNER, marker.source_digest("7"))
    assert set(actions(plan(sink, first)).values()) == {Action.NOOP}
    rotated = [item(sink, "DEPLOY_KEY", "deploy-key-0002", masked_and_hidden=True, source_version="8")]
    changes = plan(sink, rotated)
    assert [(c.action, c.reasons) for c in changes] == [(Action.UPDATE, ("value",))]
    assert all(r.ok for r in apply(sink, changes))
    variable = stored(gitlab_fake, "DEPLOY_KEY")
    assert (variable["value"], variable["hidden"]) == ("deploy-key-0002", True)
    assert marker.parse_stamp(variable["description"])[1] == marker.Stamp(OWNER, marker.source_digest("8"))
    before = len(writes(gitlab_fake))
    assert set(actions(plan(sink, rotated)).values()) == {Action.NOOP}
    assert len(writes(gitlab_fake)) == before


def test_a_hidden_update_retried_after_a_lost_answer_writes_nothing_more(gitlab_fake: GitLabFake) -> None:
    """An update of a hidden variable made again (its first answer lost) finds the new source version recorded
    and sends no second PUT."""
    sink = make_sink(gitlab_fake)
    apply(sink, plan(sink, [item(sink, "DEPLOY_KEY", "deploy-key-0001", masked_and_hidden=True, source_version="7")]))
    rotated = item(sink, "DEPLOY_KEY", "deploy-key-0002", masked_and_hidden=True, source_version="8")
    (change,) = plan(sink, [rotated])
    assert change.difference is not None
    sink.write(rotated, change.actual, change.difference)
    start = len(writes(gitlab_fake))
    sink.write(rotated, change.actual, change.difference)
    assert writes(gitlab_fake)[start:] == []


def test_a_hidden_variable_without_a_source_version_record_is_written_once_adopted(gitlab_fake: GitLabFake) -> None:
    """A hidden variable a person made (no marker, no record) is adopted with a value update: syncd cannot know
    what it holds."""
    sink = make_sink(gitlab_fake)
    gitlab_fake.put_variable(
        "project", PROJECT, key="DEPLOY_KEY", value="persons-key-1", masked=True, hidden=True, raw=True
    )
    desired = [item(sink, "DEPLOY_KEY", "deploy-key-0001", masked_and_hidden=True, source_version="7")]
    changes = plan(sink, desired, policy=ADOPT_AND_PRUNE)
    assert [c.reasons for c in changes] == [("adopt", "value")]
    assert all(r.ok for r in apply(sink, changes))
    assert stored(gitlab_fake, "DEPLOY_KEY")["value"] == "deploy-key-0001"
