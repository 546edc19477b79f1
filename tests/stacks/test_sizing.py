"""The sizing file synthesizes: ``-c sizing=<file>`` round-trips through the comparison.

The comparison sizes an option on its model (``comparison.model.sizing.apply_sizing``)
and hands the sizing back as a file; these tests synthesize such a file for every
topology and check that the template states that sizing and models exactly as
``apply_sizing`` assumed. Then the refusals: one line for a bad file, bad JSON, a bad
key, an unknown task, or threads that do not fit their container.

AWS pages behind the checks: Fargate's task sizes ("Amazon ECS task definition
parameters for Fargate", Task size), Lambda's ``MemorySize`` and an SQS event
source's ``ScalingConfig.MaximumConcurrency`` ("Configuring maximum concurrency for
Amazon SQS event sources").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from comparison.inputs.templates import StackTemplate, parse_template
from comparison.model.resources import FunctionModel, ServiceModel
from comparison.model.routing import ConsumerKind
from comparison.model.sizing import TopologySizing, apply_sizing, stated_sizing
from comparison.model.topology import TopologyModel, topology_model
from runtime.catalogue import CATALOGUE
from runtime.contract import (
    ENDPOINT_CONCURRENCY_ENV,
    ENDPOINT_WORKERS_DETAIL,
    METADATA_KEY,
    POLLER_CONCURRENCY_ENV,
    POLLER_THREADS_DETAIL,
    ResourceRole,
)
from runtime.contract.fargate import WEB_APP_MIN_OWN_MIB, is_valid_size
from runtime.contract.sizing import (
    LambdasSizing,
    PrivateEndpointsSizing,
    TaskFunctionSizing,
    WebappPollerSizing,
    WebAppSizing,
    WorkerServiceSizing,
    parse_sizing,
    section_document,
)
from stacks.settings import SettingsError, TopologySettings
from stacks.sizing import lambdas_catalogue, resized_catalogue
from stacks.topologies import TOPOLOGIES, add_topologies, new_app
from tests.conftest import PROJECT_ROOT, SynthesizedApp, cdk_json_context

TASKS = tuple(CATALOGUE)
LARGEST_TASK_MIB = max(task.memory_mib for task in CATALOGUE.values())

# Every value away from the stack defaults, each container big enough for its threads.
SECTIONS: dict[str, TopologySizing] = {
    "lambdas": LambdasSizing(
        tasks={
            "virus-scan-result": TaskFunctionSizing(max_concurrency=3, memory_mib=512),
            "property-bulk-upload": TaskFunctionSizing(max_concurrency=7, memory_mib=2048),
            "generate-report": TaskFunctionSizing(max_concurrency=4, memory_mib=1536),
            "send-bulk-email": TaskFunctionSizing(max_concurrency=12, memory_mib=768),
            "email-feedback": TaskFunctionSizing(max_concurrency=2, memory_mib=128),
        }
    ),
    "worker-service": WorkerServiceSizing(
        max_tasks=9,
        cpu=1024,
        memory_mib=8192,
        worker_threads=8,
        acceptable_latency_seconds=600,
        web_app=WebAppSizing(cpu=1024, memory_mib=2048, min_tasks=2, max_tasks=6),
    ),
    "webapp-poller": WebappPollerSizing(
        poller_threads=3,
        web_app=WebAppSizing(cpu=1024, memory_mib=4096, min_tasks=2, max_tasks=7),
    ),
    "private-endpoints": PrivateEndpointsSizing(
        min_tasks=2,
        max_tasks=5,
        cpu=1024,
        memory_mib=6144,
        request_concurrency=5,
        web_app=WebAppSizing(cpu=256, memory_mib=512, min_tasks=1, max_tasks=3),
    ),
}


def _synth(tmp_path: Path, topology: str, sizing: object) -> dict[str, StackTemplate]:
    app = new_app(
        context={**cdk_json_context(), "topology": topology, "sizing": sizing},
        outdir=str(tmp_path),
    )
    add_topologies(app)
    return {
        TOPOLOGIES_BY_ID[artifact.stack_name]: parse_template(
            artifact.stack_name, artifact.template
        )
        for artifact in app.synth().stacks
    }


TOPOLOGIES_BY_ID = {topology.stack_id: name for name, topology in TOPOLOGIES.items()}


def _model(template: StackTemplate) -> TopologyModel:
    return topology_model(template, TASKS)


@pytest.fixture(scope="module")
def sizing_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sizing") / "sizing.json"
    document = {name: section_document(section) for name, section in SECTIONS.items()}
    path.write_text(json.dumps(document, indent=2))
    return path


@pytest.fixture(scope="module")
def sized(tmp_path_factory: pytest.TempPathFactory, sizing_file: Path) -> dict[str, StackTemplate]:
    """Every topology synthesized once with the sizing file (~5 s)."""
    return _synth(tmp_path_factory.mktemp("sized.out"), "all", str(sizing_file))


@pytest.fixture(scope="module")
def shipped(synthesized: SynthesizedApp) -> dict[str, StackTemplate]:
    return {
        TOPOLOGIES_BY_ID[stack_id]: parse_template(stack_id, document)
        for stack_id, document in synthesized.templates.items()
    }


# -- the round trip ------------------------------------------------------------------------


def test_the_sizing_file_is_the_one_parse_sizing_reads(sizing_file: Path) -> None:
    sizing = parse_sizing(json.loads(sizing_file.read_text()))
    assert sizing.lambdas == SECTIONS["lambdas"]
    assert sizing.worker_service == SECTIONS["worker-service"]
    assert sizing.webapp_poller == SECTIONS["webapp-poller"]
    assert sizing.private_endpoints == SECTIONS["private-endpoints"]


@pytest.mark.parametrize("topology", list(SECTIONS))
def test_the_sized_template_states_the_sizing_written(
    sized: dict[str, StackTemplate], topology: str
) -> None:
    assert stated_sizing(_model(sized[topology])) == SECTIONS[topology]


@pytest.mark.parametrize("topology", list(SECTIONS))
def test_the_shipped_template_does_not_already_state_it(
    shipped: dict[str, StackTemplate], topology: str
) -> None:
    # Otherwise the round trip above would prove nothing.
    assert stated_sizing(_model(shipped[topology])) != SECTIONS[topology]


def _figures(model: TopologyModel) -> dict[str, Any]:
    """What the comparison costs and simulates a sizing by: each consumer's threads,
    every service's size, task range, tracking targets and desired count, and every
    function's memory and concurrency cap."""
    services = {
        s.logical_id: (
            s.vcpu,
            s.memory_gb,
            s.desired_count,
            s.scaling.min_capacity if s.scaling else None,
            s.scaling.max_capacity if s.scaling else None,
            tuple(t.target for t in s.scaling.tracking) if s.scaling else (),
        )
        for s in model.of_kind(ServiceModel)
    }
    functions = {
        f.logical_id: (f.memory_mib, f.max_concurrency) for f in model.of_kind(FunctionModel)
    }
    consumers = {
        c.logical_id: (c.kind, c.tasks, c.threads_per_unit) for c in model.routing.consumers
    }
    return {"services": services, "functions": functions, "consumers": consumers}


