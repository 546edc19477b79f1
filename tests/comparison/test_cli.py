"""The command line: formats, output file, sweep and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comparison.cli import main


@pytest.fixture(scope="module")
def cdk_out(synthesized) -> Path:  # type: ignore[no-untyped-def]
    return synthesized.outdir


def test_table_shows_every_topology_and_the_line_items(cdk_out: Path, capsys) -> None:
    assert main(["--cdk-out", str(cdk_out)]) == 0
    out = capsys.readouterr().out
    for label in ("lambdas", "private-endpoints", "worker-service", "webapp-poller"):
        assert label in out
    assert "Monthly cost over the baseline" in out
    assert "Latency per task type" in out
    assert "$0.2 per 1,000,000 requests" in out
    assert "What the ADR says" in out


def test_json_carries_costs_latency_and_qualities(cdk_out: Path, tmp_path: Path) -> None:
    output = tmp_path / "report.json"
    assert main(["--cdk-out", str(cdk_out), "--format", "json", "--output", str(output)]) == 0
    data = json.loads(output.read_text())
    lambdas = next(t for t in data["topologies"] if t["label"] == "lambdas")
    assert lambdas["cost"]["total"] > 0
    assert lambdas["latency"]["p95_seconds"] >= lambdas["latency"]["p50_seconds"]
    assert lambdas["qualities"]["fifteen_minute_limit"].startswith("yes")
    # With the web app's network in the baseline (network = "shared"), the poller adds
    # little besides the task-hours it adds to the web app: it is cheapest and keeps up.
    assert data["cheapest"] == "webapp-poller"
    assert data["network"] == "shared"
    assert {t["task"] for t in lambdas["latency"]["per_task"]} >= {"generate-report"}


def test_markdown_has_tables(cdk_out: Path, capsys) -> None:
    assert main(["--cdk-out", str(cdk_out), "--format", "markdown", "--region", "us-east-1"]) == 0
    out = capsys.readouterr().out
    assert "| topology | per month |" in out
    assert "Region us-east-1" in out


def test_sweep_lists_volumes_from_a_hundred_to_ten_million(cdk_out: Path, capsys) -> None:
    assert main(["--cdk-out", str(cdk_out), "--sweep", "--no-free-tier"]) == 0
    out = capsys.readouterr().out
    assert "Cost against monthly volume" in out
    assert "10,000,000" in out


def test_free_tier_lowers_the_lambda_bill(cdk_out: Path, tmp_path: Path) -> None:
    totals = {}
    for flag in ("--free-tier", "--no-free-tier"):
        output = tmp_path / f"{flag}.json"
        main(["--cdk-out", str(cdk_out), "--format", "json", flag, "--output", str(output)])
        data = json.loads(output.read_text())
        totals[flag] = next(t for t in data["topologies"] if t["label"] == "lambdas")["cost"][
            "total"
        ]
    assert totals["--free-tier"] < totals["--no-free-tier"]


def test_bad_workload_exits_2_listing_every_problem(cdk_out: Path, tmp_path: Path, capsys) -> None:
    workload = tmp_path / "bad.toml"
    workload.write_text('region = "xx-nowhere-1"\n[tasks.nope]\nvolume_per_month = -1\n')
    assert main(["--cdk-out", str(cdk_out), "--workload", str(workload)]) == 2
    err = capsys.readouterr().err
    assert "region is 'xx-nowhere-1'" in err
    assert "tasks.nope: unknown task 'nope'" in err


def test_missing_templates_tell_how_to_make_them(tmp_path: Path, capsys) -> None:
    assert main(["--cdk-out", str(tmp_path)]) == 2
    assert "run `npx cdk synth -c topology=all` first" in capsys.readouterr().err


def test_unknown_region_flag_is_refused(cdk_out: Path, capsys) -> None:
    assert main(["--cdk-out", str(cdk_out), "--region", "mars-1"]) == 2
    assert "--region is 'mars-1'" in capsys.readouterr().err


def test_html_goes_to_the_output_file(cdk_out: Path, tmp_path: Path, capsys) -> None:
    output = tmp_path / "out" / "comparison.html"
    assert main(["--cdk-out", str(cdk_out), "--format", "html", "--output", str(output)]) == 0
    assert output.read_text().startswith("<!DOCTYPE html>")
    assert f"compare: wrote {output}" in capsys.readouterr().err


def test_footnotes_state_the_baseline_and_the_network_choice(cdk_out: Path, capsys) -> None:
    assert main(["--cdk-out", str(cdk_out)]) == 0
    out = capsys.readouterr().out
    # the shipped workload's web app: 2 x (1 vCPU x $0.04656 + 2 GB x $0.00511) x 730 h
    # = $82.8988;
    # its network: a NAT gateway 730 h x $0.05 = $36.50 and its EIP 730 h x $0.005 = $3.65;
    # its CPU target tracking: 2 alarms x $0.10 = $0.20. Sum: $123.2488.
    assert "with its network, $123.25/month" in out
    assert "Network: shared." in out


def test_default_workload_ships_in_the_package_and_works_outside_the_repository(
    cdk_out: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    import comparison
    from comparison.workload import DEFAULT_WORKLOAD_PATH

    assert DEFAULT_WORKLOAD_PATH.parent == Path(comparison.__file__).parent
    monkeypatch.chdir(tmp_path)  # no docs/ here
    assert main(["--cdk-out", str(cdk_out)]) == 0
    assert "Workload: 21,500 tasks/month." in capsys.readouterr().out


def test_network_option_overrides_the_workload_and_the_report_says_so(
    cdk_out: Path, capsys
) -> None:
    assert main(["--cdk-out", str(cdk_out), "--network", "dedicated"]) == 0
    out = capsys.readouterr().out
    assert "Network: dedicated." in out
