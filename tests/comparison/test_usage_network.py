"""ALB, NAT gateway, interface endpoints, Elastic IPs, CloudWatch and DynamoDB usage."""

from __future__ import annotations

import pytest

from comparison.inputs.workload import Network
from tests.comparison.helpers import (
    day_run,
    event_source,
    extracted,
    ref,
    resource,
    template,
    usage_of,
)


def _networked(**extra):  # type: ignore[no-untyped-def]
    return template(
        {
            "Queue": resource("AWS::SQS::Queue"),
            "Worker": resource("AWS::ECS::Service", {}, role="worker", pollerThreads=1),
            "Nat": resource("AWS::EC2::NatGateway"),
            "Eip": resource("AWS::EC2::EIP"),
            **extra,
        }
    )


def test_shared_network_charges_no_nat_or_eip_hours_only_traffic(workload) -> None:
    usages = extracted(_networked(), workload)
    assert usage_of(usages, "nat.hour") == 0  # the web app's NAT: baseline
    assert usage_of(usages, "ipv4.hour") == 0
    assert usage_of(usages, "nat.gb") > 0


def test_dedicated_network_charges_nat_and_eip_in_full(workload) -> None:
    usages = extracted(_networked(), workload.with_network(Network.DEDICATED))
    assert usage_of(usages, "nat.hour") == 730
    assert usage_of(usages, "ipv4.hour") == 730


def test_web_app_poller_shares_the_web_app_network_even_when_dedicated(workload) -> None:
    stack = template(
        {
            "Queue": resource("AWS::SQS::Queue"),
            "Web": resource("AWS::ECS::Service", {}, role="webapp", pollerThreads=2),
            "Nat": resource("AWS::EC2::NatGateway"),
        }
    )
    assert usage_of(extracted(stack, workload.with_network(Network.DEDICATED)), "nat.hour") == 0


def test_dedicated_interface_endpoint_bills_per_subnet_and_gateway_endpoint_is_free(
    workload,
) -> None:
    stack = template(
        {
            "Queue": resource("AWS::SQS::Queue"),
            "Worker": resource("AWS::ECS::Service", {}, role="worker", pollerThreads=1),
            "Sqs": resource(
                "AWS::EC2::VPCEndpoint",
                {"VpcEndpointType": "Interface", "SubnetIds": [ref("A"), ref("B"), ref("C")]},
            ),
            "S3": resource("AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Gateway"}),
        }
    )
    dedicated = extracted(stack, workload.with_network(Network.DEDICATED))
    assert usage_of(dedicated, "vpce.az_hour") == 3 * 730
    assert usage_of(extracted(stack, workload), "vpce.az_hour") == 0


def test_image_pulls_go_through_the_nat_on_every_task_start(workload) -> None:
    idle = workload.scaled(0)
    usages = extracted(_networked(), idle, runs={"Worker": day_run(starts=2)})
    # 2 starts a day x 730/24 days x 120 MiB (1,048,576 B) = 7.6546 GB
    assert usage_of(usages, "nat.gb") == pytest.approx(2 * 730 / 24 * 120 * 1_048_576 / 1e9)


def test_with_an_s3_gateway_only_the_ecr_api_calls_pass_the_nat(workload, assumptions) -> None:
    """ECR serves image layers ("Amazon ECR interface VPC endpoints (AWS PrivateLink)")
    from Amazon S3, so the S3 gateway endpoint (free, network=nat) carries them; the ECR
    API calls still pass the NAT gateway."""
    stack = _networked(
        S3=resource(
            "AWS::EC2::VPCEndpoint",
            {"VpcEndpointType": "Gateway", "ServiceName": "com.amazonaws.eu-west-2.s3"},
        ),
    )
    usages = extracted(stack, workload.scaled(0), runs={"Worker": day_run(starts=2)})
    # 2 starts a day x 730/24 days x 64 KiB of ECR API calls, not the 120 MiB image
    expected = 2 * 730 / 24 * assumptions.ecr_api_kib_per_pull * 1024 / 1e9
    assert usage_of(usages, "nat.gb") == pytest.approx(expected)
    assert expected < 0.001 * (2 * 730 / 24 * 120 * 1_048_576 / 1e9)