@pytest.mark.parametrize("topology", list(SECTIONS))
def test_apply_sizing_models_the_sized_template(
    shipped: dict[str, StackTemplate], sized: dict[str, StackTemplate], topology: str
) -> None:
    # GIVEN the shipped template's model, sized as the comparison sizes it
    assumed = apply_sizing(_model(shipped[topology]), SECTIONS[topology])
    # THEN it is the model of the template synthesized with that sizing
    assert _figures(assumed) == _figures(_model(sized[topology]))
    # and the sizing changed something the comparison reads
    assert _figures(assumed) != _figures(_model(shipped[topology]))


def test_the_worker_tracks_the_backlog_target_apply_sizing_derives(
    sized: dict[str, StackTemplate],
) -> None:
    worker = next(
        c
        for c in _model(sized["worker-service"]).routing.consumers
        if c.kind is ConsumerKind.WORKER
    )
    assert isinstance(worker.resource, ServiceModel) and worker.resource.scaling is not None
    (tracking,) = worker.resource.scaling.tracking
    # 600 s of latency, 8 threads, the catalogue's mean task of 96.6 s: 49.68 a task.
    mean = sum(t.expected_duration_seconds for t in CATALOGUE.values()) / len(CATALOGUE)
    assert tracking.target == pytest.approx(600 / mean * 8, abs=0.01)


# -- what the containers run -----------------------------------------------------------


