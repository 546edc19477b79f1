"""AWS::ElasticLoadBalancingV2::LoadBalancer: ALB-hours all month and LCU-hours from the
requests of the tasks an endpoint service receives (new connections or bytes, the larger)."""

from __future__ import annotations

from comparison.cost.usage.registry import Usage, UsageContext, extracts
from comparison.inputs.assumptions import HOURS_PER_MONTH
from comparison.inputs.patterns import hourly_shares
from comparison.model.resources import LoadBalancerModel
from comparison.model.routing import ConsumerKind


@extracts("AWS::ElasticLoadBalancingV2::LoadBalancer")
def load_balancer(resource: LoadBalancerModel, context: UsageContext) -> list[Usage]:
    if not resource.application:
        return []  # network and gateway load balancers are not modelled
    a = context.assumptions
    lcu_hours = 0.0
    for consumer in context.routing.consumers:
        if consumer.kind is not ConsumerKind.ENDPOINT:
            continue
        for name in consumer.tasks:
            task = context.workload.task(name)
            per_day = task.volume_per_month / (HOURS_PER_MONTH / 24)
            for share in hourly_shares(task.profile):
                requests = per_day * share
                lcu = max(
                    requests / 3600 / a.alb_new_connections_per_lcu_second,
                    requests * task.payload_kib * 1024 / a.alb_processed_bytes_per_lcu_hour,
                )
                lcu_hours += context.monthly(lcu)
    return [
        Usage("elb.alb_hour", HOURS_PER_MONTH, resource.logical_id, "an ALB all month"),
        Usage("elb.lcu_hour", lcu_hours, resource.logical_id, "LCUs from task requests"),
    ]
