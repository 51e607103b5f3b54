"""`python -m bench` at 5 secrets: every scenario runs through syncd's command line and reports its fields.

No figure here is a timing: the test checks that each scenario works and that the counts hold together (the
steady state writes nothing, syncd calls no more than a per-item reader, and never fewer than the API's floor).
"""

from __future__ import annotations

import json

import pytest

from bench.__main__ import main, markdown_header, markdown_row
from bench.scenarios import aws_secrets_manager, aws_ssm, gitlab, kubernetes, vault
from bench.workload import Result

FIELDS = {
    "connector",
    "source",
    "secrets",
    "items",
    "calls_total",
    "calls_floor",
    "naive_calls",
    "writes_steady_state",
    "first_apply_calls",
    "first_apply_floor",
    "plan_wall_s",
    "apply_wall_s",
    "steady_apply_wall_s",
    "peak_rss_mb",
    "plan_by_operation",
    "first_apply_by_operation",
    "naive_by_operation",
}


@pytest.mark.parametrize("scenario", ["aws-secrets-manager", "aws-ssm", "vault", "dotenv", "gitlab", "kubernetes"])
def test_a_scenario_prints_one_json_line_whose_counts_hold_together(
    scenario: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--secrets 5 --json --only NAME` prints one JSON object with every field; the steady-state apply writes
    nothing, the steady-state plan calls no more than the naive reader and no fewer than the floor, and the
    per-operation breakdowns add up to the totals."""
    assert main(["--secrets", "5", "--json", "--only", scenario]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result.keys() >= FIELDS
    assert (result["connector"], result["secrets"]) == (scenario, 5)
    assert result["writes_steady_state"] == 0
    assert result["calls_floor"] <= result["calls_total"] <= result["naive_calls"]
    assert result["first_apply_floor"] <= result["first_apply_calls"]
    assert sum(result["plan_by_operation"].values()) == result["calls_total"]
    assert sum(result["first_apply_by_operation"].values()) == result["first_apply_calls"]
    assert sum(result["naive_by_operation"].values()) == result["naive_calls"]
    assert result["peak_rss_mb"] > 0 and result["plan_wall_s"] > 0


def test_without_json_a_run_is_a_row_of_a_markdown_table() -> None:
    """Without --json, the output is a Markdown table: a header, its rule, and one row per run."""
    result = Result("dotenv", "file", 3, 6, *[0] * 6, 1.5, 2.5, 0.5, 60.0, 55.0)
    header, rule = markdown_header().splitlines()
    assert header.startswith("| scenario | secrets | calls_total | calls_floor | naive_calls |")
    assert rule.startswith("|---|---:|") and rule.count("|") == header.count("|")
    assert markdown_row(result) == "| file → dotenv | 3 | 0 | 0 | 0 | 0 | 0 | 0 | 1.5 | 2.5 | 60.0 |"


def test_the_floors_follow_the_apis_batch_and_page_sizes() -> None:
    """At 1,000 secrets: Secrets Manager 50 BatchGetSecretValue + 10 ListSecrets; SSM's 2,000 parameters 200
    GetParameters + 80 DescribeParameters (40 confirming tags, 40 listing what it owns); Vault a LIST and 1,000
    reads on each side; GitLab's 2,000 variables 20 pages of 100; Kubernetes' 1,000 Secrets 2 labelled LIST pages
    of 500."""
    assert aws_secrets_manager.calls_floor(1000) == 60
    assert aws_secrets_manager.first_apply_floor(1000) == 1001
    assert aws_ssm.calls_floor(2000) == 280
    assert aws_ssm.first_apply_floor(2000) == 2001
    assert vault.calls_floor(1000) == 2002
    assert vault.first_apply_floor(1000) == 3002
    assert gitlab.calls_floor(1000) == 20
    assert gitlab.first_apply_floor(1000) == 2001
    # 10,000 secrets go to 5 projects of 4,000 variables (GitLab holds at most 8,000 in a project).
    assert gitlab.variables_per_project(10000) == [4000] * 5
    assert gitlab.calls_floor(10000) == 200
    assert gitlab.first_apply_floor(10000) == 5 + 20000
    assert kubernetes.calls_floor(1000) == 2
    assert kubernetes.first_apply_floor(1000) == 2001
    assert aws_secrets_manager.calls_floor(1) == 2 and aws_ssm.calls_floor(1) == 3


def test_the_daemon_bench_measures_steady_ticks_that_read_only_what_a_plan_needs() -> None:
    """`python -m bench.daemon` at a few secrets: the first run creates them, then each steady tick makes exactly the
    plan's one LIST call and writes nothing."""
    from bench.daemon import measure

    row = measure(5, 2)
    assert row["first_run"]["writes"] == 5
    assert row["steady_tick"]["calls_max"] == row["steady_tick"]["calls_floor"] == 1
    assert row["steady_tick"]["writes"] == 0 and row["steady_tick"]["not_ok"] == 0


def test_the_daemon_bench_with_a_vault_source_reads_no_unchanged_secret_again() -> None:
    """`python -m bench.daemon --source vault` at a few secrets: the first run reads every secret's data once, and
    each steady tick costs the source its listings only, no data read, with nothing written."""
    from bench.daemon import measure

    row = measure(5, 2, "vault")
    assert row["source"] == "vault" and row["first_run"]["writes"] == 5
    tick = row["steady_tick"]
    assert tick["source_data_reads_max"] == 0 and 0 < tick["source_requests_max"] <= 5
    assert tick["calls_max"] == tick["calls_floor"] == 1
    assert tick["writes"] == 0 and tick["not_ok"] == 0