def _services(template: StackTemplate) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Role -> (the service's AsyncTasks metadata, its one container definition)."""
    found = {}
    for service in template.of_type("AWS::ECS::Service"):
        definition = template.resources[service.properties["TaskDefinition"]["Ref"]]
        (container,) = definition.properties["ContainerDefinitions"]
        mark = service.metadata.get(METADATA_KEY, {})
        found[mark.get("role")] = (mark, {**container, "Cpu": definition.properties["Cpu"]})
    return found


def _environment(container: dict[str, Any]) -> dict[str, Any]:
    return {variable["Name"]: variable["Value"] for variable in container["Environment"]}


def _option(command: list[Any], name: str) -> int:
    return int(command[command.index(name) + 1])


@pytest.mark.parametrize("which", ["shipped", "sized"])
def test_the_threads_stated_are_the_threads_the_runtime_runs(
    request: pytest.FixtureRequest, which: str
) -> None:
    templates: dict[str, StackTemplate] = request.getfixturevalue(which)
    mark, worker = _services(templates["worker-service"])[ResourceRole.WORKER.value]
    assert _option(worker["Command"], "--concurrency") == mark[POLLER_THREADS_DETAIL]

    mark, web_app = _services(templates["webapp-poller"])[ResourceRole.WEBAPP.value]
    assert int(_environment(web_app)[POLLER_CONCURRENCY_ENV]) == mark[POLLER_THREADS_DETAIL]

    # Each gunicorn worker process of the endpoints has its own pool (runtime.web._runner).
    mark, endpoints = _services(templates["private-endpoints"])[ResourceRole.ENDPOINT.value]
    processes = _option(endpoints["Command"], "--workers")
    threads = int(_environment(endpoints)[ENDPOINT_CONCURRENCY_ENV])
    assert processes * threads == mark[ENDPOINT_WORKERS_DETAIL]


def _runs_held(role: str, mark: dict[str, Any]) -> tuple[int, int]:
    """(concurrent task runs, memory kept besides them) of a service's container."""
    if role == ResourceRole.ENDPOINT.value:
        return mark[ENDPOINT_WORKERS_DETAIL], 0
    if role == ResourceRole.WEBAPP.value:
        return mark.get(POLLER_THREADS_DETAIL, 0), WEB_APP_MIN_OWN_MIB
    return mark[POLLER_THREADS_DETAIL], 0


@pytest.mark.parametrize("which", ["shipped", "sized"])
@pytest.mark.parametrize("topology", ["worker-service", "webapp-poller", "private-endpoints"])
def test_every_container_holds_its_runs_of_the_largest_task_in_a_fargate_size(
    request: pytest.FixtureRequest, which: str, topology: str
) -> None:
    # "Amazon ECS task definition parameters for Fargate" (Task size): only the table's
    # CPU/memory pairs register. Each run may take the largest task's memory_mib.
    templates: dict[str, StackTemplate] = request.getfixturevalue(which)
    services = _services(templates[topology])
    assert services
    for role, (mark, container) in services.items():
        cpu, memory = int(container["Cpu"]), container["Memory"]
        assert is_valid_size(cpu, memory), f"{topology} {role}: {cpu} CPU with {memory} MiB"
        runs, own = _runs_held(role, mark)
        assert memory >= runs * LARGEST_TASK_MIB + (own if runs else 0), (topology, role)


def test_the_shipped_containers_keep_their_documented_sizes(
    shipped: dict[str, StackTemplate],
) -> None:
    # The documented defaults (README, "Default settings"; stacks/sizing.py): 0.5 vCPU,
    # with 4 GiB for four runs of 1 GiB and 3 GiB for two poller threads and the web app.
    sizes = {
        (topology, role): (int(container["Cpu"]), container["Memory"])
        for topology in ("worker-service", "webapp-poller", "private-endpoints")
        for role, (_, container) in _services(shipped[topology]).items()
    }
    assert sizes[("worker-service", "worker")] == (512, 4096)
    assert sizes[("private-endpoints", "endpoint")] == (512, 4096)
    assert sizes[("webapp-poller", "webapp")] == (512, 3072)
    assert sizes[("worker-service", "webapp")] == (512, 1024)


# -- the other ways in -----------------------------------------------------------------


@pytest.fixture(scope="module")
def lambdas_only(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StackTemplate]:
    """lambdas alone, from inline JSON that gives generate-report 2 GiB and holds a
    worker-service section that would be refused (8 threads in the default 4 GiB)."""
    inline = json.dumps(
        {"taskMemoryMiB": {"generate-report": 2048}, "worker-service": {"workerThreads": 8}}
    )
    return _synth(tmp_path_factory.mktemp("lambdas.out"), "lambdas", inline)


def test_task_memory_from_inline_json_sets_the_lambda_memory(
    lambdas_only: dict[str, StackTemplate],
) -> None:
    functions = {
        f.task: f.memory_mib
        for f in _model(lambdas_only["lambdas"]).of_kind(FunctionModel)
        if f.role == ResourceRole.TASK.value and f.task is not None
    }
    assert functions["generate-report"] == 2048
    others = {name: mib for name, mib in functions.items() if name != "generate-report"}
    assert others == {n: CATALOGUE[n].memory_mib for n in others}


def test_a_section_for_a_topology_not_synthesized_is_ignored(
    lambdas_only: dict[str, StackTemplate],
) -> None:
    assert list(lambdas_only) == ["lambdas"]


def test_the_lambdas_section_wins_over_task_memory_and_keeps_what_it_leaves_out() -> None:
    sizing = parse_sizing(
        {
            "taskMemoryMiB": {"generate-report": 2048},
            "lambdas": {"tasks": {"generate-report": {"memoryMiB": 512}}},
        }
    )
    report = lambdas_catalogue(resized_catalogue(CATALOGUE, sizing), sizing.lambdas)[
        "generate-report"
    ]
    assert report.memory_mib == 512
    assert report.max_concurrency == CATALOGUE["generate-report"].max_concurrency


def _settings(sizing: object) -> TopologySettings:
    return TopologySettings.from_context(new_app(context={"sizing": sizing}).node)


def test_a_json_object_in_cdk_json_is_a_sizing() -> None:
    document = {"webapp-poller": {"pollerThreads": 1}}
    assert _settings(document).sizing == parse_sizing(document)


def test_a_relative_path_is_read_from_where_synth_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mine.json").write_text('{"private-endpoints": {"maxTasks": 6}}')
    monkeypatch.chdir(tmp_path)
    sizing = _settings("mine.json").sizing
    assert sizing.private_endpoints == PrivateEndpointsSizing(max_tasks=6)


def test_no_sizing_is_every_default() -> None:
    assert _settings(None).sizing == parse_sizing({})


def _refusal(sizing: object, topology: str = "all") -> str:
    app = new_app(context={**cdk_json_context(), "topology": topology, "sizing": sizing})
    with pytest.raises(SettingsError) as raised:
        add_topologies(app)
    message = str(raised.value)
    assert "\n" not in message and message.startswith("context 'sizing'")
    return message


def test_a_missing_file_is_refused_in_one_line(tmp_path: Path) -> None:
    message = _refusal(str(tmp_path / "nope.json"))
    assert "nope.json" in message and "not a file" in message


def test_a_file_that_is_not_json_is_refused_with_where(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"lambdas": }')
    message = _refusal(str(path))
    assert "broken.json is not JSON" in message and "line 1 column 13" in message


def test_a_file_that_is_not_text_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "sizing.json"
    path.write_bytes(b"\xff\xfe{}")
    assert "cannot be read (it is not UTF-8 text)" in _refusal(str(path))


def test_an_unknown_key_is_refused_naming_the_valid_ones() -> None:
    message = _refusal({"worker-service": {"maxTask": 3}})
    assert "'worker-service.maxTask' is not a setting" in message
    assert "maxTasks" in message


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"taskMemoryMiB": {"make-coffee": 512}}, "'taskMemoryMiB.make-coffee' is not a task"),
        (
            {"lambdas": {"tasks": {"make-coffee": {"maxConcurrency": 3}}}},
            "'lambdas.tasks.make-coffee' is not a task",
        ),
    ],
)
def test_an_unknown_task_is_refused_naming_the_tasks(document: object, key: str) -> None:
    message = _refusal(document, "lambdas")
    assert key in message
    assert all(name in message for name in CATALOGUE)


