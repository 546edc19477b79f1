"""``python -m comparison`` (console script ``compare``): render the comparison report."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from comparison.build import Report, build_report
from comparison.errors import ComparisonError
from comparison.inputs.assumptions import DEFAULT_ASSUMPTIONS
from comparison.inputs.prices import known_regions, load_price_table
from comparison.inputs.scenario import Scenario
from comparison.inputs.templates import load_templates
from comparison.inputs.workload import DEFAULT_WORKLOAD_PATH, Network, load_workload
from comparison.model.topology import topology_models
from comparison.progress import Progress
from comparison.render import FORMATS
from comparison.size.files import DEFAULT_SIZING_DIR

PROG = "compare"
"""The console script; ``python -m comparison`` is the same command."""


class _OneLineParser(argparse.ArgumentParser):
    """A bad argument ends in one line (and exit 2), not argparse's usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}; see {self.prog} --help\n")


def parse_args(argv: Sequence[str] | None, prog: str = PROG) -> argparse.Namespace:
    parser = _OneLineParser(
        prog=prog,
        description="Monthly cost and latency of each synthesized async-task topology. "
        "Run it as `python -m comparison` or as the `compare` console script.",
    )
    parser.add_argument(
        "--workload",
        type=Path,
        default=DEFAULT_WORKLOAD_PATH,
        help="workload TOML (default: the one shipped in the package, "
        "comparison/inputs/workload.toml)",
    )
    parser.add_argument("--region", help="price region (default: the workload's region)")
    parser.add_argument(
        "--network",
        choices=[n.value for n in Network],
        help="where task compute reaches AWS APIs, for all four (default: the workload's)",
    )
    parser.add_argument(
        "--format",
        choices=list(FORMATS),
        default="table",
        help="; ".join(f"{f.name}: {f.help}" for f in FORMATS.values()),
    )
    parser.add_argument(
        "--cdk-out",
        type=Path,
        default=Path("cdk.out"),
        help="cloud assembly with *.template.json (default: cdk.out)",
    )
    parser.add_argument("--output", type=Path, help="write here instead of standard output")
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="FORMAT=PATH",
        type=_also,
        help="also write the same report in FORMAT to PATH (repeatable): one run, one "
        "decision, several formats",
    )
    parser.add_argument(
        "--sizing-dir",
        type=Path,
        help="write each sized option's sizing file, and sizing.json with all of them, to "
        "this directory (`npx cdk synth -c sizing=<file>` synthesizes one)",
    )
    parser.add_argument(
        "--reference-cdk-out",
        type=Path,
        help="cloud assembly of the settings shipped, reported beside the sized options as "
        "the reference (default: --cdk-out); e.g. --cdk-out cdk.out/sized "
        "--reference-cdk-out cdk.out reports from the sized templates",
    )
    parser.add_argument(
        "--as-synthesized",
        action="store_true",
        help="compare the templates as they are, without sizing each option first",
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="vary volume from 1e2 to 1e7 tasks/month and find cross-overs",
    )
    parser.add_argument(
        "--free-tier",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="take the always-free monthly allowances off (default: off)",
    )
    parser.add_argument(
        "--refresh-prices",
        action="store_true",
        help="update the region's price table from the public Price List bulk offer files",
    )
    return parser.parse_args(argv)


def _also(value: str) -> tuple[str, Path]:
    name, _, path = value.partition("=")
    if name not in FORMATS or not path:
        raise argparse.ArgumentTypeError(
            f"'{value}' is not FORMAT=PATH with FORMAT one of {', '.join(FORMATS)}"
        )
    return name, Path(path)


def run(args: argparse.Namespace) -> dict[Path | None, str]:
    """The rendered report per destination (None: standard output)."""
    regions = known_regions()
    workload = load_workload(args.workload, known_regions=regions)
    if args.region:
        if args.region not in regions:
            raise ComparisonError(
                f"--region is '{args.region}'; there is no price table for it. Use one of "
                f"{', '.join(sorted(regions))}"
            )
        workload = workload.with_region(args.region)
    if args.network:
        workload = workload.with_network(Network(args.network))
    if args.refresh_prices:
        from comparison.inputs.price_refresh import refresh_region  # public HTTPS, no credentials

        unchanged = refresh_region(workload.region)
        if unchanged:
            print(
                f"compare: no Price List product found for {', '.join(unchanged)}; "
                "kept the shipped prices",
                file=sys.stderr,
            )
    table = load_price_table(workload.region)
    models = topology_models(load_templates(args.cdk_out), workload, DEFAULT_ASSUMPTIONS)
    reference = (
        topology_models(load_templates(args.reference_cdk_out), workload, DEFAULT_ASSUMPTIONS)
        if args.reference_cdk_out is not None
        else None
    )
    wanted = [FORMATS[args.format], *(FORMATS[name] for name, _ in args.also)]
    progress = Progress()
    scenario = Scenario(
        workload=workload, prices=table, assumptions=DEFAULT_ASSUMPTIONS, free_tier=args.free_tier
    )
    sizing_dir = args.sizing_dir or Path(DEFAULT_SIZING_DIR)
    report = build_report(
        models,
        scenario,
        sweep=args.sweep or any(f.sweep for f in wanted),
        changes=any(f.changes for f in wanted),
        size=not args.as_synthesized,
        reference_models=reference,
        sizing_dir=str(sizing_dir),
        progress=progress,
    )
    progress.done()
    if args.sizing_dir is not None:
        write_sizing(args.sizing_dir, report)
    rendered: dict[Path | None, str] = {args.output: wanted[0].render(report)}
    for (_name, path), chosen in zip(args.also, wanted[1:], strict=True):
        rendered[path] = chosen.render(report)
    return rendered


def write_sizing(directory: Path, report: Report) -> None:
    for name, document in report.sizing_files().items():
        write_output(directory / name, json.dumps(document, indent=2) + "\n", flag="--sizing-dir")
    print(f"{PROG}: wrote the sizing files to {directory}/", file=sys.stderr)


def check_output(path: Path) -> None:
    """Refuse an --output that cannot be written before any work is done."""
    if path.is_dir():
        raise ComparisonError(f"--output {path} is a directory; name a file, e.g. {path}/report")
    parent = next((p for p in (path.parent, *path.parent.parents) if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ComparisonError(f"--output {path}: {parent} is not a writable directory")
    if path.exists() and not os.access(path, os.W_OK):
        raise ComparisonError(f"--output {path}: the file is not writable")


def write_output(path: Path, text: str, flag: str = "--output") -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as error:
        raise ComparisonError(
            f"{flag} {path}: cannot write it ({error.strerror or error})"
        ) from error


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    args = parse_args(argv, prog)
    try:
        for path in (args.output, *(path for _, path in args.also)):
            if path is not None:
                check_output(path)
        rendered = run(args)
        for path, text in rendered.items():
            if path is not None:
                write_output(path, text)
                print(f"{prog}: wrote {path}", file=sys.stderr)
    except ComparisonError as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 2
    if args.output:
        return 0
    try:
        sys.stdout.write(rendered[None])
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader closed the pipe (`compare --format json | head`): end quietly, and keep
        # the interpreter's own flush at exit from raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
