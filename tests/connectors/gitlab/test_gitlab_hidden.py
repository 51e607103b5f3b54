"""Masked-and-hidden variables on the fake GitLab server: GitLab never returns their value, so syncd takes it to be
the one it wants (a steady state writes nothing), and what GitLab sets only at creation."""

from __future__ import annotations

from connectors.gitlab import marker
from syncd.model import Action
from tests.connectors.gitlab.gitlab_support import OWNER, actions, apply, item, make_sink, plan, stored, writes
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
