"""`python -m bench` at 50 secrets: every scenario runs through syncd's command line and reports its fields; and the
tools that read its results back: the must-show checker, the Markdown report and the plot.

No figure here is a timing: the tests check that each scenario works and that the counts hold together (the
steady state writes nothing, syncd calls no more than a per-item reader, and never fewer than the API's floor), and
the checker's verdicts on made-up results.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import check, plot, report
from bench.__main__ import main, markdown_header, markdown_row
from bench.scenarios import aws_secrets_manager, aws_ssm, gitlab, kubernetes, vault
from bench.workload import Result, cpu_ms_per_call, floor_ratio, naive_ratio

SMOKE_SECRETS = 50

FIELDS = {
    "connector",
    "source",
    "secrets",
    "items",
    "calls_total",
    "calls_floor",
    "floor_ratio",
    "naive_calls",
    "naive_ratio",
    "writes_steady_state",
    "first_apply_calls",
    "first_apply_floor",
    "plan_wall_s",
    "plan_cpu_s",
    "cpu_ms_per_call",
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
    """`--secrets 50 --json --only NAME` prints one JSON object with every field; the steady-state apply writes
    nothing, the steady-state plan calls no more than the naive reader and no fewer than the floor, the
    per-operation breakdowns add up to the totals, and the ratios agree with the counts they come from."""
    assert main(["--secrets", str(SMOKE_SECRETS), "--json", "--only", scenario]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result.keys() >= FIELDS
    assert (result["connector"], result["secrets"]) == (scenario, SMOKE_SECRETS)
    assert result["writes_steady_state"] == 0
    assert result["calls_floor"] <= result["calls_total"] <= result["naive_calls"]
    assert result["first_apply_floor"] <= result["first_apply_calls"]
    assert sum(result["plan_by_operation"].values()) == result["calls_total"]
    assert sum(result["first_apply_by_operation"].values()) == result["first_apply_calls"]
    assert sum(result["naive_by_operation"].values()) == result["naive_calls"]
    assert result["peak_rss_mb"] > 0 and result["plan_wall_s"] > 0 and result["plan_cpu_s"] > 0
    calls, floor = result["calls_total"], result["calls_floor"]
    # Each ratio is the quotient of its two fields, to its rounding (2 places, 1 place, 3 places of a rounded CPU).
    if floor:
        assert result["floor_ratio"] == pytest.approx(calls / floor, abs=0.0051)
    else:
        assert (calls, result["floor_ratio"]) == (0, 1.0)
    if calls:
        assert result["naive_ratio"] == pytest.approx(result["naive_calls"] / calls, abs=0.051)
        cpu_ms = result["plan_cpu_s"] * 1000
        assert result["cpu_ms_per_call"] == pytest.approx(cpu_ms / calls, abs=0.51 / calls + 0.0011)
    else:
        assert result["naive_ratio"] is None and result["cpu_ms_per_call"] is None


def test_without_json_a_run_is_a_row_of_a_markdown_table() -> None:
    """Without --json, the output is a Markdown table: a header, its rule, and one row per run."""
    dotenv = {"calls_total": 0, "calls_floor": 0, "naive_calls": 0, "first_apply_calls": 0, "first_apply_floor": 0}
    result = Result(**_run(connector="dotenv", secrets=3, items=6, **dotenv))
    header, rule = markdown_header().splitlines()
    assert header.startswith("| scenario | secrets | calls_total | calls_floor | floor_ratio | naive_calls |")
    assert rule.startswith("|---|---:|") and rule.count("|") == header.count("|")
    assert markdown_row(result) == (
        "| file → dotenv | 3 | 0 | 0 | 1.0 | 0 | — | 0 | 0 | 0 | 1.5 | 1.2 | — | 2.5 | 60.0 |"
    )


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


def _run(**fields: Any) -> dict[str, Any]:
    """A made-up line of `python -m bench --json`: Kubernetes at 1,000 secrets at its floor, unless `fields` say
    otherwise; the ratios follow from the counts, as the bench computes them."""
    run: dict[str, Any] = {
        "connector": "kubernetes",
        "source": "file",
        "secrets": 1000,
        "items": 1000,
        "calls_total": 2,
        "calls_floor": 2,
        "naive_calls": 1000,
        "writes_steady_state": 0,
        "first_apply_calls": 2001,
        "first_apply_floor": 2001,
        "plan_wall_s": 1.5,
        "plan_cpu_s": 1.2,
        "apply_wall_s": 2.5,
        "steady_apply_wall_s": 0.5,
        "peak_rss_mb": 60.0,
        "plan_rss_mb": 55.0,
        **fields,
    }
    run["floor_ratio"] = floor_ratio(run["calls_total"], run["calls_floor"])
    run["naive_ratio"] = naive_ratio(run["naive_calls"], run["calls_total"])
    run["cpu_ms_per_call"] = cpu_ms_per_call(run["plan_cpu_s"], run["calls_total"])
    return run


def _good_runs() -> list[dict[str, Any]]:
    """Every scenario at 1,000 and 10,000, each at its floor, 10x and more below its naive reader, linear, small."""
    runs = []
    for connector in check.SCENARIOS:
        for secrets, wall in ((1000, 1.0), (10_000, 10.0)):
            calls = 0 if connector == "dotenv" else secrets // 100
            runs.append(
                _run(
                    connector=connector,
                    secrets=secrets,
                    calls_total=calls,
                    calls_floor=calls,
                    naive_calls=0 if connector == "dotenv" else secrets,
                    plan_wall_s=wall,
                    peak_rss_mb=150.0,
                )
            )
    return runs


def _write_lines(path: Path, runs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(run) + "\n" for run in runs))
    return path


def _verdicts(capsys: pytest.CaptureFixture[str]) -> dict[tuple[str, str], str]:
    """The checker's printed lines as {(rule, scenario): status}."""
    verdicts = {}
    for line in capsys.readouterr().out.splitlines()[:-1]:
        status, rest = line[:12].strip(), line[12:].split()
        verdicts[(rest[0], rest[1])] = status
    return verdicts


