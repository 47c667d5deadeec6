"""Which endpoint config served when: the endpoint's deployment history, kept in one tag on the endpoint.

AWS keeps no such history: DescribeEndpoint names only the config in force now (with the
endpoint's CreationTime and LastModifiedTime), and no API lists the configs an endpoint ran
before (docs/aws-fidelity.md, "Monitor attribution"). So every deploy this backend settles appends
``<start>/<settled>=<version>`` to the endpoint's ``byoc:deployments`` tag: from ``start`` (the
CreateEndpoint/UpdateEndpoint call) to ``settled`` (InService again) both fleets may answer, and
after ``settled`` the version named does, until the next entry's start. A tag belongs to the
endpoint's ARN, so a new endpoint of the same name starts with no history.

A tag value holds at most 256 characters, so the oldest entries give way to new ones; records
older than the oldest kept entry cannot be attributed, and the monitor says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ml.backends.sagemaker.aws_errors import aws_call, is_not_found

TAG_DEPLOYMENTS = "byoc:deployments"
TAG_VALUE_MAX = 256  # SageMaker Tag.Value: "Length Constraints: Minimum length of 0. Maximum length of 256."
_TIME = "%Y%m%dT%H%M%SZ"
_ENTRY = re.compile(r"^(\d{8}T\d{6}Z)/(\d{8}T\d{6}Z)=(\d+)$")


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """One settled deploy: both fleets may answer in ``[start, settled)``, then ``version`` alone."""

    start: datetime
    settled: datetime
    version: int

    def text(self) -> str:
        return f"{self.start.astimezone(UTC):{_TIME}}/{self.settled.astimezone(UTC):{_TIME}}={self.version}"


def parse(value: str) -> tuple[Deployment, ...]:
    """The entries of a tag value, oldest first; an entry not in the form is skipped (a person edited the tag)."""
    found = []
    for entry in value.split():
        match = _ENTRY.match(entry)
        if match:
            start, settled = (datetime.strptime(match.group(i), _TIME).replace(tzinfo=UTC) for i in (1, 2))
            found.append(Deployment(start=start, settled=settled, version=int(match.group(3))))
    return tuple(sorted(found, key=lambda d: d.settled))


def encode(history: Sequence[Deployment]) -> str:
    """The newest entries that fit in one tag value, oldest first."""
    kept: list[str] = []
    for entry in reversed([d.text() for d in history]):
        if len(" ".join([entry, *kept])) > TAG_VALUE_MAX:
            break
        kept.insert(0, entry)
    return " ".join(kept)


def read(sagemaker: Any, endpoint_arn: str) -> tuple[Deployment, ...]:
    """The endpoint's recorded deployments (ListTags on the endpoint), oldest first."""
    with aws_call(service="sagemaker", action=f"reading the deployment history of {endpoint_arn}"):
        tags = sagemaker.list_tags(ResourceArn=endpoint_arn).get("Tags", [])
    return parse(next((t["Value"] for t in tags if t["Key"] == TAG_DEPLOYMENTS), ""))


def record(sagemaker: Any, *, endpoint_arn: str, deployment: Deployment) -> None:
    """Append ``deployment`` to the endpoint's history tag (AddTags overwrites the one tag)."""
    value = encode([*read(sagemaker, endpoint_arn), deployment])
    with aws_call(service="sagemaker", action=f"recording the deployment of version {deployment.version} on {endpoint_arn}"):
        sagemaker.add_tags(ResourceArn=endpoint_arn, Tags=[{"Key": TAG_DEPLOYMENTS, "Value": value}])


def history_of(sagemaker: Any, endpoint_name: str) -> tuple[Deployment, ...]:
    """The recorded deployments of the endpoint now named ``endpoint_name``; none if it does not exist."""
    with aws_call(service="sagemaker", action=f"describing endpoint {endpoint_name}"):
        try:
            arn = str(sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointArn"])
        except ClientError as err:
            if is_not_found(err):
                return ()
            raise
    return read(sagemaker, arn)