def test_no_image_pull_traffic_when_ecr_and_s3_have_endpoints(workload) -> None:
    join = {"Fn::Join": ["", ["com.amazonaws.", ref("AWS::Region"), ".ecr.dkr"]]}
    stack = _networked(
        Dkr=resource(
            "AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Interface", "ServiceName": join}
        ),
        S3=resource(
            "AWS::EC2::VPCEndpoint",
            {"VpcEndpointType": "Gateway", "ServiceName": "com.amazonaws.eu-west-2.s3"},
        ),
    )
    usages = extracted(stack, workload.scaled(0), runs={"Worker": day_run(starts=2)})
    assert usage_of(usages, "nat.gb") == 0
    assert usage_of(usages, "vpce.gb") == 0


def test_in_vpc_consumer_traffic_goes_through_endpoints_when_there_are_any(workload) -> None:
    resources = {
        "Queue": resource("AWS::SQS::Queue"),
        "Worker": resource("AWS::ECS::Service", {}, role="worker", pollerThreads=1),
        "Nat": resource("AWS::EC2::NatGateway"),
    }
    via_nat = extracted(template(resources), workload)
    assert usage_of(via_nat, "nat.gb") > 0
    resources["Sqs"] = resource(
        "AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Interface", "SubnetIds": [ref("A")]}
    )
    via_endpoint = extracted(template(resources), workload)
    assert usage_of(via_endpoint, "nat.gb") == 0
    assert usage_of(via_endpoint, "vpce.gb") == pytest.approx(usage_of(via_nat, "nat.gb"))


def test_alb_bills_all_month_and_lcus_follow_endpoint_requests(workload) -> None:
    stack = template(
        {
            "Alb": resource("AWS::ElasticLoadBalancingV2::LoadBalancer", {"Type": "application"}),
            "Endpoint": resource("AWS::ECS::Service", {"DesiredCount": 1}, role="endpoint"),
        }
    )
    busy, idle = extracted(stack, workload), extracted(stack, workload.scaled(0))
    assert usage_of(idle, "elb.alb_hour") == 730
    assert usage_of(idle, "elb.lcu_hour") == 0
    assert usage_of(busy, "elb.lcu_hour") > 0


def test_alarms_count_one_each_and_two_per_target_tracking_policy(workload) -> None:
    stack = template(
        {
            "A1": resource("AWS::CloudWatch::Alarm", {"Namespace": "AWS/SQS", "MetricName": "X"}),
            "A2": resource(
                "AWS::CloudWatch::Alarm",
                {"Namespace": "AsyncTasks", "MetricName": "BacklogPerTask"},
            ),
            "Tracking": resource(
                "AWS::ApplicationAutoScaling::ScalingPolicy",
                {
                    "TargetTrackingScalingPolicyConfiguration": {
                        "CustomizedMetricSpecification": {
                            "Namespace": "AsyncTasks",
                            "MetricName": "BacklogPerTask",
                        },
                        "TargetValue": 2,
                    }
                },
            ),
        }
    )
    usages = extracted(stack, workload)
    assert usage_of(usages, "cloudwatch.alarm") == 4
    assert usage_of(usages, "cloudwatch.metric") == 1  # one distinct custom metric


def test_on_demand_table_bills_ledger_requests_per_processed_task(workload) -> None:
    stack = template(
        {
            "Table": resource("AWS::DynamoDB::GlobalTable", {"BillingMode": "PAY_PER_REQUEST"}),
            "Queue": resource("AWS::SQS::Queue"),
            "Fn": resource(
                "AWS::Lambda::Function", {"MemorySize": 128}, role="task", task="generate-report"
            ),
            "Esm": event_source("Fn", "Queue"),
        }
    )
    usages = extracted(stack, workload)
    assert (
        usage_of(usages, "dynamodb.write_request")
        == 2 * workload.task("generate-report").volume_per_month
    )
