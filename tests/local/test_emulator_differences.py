"""local-deploy lists what the emulator changed or dropped, read back from it."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest

from local.differences import differences, report_lines
from local.model import LocalDeployment
from stacks.topologies import TOPOLOGIES

pytestmark = pytest.mark.slow


def test_lambdas_lists_the_architecture_the_ttl_and_the_public_access_block(
    deployed: Callable[[str], LocalDeployment],
) -> None:
    deployment = deployed("lambdas")
    lines = "\n".join(deployment.differences)
    print("\n" + lines)

    assert (
        '(AWS::Lambda::Function) Architectures: template ["arm64"], the emulator ["x86_64"]'
        in lines
    )
    assert (
        "DataTaskTable140D4802 (AWS::DynamoDB::Table) TimeToLiveSpecification.Enabled: "
        "template true, the emulator false" in lines
    )
    assert (
        "(AWS::S3::Bucket) PublicAccessBlockConfiguration.BlockPublicAcls: template true, "
        "the emulator has none" in lines
    )


def test_the_list_is_read_back_from_the_emulator_not_kept_by_hand(
    deployed: Callable[[str], LocalDeployment],
) -> None:
    # GIVEN the uploads bucket's public access block, missing in the emulator
    deployment = deployed("webapp-poller")
    bucket = deployment.stack.outputs["UploadsBucketName"]
    logical_id = "DataUploadsBucketF0C3B642"

    def uploads_block() -> list[str]:
        return [
            f.path
            for f in differences(deployment.stack, deployment.template_path)
            if f.logical_id == logical_id and f.path.startswith("PublicAccessBlock")
        ]

    assert len(uploads_block()) == 4
    # WHEN it is put in place with the S3 API THEN it is no longer listed
    boto3.client("s3").put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
    )
    assert uploads_block() == []
    # AND a value set otherwise than the template says is listed as changed
    boto3.client("s3").put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
    )
    assert [
        line
        for line in report_lines(differences(deployment.stack, deployment.template_path))
        if line.startswith(f"CHANGED {logical_id}")
    ] == [
        f"CHANGED {logical_id} (AWS::S3::Bucket) PublicAccessBlockConfiguration.BlockPublicAcls: "
        "template true, the emulator false"
    ]


@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
def test_every_topology_reports_its_differences_and_can_read_each_resource_back(
    deployed: Callable[[str], LocalDeployment], topology: str
) -> None:
    deployment = deployed(topology)
    print(f"\n{deployment.stack.name}:\n  " + "\n  ".join(deployment.differences))
    assert deployment.differences
    assert not [line for line in deployment.differences if line.startswith("UNVERIFIED")]
