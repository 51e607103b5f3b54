"""Reports: the summary line, the table, Markdown for merge requests, and the JSON documents."""

from __future__ import annotations

import json

from syncd.model import Action, Change, ChangeResult, Plan, Problem, Status
from syncd.planfile import dumps, plan_to_dict, results_to_dict
from syncd.report import render_markdown, render_results, render_table, summary_line
from syncd.secret import Secret


def _plan(*changes: Change, problems: tuple[Problem, ...] = (), refused: tuple[str, ...] = ()) -> Plan:
    return Plan(
        "prod",
        "ab" * 32,
        "2026-01-01T00:00:00+00:00",
        ("t1", "t2", "t3", "t4"),
        ("s",),
        changes,
        problems,
        {"apps/db": "7"},
        refused,
    )


CHANGES = (
    Change("t1", "a", Action.CREATE, "s"),
    Change("t1", "b", Action.CREATE, "s"),
    Change("t2", "c", Action.CREATE, "s"),
    Change("t2", "d", Action.UPDATE, "s", ("value",)),
    Change("t3", "e", Action.CONFLICT, "s", ("owned by syncd instance 'x'",)),
    Change("t4", "f", Action.NOOP, "s"),
)


def test_summary_line_counts_every_action_and_target() -> None:
    """The summary says how many of each action across how many targets, with singular/plural right."""
    assert summary_line(_plan(*CHANGES)) == "3 to create, 1 to update, 0 to delete, 1 conflict across 4 targets."
    problem = Problem("boom", target="t1")
    assert summary_line(_plan(problems=(problem,))).endswith("0 conflicts across 4 targets; 1 problem.")


def test_table_groups_by_target_and_hides_noops() -> None:
    """The table shows + ~ ! per change under its target, and no line for an unchanged item."""
    text = render_table(_plan(*CHANGES))
    assert "t1\n+  a  s  new\n+  b  s  new\nt2" in text
    assert "~  d  s  value" in text and "!  e  s  owned by syncd instance 'x'" in text
    assert "t4" not in text
    assert all(line == line.rstrip() for line in text.splitlines())


def test_table_without_drift_says_in_sync() -> None:
    """A plan with nothing to do says every target is in sync."""
    assert render_table(_plan(Change("t4", "f", Action.NOOP, "s"))).startswith("No changes: 4 targets in sync.")


def test_table_is_coloured_only_when_asked() -> None:
    """ANSI colour codes appear only with color=True."""
    assert "\x1b[" in render_table(_plan(*CHANGES), color=True)
    assert "\x1b[" not in render_table(_plan(*CHANGES))


def test_markdown_escapes_table_cells_and_marks_refused_targets() -> None:
    """Pipes in names cannot break the Markdown table; a refused target is called out."""
    text = render_markdown(_plan(Change("t1", "a|b", Action.DELETE, "s", ("no longer mapped",)), refused=("t1",)))
    assert "| `-` | t1 | `a\\|b` | s | no longer mapped |" in text
    assert "Refused by the delete guard:** t1" in text


def test_reports_are_scrubbed_of_known_values() -> None:
    """Even a reason that somehow held a secret value is redacted in every format."""
    value = Secret("PLANTED-report-5150").reveal()
    plan = _plan(Change("t1", "a", Action.UPDATE, "s", (f"odd {value}",)))
    for text in (render_table(plan), render_markdown(plan)):
        assert "PLANTED-report-5150" not in text


def test_json_documents_have_their_format_and_no_values() -> None:
    """The plan and apply JSON carry their format name, counts, versions and results."""
    plan = _plan(*CHANGES)
    data = json.loads(dumps(plan_to_dict(plan, "m.yaml")))
    assert data["format"] == "syncd.plan/v1"
    assert data["summary"] == {
        "create": 3,
        "update": 1,
        "delete": 0,
        "conflict": 1,
        "noop": 1,
        "problems": 0,
        "targets": 4,
    }
    assert data["source_versions"] == {"apps/db": "7"}
    result = ChangeResult(CHANGES[0], Status.FAILED, "target 't1': denied", 3)
    applied = results_to_dict(plan, [result])
    assert applied["format"] == "syncd.apply/v1"
    assert applied["results"][0]["status"] == "failed" and applied["results"][0]["attempts"] == 3
    assert "✗ + t1 a: target 't1': denied" in render_results([result])


def test_results_give_each_targets_outcome() -> None:
    """With several targets, the apply report ends with one outcome line per target."""
    results = [
        ChangeResult(CHANGES[0], Status.APPLIED),
        ChangeResult(CHANGES[2], Status.FAILED, "target 't2': denied"),
    ]
    text = render_results(results)
    assert "Apply: 1 applied, 1 failed." in text
    assert "  t1: 1 applied, 0 failed." in text and "  t2: 0 applied, 1 failed." in text


def test_markdown_with_problems_and_no_change_does_not_say_everything_is_in_sync() -> None:
    """When every sync failed at the source, the Markdown report does not claim that every target is in sync."""
    text = render_markdown(_plan(problems=(Problem("source: secret 'apps/db' is missing", sync="s"),)))
    assert "every target is in sync" not in text
    assert "No changes could be planned where the problems below stand" in text
    assert "No changes: every target is in sync." in render_markdown(_plan())


class _Writes:
    """A text stream that keeps each write apart."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_json_output_is_written_as_it_is_encoded(monkeypatch) -> None:
    """`--format json` prints the same text `dumps` gives, in many writes, none holding the whole document: a plan of
    thousands of changes is never held whole as text (it was most of an apply's peak memory at 10,000 secrets)."""
    from syncd.cli import output

    changes = [Change("t1", f"apps/item{i:05d}", Action.NOOP, "s") for i in range(3000)]
    data = results_to_dict(_plan(*changes), [])
    stdout = _Writes()
    monkeypatch.setattr(output.sys, "stdout", stdout)
    output.print_json(data)
    text = "".join(stdout.writes)
    assert text == dumps(data)
    assert len(stdout.writes) > 2 and max(len(part) for part in stdout.writes) < len(text) // 2
