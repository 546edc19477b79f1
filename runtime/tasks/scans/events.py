"""The GuardDuty Malware Protection for S3 "Object Scan Result" event, parsed and checked.

The envelope payload is the whole EventBridge event (the rule's input transformer puts
``<aws.events.event.json>`` in it), so the validator checks the event's shape and
:func:`parse_scan_event` turns it into a :class:`ScanResult`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.contract.storage import ScanStatus
from runtime.errors import PayloadValidationError
from runtime.tasks.uploads.model import UploadRef

__all__ = ["DETAIL_TYPE", "SOURCE", "ScanResult", "ScanStatus", "parse_scan_event"]

SOURCE = "aws.guardduty"
DETAIL_TYPE = "GuardDuty Malware Protection Object Scan Result"


@dataclass(frozen=True)
class ScanResult:
    upload: UploadRef
    status: ScanStatus
    threats: tuple[str, ...]
    event_id: str


def parse_scan_event(event: Mapping[str, Any]) -> ScanResult:
    """The scan result in ``event``; PayloadValidationError lists every problem at once."""
    problems: list[str] = []
    if event.get("source") != SOURCE:
        problems.append(f"source is {event.get('source')!r}, expected {SOURCE!r}")
    if event.get("detail-type") != DETAIL_TYPE:
        problems.append(f"detail-type is {event.get('detail-type')!r}, expected {DETAIL_TYPE!r}")
    detail = _object(event, "detail", problems)
    s3_object = _object(detail, "s3ObjectDetails", problems, where="detail.")
    result = _object(detail, "scanResultDetails", problems, where="detail.")
    bucket = _string(s3_object, "bucketName", problems)
    key = _string(s3_object, "objectKey", problems)
    version_id = s3_object.get("versionId")
    if version_id is not None and not (isinstance(version_id, str) and version_id):
        problems.append("detail.s3ObjectDetails.versionId must be a non-empty string when present")
    raw_status = result.get("scanResultStatus")
    if raw_status not in ScanStatus.__members__:
        problems.append(
            f"detail.scanResultDetails.scanResultStatus is {raw_status!r}; expected one of "
            f"{sorted(ScanStatus.__members__)}"
        )
    threats = _threat_names(result.get("threats"), problems)
    if problems:
        raise PayloadValidationError(
            "virus-scan-result: the payload is not a GuardDuty Malware Protection object scan "
            "result event: " + "; ".join(problems)
        )
    return ScanResult(
        upload=UploadRef(bucket, key, version_id),
        status=ScanStatus(str(raw_status)),
        threats=threats,
        event_id=str(event.get("id", "")),
    )


def _object(
    parent: Mapping[str, Any], name: str, problems: list[str], *, where: str = ""
) -> Mapping[str, Any]:
    value = parent.get(name)
    if isinstance(value, Mapping):
        return value
    problems.append(f"{where}{name} must be an object, got {type(value).__name__}")
    return {}


def _string(parent: Mapping[str, Any], name: str, problems: list[str]) -> str:
    value = parent.get(name)
    if isinstance(value, str) and value:
        return value
    problems.append(f"detail.s3ObjectDetails.{name} must be a non-empty string")
    return ""


def _threat_names(raw: Any, problems: list[str]) -> tuple[str, ...]:
    # GuardDuty sends "threats": null when there are none.
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(
        isinstance(threat, Mapping) and isinstance(threat.get("name"), str) for threat in raw
    ):
        problems.append("detail.scanResultDetails.threats must be a list of {'name': str}")
        return ()
    return tuple(threat["name"] for threat in raw)
