"""``scripts/diff <topology>``: what the working tree changes in a topology's template,
offline, against the committed snapshot.

It synthesizes the app as the snapshot test does (cdk.json's context, every topology),
normalizes the template with the snapshot test's own function (asset hashes replaced,
so a runtime edit alone shows no churn) and compares it with
``tests/stacks/__snapshots__/test_topologies/test_template_matches_snapshot[<stack>].json``:
one line per resource added or removed, and per changed property path with the
snapshot's value and the new one. No account, credentials or CDK CLI are needed.

Exit 0 when the template matches the snapshot, 1 when it differs (like diff(1)), 2 on
bad arguments or a failed synth. After a deliberate change, update the snapshot with
``pytest tests/stacks/test_topologies.py --snapshot-update``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from comparison.inputs.templates import read_template, template_path
from local.synth import PROJECT_ROOT, SynthError, synthesize_with
from runtime.contract.topology import BY_NAME, TOPOLOGIES, topology_names

SNAPSHOTS = PROJECT_ROOT / "tests" / "stacks" / "__snapshots__" / "test_topologies"
MISSING = object()


def snapshot_path(stack_id: str) -> Path:
    return SNAPSHOTS / f"test_template_matches_snapshot[{stack_id}].json"


def synthesized_templates(outdir: Path) -> dict[str, Any]:
    """Every stack's template, normalized as the snapshot test normalizes it."""
    from tests.stacks.test_topologies import _normalized  # the snapshot test's own rule

    context = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    synthesize_with({**context, "topology": "all"}, outdir)
    return {
        t.stack_id: _normalized(dict(read_template(template_path(outdir, t.stack_id)).document))
        for t in TOPOLOGIES
    }


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def _changes(old: Any, new: Any, path: str) -> Iterator[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            yield from _changes(old.get(key, MISSING), new.get(key, MISSING), f"{path}.{key}")
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for n, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _changes(a, b, f"{path}.{n}")
    elif old is MISSING:
        yield f"    + {path.lstrip('.')}: {_show(new)}"
    elif new is MISSING:
        yield f"    - {path.lstrip('.')}: {_show(old)}"
    elif old != new:
        yield f"    ~ {path.lstrip('.')}: {_show(old)} -> {_show(new)}"


def template_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Resource-level and property-level differences, snapshot (old) to tree (new)."""
    lines: list[str] = []
    for section in sorted(set(old) | set(new)):
        before, after = old.get(section, {}), new.get(section, {})
        if not (isinstance(before, dict) and isinstance(after, dict)):
            lines += [f"{section}:", *_changes(before, after, "")] if before != after else []
            continue
        for name in sorted(set(before) | set(after)):
            a, b = before.get(name, MISSING), after.get(name, MISSING)
            kind = (b if a is MISSING else a).get("Type", "") if section == "Resources" else ""
            label = f"{section} {name}" + (f" ({kind})" if kind else "")
            if a is MISSING:
                lines.append(f"[+] {label}")
            elif b is MISSING:
                lines.append(f"[-] {label}")
            elif a != b:
                lines.append(f"[~] {label}")
                lines += list(_changes(a, b, ""))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/diff",
        description="Show offline what the working tree changes in a topology's template, "
        "against the committed snapshot (no AWS account needed).",
    )
    parser.add_argument("topology", choices=[*topology_names(), "all"])
    parser.add_argument(
        "--snapshot", type=Path, default=None, help="compare with this template instead"
    )
    args = parser.parse_args(argv)
    names = topology_names() if args.topology == "all" else [args.topology]
    if args.snapshot and len(names) != 1:
        parser.error("--snapshot needs one topology")
    try:
        with tempfile.TemporaryDirectory(prefix="diff-cdk.out-") as outdir:
            templates = synthesized_templates(Path(outdir))
    except SynthError as error:
        lines = [line for line in str(error).splitlines() if line.strip()]
        print(f"error: {lines[0]} {lines[-1] if len(lines) > 1 else ''}".rstrip(), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
    differs = False
    for name in names:
        stack_id = BY_NAME[name].stack_id
        path = args.snapshot or snapshot_path(stack_id)
        lines = template_diff(json.loads(path.read_text()), templates[stack_id])
        shown = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
        if lines:
            differs = True
            print(f"{stack_id}: {len([x for x in lines if x[0] == '['])} change(s) against {shown}")
            print("\n".join(lines))
        else:
            print(f"{stack_id}: no differences against {shown}")
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