def test_the_ratios_follow_from_the_counts_and_are_empty_without_calls() -> None:
    """floor_ratio is calls over floor (1.0 for no call against a floor of none, nothing for calls against it),
    naive_ratio the naive reader's calls over syncd's, cpu_ms_per_call the plan's CPU over its calls; the last two
    have no value when the plan made no call."""
    assert floor_ratio(641, 240) == 2.67 and floor_ratio(60, 60) == 1.0
    assert floor_ratio(0, 0) == 1.0 and floor_ratio(3, 0) is None
    assert naive_ratio(2010, 60) == 33.5 and naive_ratio(0, 0) is None
    assert cpu_ms_per_call(1.2, 60) == 20.0 and cpu_ms_per_call(0.4, 0) is None


def test_the_checker_passes_results_that_meet_every_must_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every scenario at its floor with no write, 10x under its naive reader, 10x the time for 10x the secrets and
    150 MiB at 10,000: every rule passes (the naive rule only for the batch APIs) and the exit code is 0."""
    assert check.main([str(_write_lines(tmp_path / "good.jsonl", _good_runs()))]) == 0
    verdicts = _verdicts(capsys)
    assert set(verdicts.values()) == {"pass"}
    assert {scenario for rule, scenario in verdicts if rule == "naive"} == set(check.BATCH_SCENARIOS)
    assert {scenario for rule, scenario in verdicts if rule == "floor"} == set(check.SCENARIOS)


def test_the_checker_fails_each_rule_that_a_run_breaks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """SSM at 2.67x its floor and under 10x its naive reader, a steady-state write to Kubernetes, GitLab's plan 13x
    slower at 10x the secrets and Vault at 200 MiB fail their rules, only those, and the exit code is 1."""
    broken = {
        ("aws-ssm", 1000): {"calls_total": 641, "calls_floor": 240, "naive_calls": 4201},
        ("kubernetes", 1000): {"writes_steady_state": 1},
        ("gitlab", 10_000): {"plan_wall_s": 13.0},
        ("vault", 10_000): {"peak_rss_mb": 200.0},
    }
    runs = [_run(**{**run, **broken.get((run["connector"], run["secrets"]), {})}) for run in _good_runs()]
    assert check.main([str(_write_lines(tmp_path / "bad.jsonl", runs))]) == 1
    failed = {key for key, status in _verdicts(capsys).items() if status == "FAIL"}
    assert failed == {
        ("floor", "aws-ssm"),
        ("naive", "aws-ssm"),
        ("floor", "kubernetes"),
        ("linear", "gitlab"),
        ("memory", "vault"),
    }


def test_the_checker_says_not_measured_for_rules_without_the_sizes_they_need(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runs at 100 secrets only, even bad ones, leave every rule not measured, and that alone is no failure; the
    fastest of repeated runs of a size is the one the linearity rule takes."""
    small = [_run(connector=name, secrets=100, calls_total=50, calls_floor=1) for name in check.SCENARIOS]
    assert check.main([str(_write_lines(tmp_path / "small.jsonl", small))]) == 0
    assert set(_verdicts(capsys).values()) == {"not measured"}

    repeated = [
        _run(secrets=1000, plan_wall_s=1.0),
        _run(secrets=1000, plan_wall_s=1.2),
        _run(secrets=10_000, plan_wall_s=11.0),
        _run(secrets=10_000, plan_wall_s=30.0),
    ]
    assert check.main([str(_write_lines(tmp_path / "repeated.jsonl", repeated))]) == 0
    verdicts = _verdicts(capsys)
    assert verdicts[("linear", "kubernetes")] == "pass"
    assert verdicts[("linear", "vault")] == "not measured"


