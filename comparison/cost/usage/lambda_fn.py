"""AWS::Lambda::Function: requests, GB-seconds (INIT of cold starts included) and logs.

The role comes from the ``AsyncTasks`` metadata: task consumers run the workload; any
other function runs once per run of the schedules that target it and once per event of
the rules that do (the backlog metric every minute; the invoker per task schedule and
per event); the waker at most once per message its service consumes; a backlog-metric
function also calls PutMetricData once per run. Cold starts
are the simulated share of runs that found no warm environment, so never more than runs.
"""

from __future__ import annotations

from comparison.cost.usage.logs import log_ingestion
from comparison.cost.usage.registry import Usage, UsageContext, extracts
from comparison.inputs.assumptions import DAYS_PER_MONTH
from comparison.model.resources import FunctionModel
from comparison.model.routing import ConsumerKind
from comparison.model.triggers import invocations
from comparison.simulate.simulation import ConsumerRun
from runtime.contract import ResourceRole

_MINUTES_PER_MONTH = DAYS_PER_MONTH * 24 * 60


def _compute(
    function: FunctionModel,
    invocations: float,
    seconds: float,
    note: str,
    memory_gb: float | None = None,
) -> list[Usage]:
    """Requests and GB-seconds; ``memory_gb`` defaults to the function's MemorySize."""
    gb_seconds = seconds * (function.memory_gb if memory_gb is None else memory_gb)
    return [
        Usage("lambda.request", invocations, function.logical_id, note),
        Usage(f"lambda.gb_second.{function.architecture}", gb_seconds, function.logical_id, note),
    ]


@extracts("AWS::Lambda::Function")
def lambda_function(function: FunctionModel, context: UsageContext) -> list[Usage]:
    a = context.assumptions
    consumer = context.consumer(function.logical_id)
    if consumer is not None and consumer.kind is ConsumerKind.LAMBDA:
        volume = context.volume(consumer.tasks)
        loads = [context.workload.task(name) for name in consumer.tasks]
        busy = sum(task.volume_per_month * task.duration_seconds for task in loads)
        # The workload's memory_mib sizes the function (by default the catalogue's, which
        # the template's MemorySize was synthesized from).
        gb_busy = sum(
            task.volume_per_month * task.duration_seconds * task.memory_mib / 1024 for task in loads
        )
        memory_gb = gb_busy / busy if busy else None
        cold = volume * _cold_share(context.runs.get(function.logical_id), volume)
        invoked = volume / a.lambda_messages_per_invocation
        note = (
            f"{volume:,.0f} runs of {', '.join(consumer.tasks)}; "
            f"{cold:,.0f} cold starts x {a.lambda_cold_start_seconds:g} s INIT"
        )
        log_bytes = (
            volume * a.log_bytes_per_task + invoked * a.lambda_platform_log_bytes_per_invocation
        )
        return [
            *_compute(
                function, invoked, busy + cold * a.lambda_cold_start_seconds, note, memory_gb
            ),
            log_ingestion(function.logical_id, log_bytes, f"{volume:,.0f} task runs"),
        ]
    if function.role == ResourceRole.WAKER:
        return _waker(function, context)
    found = invocations(context.model.triggers, function.logical_id, context.workload)
    if found is None and function.role != ResourceRole.BACKLOG_METRIC:
        return []  # nothing runs it (e.g. CDK's own custom-resource handlers)
    # A backlog-metric function with no schedule in the stack runs every minute.
    runs = found if found is not None else _MINUTES_PER_MONTH
    cold = runs * _cold_share(context.runs.get(function.logical_id), runs)
    role = function.role or "scheduled"
    note = f"{runs:,.0f} runs x {a.metric_lambda_duration_seconds:g} s ({role})"
    if cold:
        note += f"; {cold:,.0f} cold starts x {a.lambda_cold_start_seconds:g} s INIT"
    seconds = runs * a.metric_lambda_duration_seconds + cold * a.lambda_cold_start_seconds
    usages = _compute(function, runs, seconds, note)
    usages.append(
        log_ingestion(function.logical_id, runs * a.metric_lambda_log_bytes_per_run, note)
    )
    if function.role == ResourceRole.BACKLOG_METRIC:
        usages.append(
            Usage(
                "cloudwatch.api_request",
                runs * a.put_metric_data_per_run,
                function.logical_id,
                "PutMetricData per run",
            )
        )
    return usages


def _waker(function: FunctionModel, context: UsageContext) -> list[Usage]:
    """One run per message the woken service consumes: every enqueue path nudges it.

    An upper bound: the producer nudges at most once per process every 10 s, so a busy
    web app makes far fewer; triggers nudge once per schedule run or event. Each run
    makes two ECS calls (about the metric function's duration)."""
    a = context.assumptions
    tasks = {
        name
        for consumer in context.routing.consumers
        if consumer.kind is ConsumerKind.WORKER
        for name in consumer.tasks
    }
    runs = context.volume(tuple(sorted(tasks)))
    seconds = a.metric_lambda_duration_seconds
    note = f"at most {runs:,.0f} nudges (one per message) x {seconds:g} s (waker)"
    return [
        *_compute(function, runs, runs * seconds, note),
        log_ingestion(function.logical_id, runs * a.metric_lambda_log_bytes_per_run, note),
    ]


def _cold_share(run: ConsumerRun | None, runs: float) -> float:
    """Share of runs with a cold start, as simulated (0 when the function was not)."""
    if run is None or not run.waits or not runs:
        return 0.0
    return min(1.0, run.cold_starts / run.runs_per_day)
