"""The alarm every dead-letter queue gets: any message in it means lost work."""

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from task_constructs.core import defaults


def not_empty_alarm(
    scope: Construct, construct_id: str, queue: sqs.IQueue, description: str
) -> cloudwatch.Alarm:
    """Alarm as soon as ``queue`` holds a visible message; OK once it is drained."""
    return cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_description=description,
        metric=queue.metric_approximate_number_of_messages_visible(
            period=defaults.ALARM_PERIOD, statistic="Maximum"
        ),
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
