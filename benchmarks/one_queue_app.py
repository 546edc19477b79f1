"""Baseline for the synth benchmark: the smallest useful CDK app, one SQS queue."""

from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs

app = App()
sqs.Queue(Stack(app, "OneQueue"), "Queue")
app.synth()
