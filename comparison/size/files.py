"""The sizing files the comparison writes: one per option it could size, and one with
every sized option that names the chosen one (``npx cdk synth -c sizing=<file>``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from comparison.size.search import SizedOption
from runtime.contract.sizing import Sizing, sizing_document

DEFAULT_SIZING_DIR: Final = "cdk.out/sizing"
ALL_OPTIONS_FILE: Final = "sizing.json"


def option_file(label: str) -> str:
    """The file of one option's sizing, in the sizing directory."""
    return f"{label}.json"


def _sizing(
    options: Sequence[SizedOption],
    task_memory: Mapping[str, int],
    description: str,
    chosen: str | None,
) -> Sizing:
    sections: dict[str, Any] = {}
    for option in options:
        if option.sizing is not None:
            sections[option.label.replace("-", "_")] = option.sizing
    return Sizing(
        **sections,
        task_memory_mib=dict(task_memory),
        description=description,
        chosen=chosen,
    )


def sizing_documents(
    options: Sequence[SizedOption],
    *,
    task_memory: Mapping[str, int],
    description: str,
    chosen: str | None,
) -> dict[str, dict[str, Any]]:
    """File name -> JSON document: each sized option alone, then all of them."""
    documents = {
        option_file(option.label): sizing_document(
            _sizing(
                [option],
                task_memory,
                description,
                option.label if option.label == chosen else None,
            )
        )
        for option in options
        if option.sizing is not None
    }
    documents[ALL_OPTIONS_FILE] = sizing_document(
        _sizing(options, task_memory, description, chosen)
    )
    return documents
