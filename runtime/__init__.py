"""Runtime for ADR-0033 asynchronous tasks: ships in the Lambda zip and the container image.

Never import aws_cdk from here.
"""