def test_the_tools_refuse_a_file_that_is_not_bench_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A line that is not a run of the bench stops the checker and the report with one message naming the file and
    the line, exit code 2."""
    results = tmp_path / "results.jsonl"
    results.write_text(json.dumps(_run()) + "\n\n" + "| a Markdown row |\n")
    assert check.main([str(results)]) == 2
    assert report.main([str(results)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"bench.check: {results}:3: not a JSON object (Expecting value)",
        f"bench.report: {results}:3: not a JSON object (Expecting value)",
    ]


def test_the_report_prints_one_table_of_the_runs_by_scenario_then_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runs from two files come out as one Markdown table ordered as the bench runs its scenarios, then by N, one
    row per scenario and N (of repeated runs, the fastest plan's); a run of an older bench, without CPU time or
    ratios, gets its ratios from its counts and a dash for the CPU."""
    older = _run(connector="aws-secrets-manager", secrets=1000, calls_total=60, calls_floor=60, naive_calls=2010)
    for field in ("plan_cpu_s", "cpu_ms_per_call", "floor_ratio", "naive_ratio"):
        del older[field]
    first = _write_lines(tmp_path / "a.jsonl", [_run(secrets=10_000, calls_total=20, calls_floor=20), older])
    small = {"secrets": 100, "calls_total": 1, "calls_floor": 1, "naive_calls": 100}
    repeated = [_run(**small, plan_wall_s=wall) for wall in (3, 2, 4)]
    second = _write_lines(tmp_path / "b.jsonl", repeated)
    assert report.main([str(first), str(second)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == markdown_header().splitlines()
    assert [line.split(" | ")[:2] for line in lines[2:]] == [
        ["| file → aws-secrets-manager", "1000"],
        ["| file → kubernetes", "100"],
        ["| file → kubernetes", "10000"],
    ]
    assert lines[3].split(" | ")[10] == "2"
    assert lines[2].split(" | ")[2:] == [
        "60",
        "60",
        "1.0",
        "2010",
        "33.5",
        "0",
        "2001",
        "2001",
        "1.5",
        "—",
        "—",
        "2.5",
        "60.0 |",
    ]


def test_the_plot_writes_a_png(tmp_path: Path) -> None:
    """`python -m bench.plot` draws the runs of a results file into the PNG it is given."""
    pytest.importorskip("matplotlib")
    output = tmp_path / "benchmarks.png"
    assert plot.main([str(_write_lines(tmp_path / "good.jsonl", _good_runs())), "-o", str(output)]) == 0
    assert output.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_report_writes_the_table_and_the_verdicts_between_the_markers_of_a_doc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--write DOC` replaces what stands between the table's and the checker's markers and keeps the rest of DOC
    as it was; a DOC without the markers is left unchanged, with one message naming it."""
    results = _write_lines(tmp_path / "results.jsonl", [_run(), _run(secrets=10_000, calls_total=20, calls_floor=20)])
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        "# Title\n\n<!-- bench:table -->\nan old table\n<!-- /bench:table -->\n\nText between.\n\n"
        "<!-- bench:check -->\nold verdicts\n<!-- /bench:check -->\n\nThe end.\n"
    )
    assert report.main([str(results), "--write", str(doc)]) == 0
    text = doc.read_text()
    assert text.startswith(f"# Title\n\n<!-- bench:table -->\n{markdown_header()}\n| file → kubernetes | 1000 |")
    assert "an old table" not in text and "old verdicts" not in text
    assert "\nText between.\n" in text and text.endswith("<!-- /bench:check -->\n\nThe end.\n")
    assert "pass          floor   kubernetes" in text and "not measured  floor   vault" in text

    bare = tmp_path / "bare.md"
    bare.write_text("# No markers\n")
    assert report.main([str(results), "--write", str(bare)]) == 2
    assert bare.read_text() == "# No markers\n"
    markers = "<!-- bench:table --> ... <!-- /bench:table -->"
    assert capsys.readouterr().err == f"bench.report: {bare}: no {markers} markers\n"
