"""Deployment settings read from CDK context, once, with one-line errors.

Every key is checked here, so a bad value fails synth with one line that names the
key, the value received and the fix, never with a traceback from deep in the CDK.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from constructs import Node

from runtime.catalogue import TaskCatalogue
from runtime.contract import UNAVAILABLE_TASKS_ENV
from runtime.contract.sizing import Sizing, SizingError, load_sizing
from stacks.images import FargateArchitecture, ImageSource, parse_ecr_image
from task_constructs.task_network import AwsApiAccess, ExistingVpc

DEFAULT_REGION = "eu-west-2"

# Commercial, China and GovCloud region names: eu-west-2, cn-north-1, us-gov-west-1.
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")
# A registry host (optional), a path and an optional tag or digest; no spaces.
_IMAGE_URI = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")


@dataclass(frozen=True)
class TopologyProps:
    """What every topology stack is built from: the task catalogue and the settings."""

    catalogue: TaskCatalogue
    settings: TopologySettings


class SettingsError(ValueError):
    """A context value is malformed; the message names the key, the value and the fix."""


@dataclass(frozen=True, kw_only=True)
class TopologySettings:
    """What every topology stack reads from context.

    - ``webappImage``: an image URI for the web app and workers. Default: the
      project's image, built from ``container/Dockerfile`` at deploy (synth needs
      no Docker). ECR URIs are pulled with the execution role's ECR grants.
    - ``webappImageCredentials``: the Secrets Manager secret ARN with the username and
      password of a private non-ECR registry. Default: none.
    - ``fargateArchitecture``: ``x86_64`` (default) or ``arm64``; every ECS task
      definition and the project image built for it.
    - ``network``: ``nat`` (default) or ``endpoints``; see ``task_constructs/task_network.py``.
    - ``vpcId`` with ``availabilityZones`` and ``privateSubnetIds`` (lists or
      comma-separated): use an existing VPC. ``availabilityZones`` alone names the
      zones of a new VPC, so a stack with an ``account`` synthesizes without a look-up.
    - ``malwareProtection``: ``true`` to add a GuardDuty Malware Protection plan on
      the uploads bucket (billed per GB scanned). Default: false.
    - ``emailSender``: the verified SES identity bulk email is sent as. Default: none;
      the producer then refuses email tasks, naming the missing setting.
    - ``alarmEmail`` and ``alarmTopicArn`` (either or both): who hears of every alarm,
      on ALARM and on OK. Default: neither; alarms notify the stack's own topic, which
      has no subscriber, and synth says so in one line.
    - ``noncurrentVersionDays``: days the uploads bucket keeps overwritten or deleted
      versions. Default: 30.
    - ``wakeOnEnqueue``: ``false`` to leave out worker-service's waker, so the service
      wakes from zero only through the backlog metric's wake-up alarm (a minute or
      two). Default: true; the producer and every trigger nudge the waker.
    - ``sizing``: each topology's capacity and sizes (``runtime/contract/sizing.py``):
      the path of a JSON file (relative to where ``cdk synth`` runs), inline JSON, or
      an object in ``cdk.json``. A section for a topology not synthesized is ignored;
      an absent field keeps the stack default (``stacks/sizing.py``). Default: none,
      every topology at its defaults.
    """

    image: ImageSource = field(default_factory=ImageSource)
    aws_api_access: AwsApiAccess = AwsApiAccess.NAT
    existing_vpc: ExistingVpc | None = None
    availability_zones: tuple[str, ...] | None = None
    malware_protection: bool = False
    email_sender: str | None = None
    alarm_email: str | None = None
    alarm_topic_arn: str | None = None
    noncurrent_version_days: int | None = None
    sizing: Sizing = field(default_factory=Sizing)
    wake_on_enqueue: bool = True

    def unavailable_tasks(self, catalogue: TaskCatalogue) -> tuple[str, ...]:
        """Tasks these settings cannot run: the email tasks without ``emailSender``."""
        if self.email_sender is not None:
            return ()
        return tuple(sorted(task.name for task in catalogue.values() if task.sends_email))

    def producer_environment(self, catalogue: TaskCatalogue) -> dict[str, str]:
        """What a producer needs to refuse those tasks at once (``runtime.producer``)."""
        unavailable = self.unavailable_tasks(catalogue)
        return {UNAVAILABLE_TASKS_ENV: ",".join(unavailable)} if unavailable else {}

    @property
    def webapp_image(self) -> str | None:
        return self.image.uri

    @property
    def architecture(self) -> FargateArchitecture:
        return self.image.architecture

    @classmethod
    def from_context(cls, node: Node) -> TopologySettings:
        network = _choice(node, "network", [access.value for access in AwsApiAccess], "nat")
        zones = _optional_list(node, "availabilityZones")
        existing = None
        if node.try_get_context("vpcId"):
            if zones is None:
                raise SettingsError(
                    "context 'vpcId' needs 'availabilityZones' too (a list or comma-separated)"
                )
            existing = ExistingVpc(
                vpc_id=str(node.try_get_context("vpcId")),
                availability_zones=zones,
                private_subnet_ids=_required_list(node, "privateSubnetIds"),
            )
        sender = node.try_get_context("emailSender")
        if sender is not None and not _EMAIL.match(str(sender)):
            raise SettingsError(
                f"context 'emailSender' is '{sender}'; use an email address, e.g. tasks@example.com"
            )
        if sender is not None and network == AwsApiAccess.ENDPOINTS.value:
            # The runtime sends through the SES v2 API (sesv2:SendEmail), whose host
            # email.<region>.amazonaws.com has no VPC interface endpoint; SES offers
            # one only for SMTP (com.amazonaws.<region>.email-smtp). See
            # "Setting up VPC endpoints with Amazon SES" in the SES developer guide.
            raise SettingsError(
                f"context 'emailSender' is '{sender}' with 'network' 'endpoints'; the SES API "
                "that bulk email calls has no VPC endpoint. Use -c network=nat, or drop "
                "emailSender"
            )
        image = _image(node)
        if network == AwsApiAccess.ENDPOINTS.value:
            _refuse_unreachable_image(image, region_from_context(node))
        return cls(
            image=image,
            aws_api_access=AwsApiAccess(network),
            existing_vpc=existing,
            availability_zones=tuple(zones) if zones is not None and existing is None else None,
            malware_protection=_flag(node, "malwareProtection"),
            email_sender=str(sender) if sender is not None else None,
            alarm_email=_matching(
                node, "alarmEmail", _EMAIL, "an email address, e.g. ops@example.com"
            ),
            alarm_topic_arn=_matching(
                node,
                "alarmTopicArn",
                _TOPIC_ARN,
                "an SNS topic ARN, e.g. arn:aws:sns:eu-west-2:123456789012:ops-alarms",
            ),
            noncurrent_version_days=_positive_int(node, "noncurrentVersionDays"),
            sizing=_sizing(node),
            wake_on_enqueue=_flag(node, "wakeOnEnqueue", default=True),
        )


def region_from_context(node: Node) -> str:
    region = str(node.try_get_context("region") or DEFAULT_REGION)
    if not _REGION.match(region):
        raise SettingsError(
            f"context 'region' is '{region}'; use an AWS region name such as eu-west-2"
        )
    return region


def account_from_context(node: Node) -> str | None:
    account = node.try_get_context("account")
    if account is None or account == "":
        return None
    if not _ACCOUNT.match(str(account)):
        raise SettingsError(
            f"context 'account' is '{account}'; use the 12-digit AWS account id, e.g. "
            "123456789012, or leave it out for an environment-agnostic stack"
        )
    return str(account)


def offline_synth_hint(node: Node, *, needs_vpc: bool) -> str | None:
    """What to pass so synth needs no AWS look-up, when the context would cause one.

    With a concrete account, a new VPC asks the CDK CLI to look up the region's
    availability zones, which needs credentials.
    """
    if not needs_vpc or account_from_context(node) is None:
        return None
    if node.try_get_context("vpcId") or node.try_get_context("availabilityZones"):
        return None
    region = region_from_context(node)
    return (
        f"context 'account' with an ECS topology makes the CDK look up {region}'s "
        f"availability zones, which needs AWS credentials; to synthesize offline add "
        f"-c availabilityZones={region}a,{region}b"
    )


def _image(node: Node) -> ImageSource:
    architecture = FargateArchitecture(
        _choice(
            node,
            "fargateArchitecture",
            [value.value for value in FargateArchitecture],
            FargateArchitecture.X86_64.value,
        )
    )
    raw = node.try_get_context("webappImage")
    credentials = node.try_get_context("webappImageCredentials")
    if raw is None:
        if credentials is not None:
            raise SettingsError(
                "context 'webappImageCredentials' is set without 'webappImage'; give the "
                "private registry's image URI too"
            )
        return ImageSource(architecture=architecture)
    uri = str(raw).strip()
    if not uri or not _IMAGE_URI.match(uri):
        raise SettingsError(
            f"context 'webappImage' is '{raw}'; use an image URI such as "
            "123456789012.dkr.ecr.eu-west-2.amazonaws.com/webapp:1.4.2"
        )
    if credentials is not None:
        if parse_ecr_image(uri) is not None:
            raise SettingsError(
                f"context 'webappImageCredentials' is set for the ECR image '{uri}'; ECR "
                "pulls use the execution role's grants, so leave it out"
            )
        if not _SECRET_ARN.match(str(credentials)):
            raise SettingsError(
                f"context 'webappImageCredentials' is '{credentials}'; use the full ARN of a "
                "Secrets Manager secret holding the registry's username and password"
            )
    return ImageSource(
        uri=uri,
        credentials_secret_arn=str(credentials) if credentials is not None else None,
        architecture=architecture,
    )


def _refuse_unreachable_image(image: ImageSource, region: str) -> None:
    """With no internet route, tasks reach only this region's ECR, through the
    ``ecr.api`` and ``ecr.dkr`` endpoints and the S3 gateway ("Amazon ECR interface VPC
    endpoints (AWS PrivateLink)": the endpoints serve the region they are in). Another
    region's ECR or any other registry fails with CannotPullContainerError and the
    deploy rolls back."""
    if image.uri is None:
        return
    ecr = parse_ecr_image(image.uri)
    if ecr is not None and ecr.region == region:
        return
    where = "a non-ECR registry" if ecr is None else f"ECR in {ecr.region}, not {region}"
    raise SettingsError(
        f"context 'webappImage' is '{image.uri}' ({where}) with 'network' 'endpoints', "
        f"which has no internet route; copy the image to ECR in {region}, or use "
        "-c network=nat"
    )


def _sizing(node: Node) -> Sizing:
    """The sizing context: one line for a bad file, bad JSON or a bad value."""
    source: Any = node.try_get_context("sizing")
    if source is None:
        return Sizing()
    try:
        return load_sizing(source)
    except SizingError as error:
        message = str(error)
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        message = f"context 'sizing' is '{source}', which cannot be read ({reason}); fix the file"
    if message.startswith("context 'sizing'"):
        raise SettingsError(message)
    raise SettingsError(f"context 'sizing': {message}")


def _choice(node: Node, key: str, valid: list[str], default: str) -> str:
    value = str(node.try_get_context(key) or default)
    if value not in valid:
        raise SettingsError(f"context '{key}' is '{value}'; use one of {valid}")
    return value


def _optional_list(node: Node, key: str) -> list[str] | None:
    raw: Any = node.try_get_context(key)
    if raw is None:
        return None
    value = raw
    if isinstance(value, str):
        value = [item.strip() for item in value.split(",") if item.strip()]
    if not value:
        raise SettingsError(
            f"context '{key}' is '{raw}'; give a list or comma-separated values, e.g. "
            "eu-west-2a,eu-west-2b"
        )
    return [str(item) for item in value]


def _required_list(node: Node, key: str) -> list[str]:
    value = _optional_list(node, key)
    if value is None:
        raise SettingsError(f"context 'vpcId' needs '{key}' too (a list or comma-separated)")
    return value


def _matching(node: Node, key: str, pattern: re.Pattern[str], expected: str) -> str | None:
    value = node.try_get_context(key)
    if value is None:
        return None
    if not pattern.match(str(value)):
        raise SettingsError(f"context '{key}' is '{value}'; use {expected}")
    return str(value)


def _positive_int(node: Node, key: str) -> int | None:
    value = node.try_get_context(key)
    if value is None:
        return None
    if isinstance(value, bool) or not re.fullmatch(r"\d+", str(value)) or int(str(value)) < 1:
        raise SettingsError(f"context '{key}' is '{value}'; use a whole number of days, 1 or more")
    return int(str(value))


def _flag(node: Node, key: str, *, default: bool = False) -> bool:
    value = node.try_get_context(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise SettingsError(f"context '{key}' is '{value}'; use true or false")
