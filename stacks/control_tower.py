"""AWS Control Tower's proactive controls at synth, as cfn-guard rules.

Organizations enforce these controls as CloudFormation hooks, so a template that breaks
one is blocked at deploy; ``CfnGuardValidator`` (cdklabs-cdk-validator-cfnguard, rules
and the cfn-guard binary bundled, offline) runs them at synth beside cdk-nag and fails
synth on a finding. A control that does not fit this project is switched off by id here;
README.md's "Control Tower controls exempted" table gives each one's reason, and
tests/stacks/test_control_tower.py keeps the two equal.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import IPolicyValidationPlugin
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

EXEMPT_CONTROLS: tuple[str, ...] = (
    "CT.CLOUDWATCH.PR.2",
    "CT.CLOUDWATCH.PR.3",
    "CT.DYNAMODB.PR.2",
    "CT.ELASTICLOADBALANCING.PR.1",
    "CT.ELASTICLOADBALANCING.PR.5",
    "CT.LAMBDA.PR.3",
    "CT.S3.PR.2",
    "CT.S3.PR.4",
    "CT.S3.PR.9",
    "CT.S3.PR.10",
    "CT.S3.PR.11",
    "CT.SQS.PR.1",
)


def rule_file(control: str) -> str:
    """The bundled rule's file name (what ``disabled_rules`` takes): CT.S3.PR.10 is
    ``ct-s3-pr-10``."""
    return control.lower().replace(".", "-")


def control_tower_checks(exempt: tuple[str, ...] = EXEMPT_CONTROLS) -> IPolicyValidationPlugin:
    """The bundled Control Tower rules, less the ``exempt`` controls."""
    validator = CfnGuardValidator(
        control_tower_rules_enabled=True,
        disabled_rules=[rule_file(control) for control in exempt],
    )
    # The plugin declares CDK's older IPolicyValidationPluginBeta1; its validate() takes
    # and returns the same shapes, and jsii checks interfaces structurally, so
    # Validations.add_plugins runs it (the gate's tests see its findings).
    return cast(IPolicyValidationPlugin, validator)
