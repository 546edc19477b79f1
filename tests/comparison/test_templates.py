"""The one template reader: the topology stamp, outputs and the document as read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comparison.errors import TemplateError
from comparison.inputs.templates import parse_template, read_template
from runtime.contract.topology import BY_NAME, ConsumerKind, stamp

LAMBDAS = BY_NAME["lambdas"]


def _stamped(identity_stamp: object) -> dict[str, object]:
    return {"Metadata": {"AsyncTasks": {"topology": identity_stamp}}, "Resources": {}}


def test_a_stamped_stack_is_known_by_its_topology_name_and_kind() -> None:
    template = parse_template(LAMBDAS.stack_id, _stamped(stamp(LAMBDAS)))
    assert template.identity == LAMBDAS
    assert (template.label, template.kind) == ("lambdas", ConsumerKind.LAMBDA)


def test_an_unstamped_stack_is_known_by_its_id_even_if_it_looks_like_a_topology() -> None:
    template = parse_template(LAMBDAS.stack_id, {"Resources": {}})
    assert (template.identity, template.label, template.kind) == (None, LAMBDAS.stack_id, None)


def test_a_stamp_naming_another_stack_is_refused() -> None:
    with pytest.raises(TemplateError, match=r"^Copy: stamped as stack 'AsyncTasks-Lambdas'"):
        parse_template("Copy", _stamped(stamp(LAMBDAS)))


def test_a_malformed_stamp_is_refused_naming_the_stack() -> None:
    with pytest.raises(TemplateError, match=r"^AsyncTasks-Lambdas: topology stamp 'lambdas'"):
        parse_template(LAMBDAS.stack_id, _stamped("lambdas"))


def test_a_template_file_keeps_its_outputs_and_document(tmp_path: Path) -> None:
    document = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"TaskQueueUrl": {"Value": {"Ref": "Queue"}}},
    }
    path = tmp_path / "Stack.template.json"
    path.write_text(json.dumps(document))
    template = read_template(path)
    assert template.stack_id == "Stack"
    assert template.outputs == {"TaskQueueUrl": {"Value": {"Ref": "Queue"}}}
    assert template.document == document
    assert template.resources["Queue"].type == "AWS::SQS::Queue"


def test_an_unreadable_template_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"Missing\.template\.json: cannot be read"):
        read_template(tmp_path / "Missing.template.json")
