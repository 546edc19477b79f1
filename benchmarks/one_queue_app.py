"""Baseline for the synth benchmark: the smallest useful CDK app, one SQS queue.

With ``--with-checks`` it runs the same cdk-nag packs as the project's app, and with
``--without-builtin-validation`` it turns CDK's CloudFormation validator off as the
project's app does; together they isolate the cost of the topologies. The queue has a
DLQ and TLS-only policies so that it passes the checks.
"""

import sys

from aws_cdk import Acknowledgment, App, Stack, Validations
from aws_cdk import aws_sqs as sqs

app = App(builtin_cloud_formation_validation="--without-builtin-validation" not in sys.argv)
stack = Stack(app, "OneQueue")
dead_letters = sqs.Queue(stack, "DeadLetterQueue", enforce_ssl=True)
sqs.Queue(
    stack,
    "Queue",
    enforce_ssl=True,
    dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=5),
)
if "--with-checks" in sys.argv:
    from cdk_nag import AwsSolutionsChecks, ServerlessChecks

    Validations.of(dead_letters.node.default_child).acknowledge(  # type: ignore[arg-type]
        Acknowledgment(id="Serverless-SQSRedrivePolicy", reason="It is the DLQ.")
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
app.synth()
