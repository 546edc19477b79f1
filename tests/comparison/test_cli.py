"""The command line: formats, output file, sweep and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    """The templates as synthesized (the settings shipped), compared without sizing."""
    output = tmp_path / "report.json"
    assert (
        main(
            [
                "--cdk-out",
                str(cdk_out),
                "--format",
                "json",
                "--output",
                str(output),
                "--as-synthesized",
            ]
        )
        == 0
    )
    data = json.loads(output.read_text())
    assert data["sizing"] is None, "--as-synthesized sizes no option"
    lambdas = next(t for t in data["topologies"] if t["label"] == "lambdas")
    assert lambdas["cost"]["total"] > 0
    assert lambdas["latency"]["p95_seconds"] >= lambdas["latency"]["p50_seconds"]
    assert lambdas["qualities"]["fifteen_minute_limit"].startswith("yes")
    # As shipped, lambdas costs least but caps generate-report at 2 runs at once and
    # misses its 30-minute target, so it is not the choice.
    assert data["decision"]["chosen"] not in (None, "lambdas")
    assert data["cheapest_by_cost_ignoring_targets"] == "lambdas"
    assert "generate-report" in json.dumps(data["decision"])
    assert data["network"] == "shared"
    assert {t["task"] for t in lambdas["latency"]["per_task"]} >= {"generate-report"}


def test_markdown_has_tables(cdk_out: Path, capsys) -> None:
    assert main(["--cdk-out", str(cdk_out), "--format", "markdown", "--region", "us-east-1"]) == 0
    out = capsys.readouterr().out
    assert "| topology | per month |" in out
    assert "Region us-east-1" in out


@pytest.mark.slow  # long: simulates the topologies at every volume of the sweep (~2 s)
def test_sweep_lists_volumes_from_a_hundred_to_ten_million(cdk_out: Path, capsys) -> None:
    assert main(["--cdk-out", str(cdk_out), "--sweep", "--no-free-tier"]) == 0
    out = capsys.readouterr().out
    assert "Cost against monthly volume" in out
    assert "10,000,000" in out


@pytest.mark.slow  # long: two full comparisons (~1.5 s)
def test_free_tier_lowers_the_lambda_bill(cdk_out: Path, tmp_path: Path) -> None:
    totals = {}
    for flag in ("--free-tier", "--no-free-tier"):
        output = tmp_path / f"{flag}.json"
        assert (
            main(["--cdk-out", str(cdk_out), "--format", "json", flag, "--output", str(output)])
            == 0
        )
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


@pytest.mark.slow  # long: simulates the topologies at every volume of the sweep (~2 s)
def test_html_goes_to_the_output_file(cdk_out: Path, tmp_path: Path, capsys) -> None:
    output = tmp_path / "out" / "comparison.html"
    assert main(["--cdk-out", str(cdk_out), "--format", "html", "--output", str(output)]) == 0
    assert output.read_text().startswith("<!DOCTYPE html>")
    assert f"compare: wrote {output}" in capsys.readouterr().err


def test_the_baseline_is_printed_once_and_the_network_choice_stated(cdk_out: Path, capsys) -> None:
    assert main(["--cdk-out", str(cdk_out)]) == 0
    out = capsys.readouterr().out
    # the shipped workload's web app: 2 x (1 vCPU x $0.04656 + 2 GB x $0.00511) x 730 h
    # = $82.8988;
    # its network: a NAT gateway 730 h x $0.05 = $36.50 and its EIP 730 h x $0.005 = $3.65;
    # its CPU target tracking: 2 alarms x $0.10 = $0.20. Sum: $123.2488.
    assert out.count("$123.25") == 1, "the baseline's total is printed once, in its table"
    assert "increment over the baseline (the web app's 2 x 1 vCPU / 2 GB tasks" in out
    assert "Network: shared." in out


def test_default_workload_ships_in_the_package_and_works_outside_the_repository(
    cdk_out: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    import comparison.inputs
    from comparison.inputs.workload import DEFAULT_WORKLOAD_PATH

    assert DEFAULT_WORKLOAD_PATH.parent == Path(comparison.inputs.__file__).parent
    monkeypatch.chdir(tmp_path)  # no docs/ here
    assert main(["--cdk-out", str(cdk_out)]) == 0
    assert "Workload: 21,500 tasks/month." in capsys.readouterr().out


def test_network_option_overrides_the_workload_and_the_report_says_so(
    cdk_out: Path, capsys
) -> None:
    assert main(["--cdk-out", str(cdk_out), "--network", "dedicated"]) == 0
    out = capsys.readouterr().out
    assert "Network: dedicated." in out


# -- error edges, each through a real process: one line on stderr, exit 2, no traceback --

REPO = Path(__file__).resolve().parents[2]


def _compare(*args: str, module: bool = True) -> subprocess.CompletedProcess[str]:
    command = (
        [sys.executable, "-m", "comparison"]
        if module
        else [str(Path(sys.executable).parent / "compare")]
    )
    return subprocess.run([*command, *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def _refused(done: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("python -m comparison: ")
    for phrase in phrases:
        assert phrase in lines[0]
    assert done.stdout == ""


@pytest.mark.slow  # process: python -m comparison in a fresh interpreter
def test_a_directory_as_workload_is_refused(tmp_path: Path) -> None:
    _refused(_compare("--workload", str(tmp_path)), f"{tmp_path}: is a directory")


@pytest.mark.slow  # process: python -m comparison in a fresh interpreter
def test_a_path_through_a_file_as_workload_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.toml"
    plain.write_text("")
    _refused(_compare("--workload", str(plain / "w.toml")), "cannot be read")


@pytest.mark.slow  # process: python -m comparison in a fresh interpreter
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_an_unreadable_workload_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.toml"
    secret.write_text("[tasks.generate-report]\nvolume_per_month = 1\n")
    secret.chmod(0)
    _refused(_compare("--workload", str(secret)), "permission denied")


@pytest.mark.slow  # process: python -m comparison in a fresh interpreter
def test_an_empty_workload_cannot_decide_anything(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    _refused(_compare("--workload", str(empty)), "a workload with no tasks cannot decide")


@pytest.mark.slow  # process: python -m comparison in a fresh interpreter
def test_a_workload_whose_tasks_never_run_cannot_decide_anything(tmp_path: Path) -> None:
    idle = tmp_path / "idle.toml"
    idle.write_text("[tasks.generate-report]\nvolume_per_month = 0\n")
    _refused(_compare("--workload", str(idle)), "every task's volume_per_month is 0")


@pytest.mark.slow  # process: python -m comparison in a fresh interpreter
def test_a_directory_as_output_is_refused(tmp_path: Path) -> None:
    _refused(_compare("--output", str(tmp_path)), f"--output {tmp_path} is a directory")


@pytest.mark.slow  # process: python -m comparison in a fresh interpreter
def test_an_output_under_a_file_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("")
    _refused(_compare("--output", str(plain / "report.md")), "is not a writable directory")


@pytest.mark.slow  # process: python -m comparison in a fresh interpreter
def test_an_unwritable_output_is_refused(synthesized) -> None:  # type: ignore[no-untyped-def]
    # /proc refuses new files even to root: the report is made, then cannot be written.
    done = _compare("--cdk-out", str(synthesized.outdir), "--output", "/proc/comparison.md")
    _refused(done, "--output /proc/comparison.md")


@pytest.mark.slow  # process: python -m comparison in a fresh interpreter
def test_usage_names_the_command_it_was_run_as() -> None:
    as_module = _compare("--help")
    assert as_module.stdout.startswith("usage: python -m comparison ")
    assert "`compare` console script" in as_module.stdout
    script = Path(sys.executable).parent / "compare"
    if not script.exists():
        pytest.skip(f"{script} is not installed (pip install -e .)")
    as_script = _compare("--help", module=False)
    assert as_script.stdout.startswith("usage: compare ")
    assert "python -m comparison" in as_script.stdout
    wrong = _compare("--format", "pdf", module=False)
    assert wrong.returncode == 2
    assert wrong.stderr.splitlines() == [
        "compare: argument --format: invalid choice: 'pdf' (choose from 'table', 'markdown', "
        "'json', 'csv', 'html', 'adr'); see compare --help"
    ]