@pytest.mark.parametrize(
    ("document", "key", "smallest"),
    [
        # 4 threads of 1 GiB in 2 GiB: the memory given is named.
        (
            {"worker-service": {"cpu": 512, "memoryMiB": 2048}},
            "'worker-service.memoryMiB' is 2048",
            4096,
        ),
        # 8 threads in the default 4 GiB: the threads given are named.
        ({"worker-service": {"workerThreads": 8}}, "'worker-service.workerThreads' is 8", 8192),
        # 4 poller threads and the web app's own 512 MiB in the default 3 GiB.
        ({"webapp-poller": {"pollerThreads": 4}}, "'webapp-poller.pollerThreads' is 4", 4608),
        # A larger task: the default 4 endpoint runs no longer fit 4 GiB.
        (
            {"taskMemoryMiB": {"generate-report": 2048}},
            "'taskMemoryMiB.generate-report' is 2048",
            8192,
        ),
    ],
)
def test_threads_that_do_not_fit_are_refused_with_the_smallest_memory(
    document: object, key: str, smallest: int
) -> None:
    message = _refusal(document)
    assert key in message
    assert f"need {smallest} MiB" in message


def test_inverted_task_range_with_a_default_is_refused() -> None:
    message = _refusal({"private-endpoints": {"minTasks": 6}}, "private-endpoints")
    assert "'private-endpoints' runs 6..4 tasks" in message


@pytest.mark.slow  # end-to-end: app.py in a fresh process (~10 s)
def test_app_py_turns_a_bad_sizing_into_one_line(tmp_path: Path) -> None:
    # GIVEN the CDK CLI's way of passing context, with a worker that cannot hold its threads
    path = tmp_path / "sizing.json"
    path.write_text(json.dumps({"worker-service": {"workerThreads": 8}}))
    context = {**cdk_json_context(), "topology": "worker-service", "sizing": str(path)}
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # THEN it exits 1 with one line naming the key, the value and the smallest memory
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: context 'sizing': 'worker-service.workerThreads' is 8")
    assert "need 8192 MiB" in last
    assert "Traceback" not in result.stderr
