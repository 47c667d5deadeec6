"""The account quotas a first deploy runs into, read from Service Quotas (read-only).

SageMaker's instance quotas are per instance type and per use ("ml.m5.large for training job
usage"), and a new account may have 0 of them; CodeBuild's concurrent builds may be 0 too.
Service Quotas lists applied values (ListServiceQuotas) only where an account has them, so the
AWS defaults (ListAWSDefaultServiceQuotas) fill the rest. Quotas are matched by name: AWS
documents no quota codes for these, so a name that is not found is reported, not guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ml.config import ProjectConfig


@dataclass(frozen=True, kw_only=True)
class Need:
    """How many instances of a quota a deploy uses at its peak, and why."""

    service: str
    quota: str  # the quota's name in Service Quotas
    count: int
    why: str


def _pages(client: Any, operation: str, service: str) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(ServiceCode=service):
        yield from page.get("Quotas", [])


def quota_values(client: Any, service: str) -> dict[str, float]:
    """``{lowercased quota name: value}``: the account's applied values over AWS's defaults."""
    values = {str(q["QuotaName"]).lower(): float(q["Value"]) for q in _pages(client, "list_aws_default_service_quotas", service)}
    values.update({str(q["QuotaName"]).lower(): float(q["Value"]) for q in _pages(client, "list_service_quotas", service)})
    return values


def bluegreen_peak(config: ProjectConfig) -> int:
    """Instances during a blue/green update at the scaling maximum: the old fleet keeps serving
    while a new fleet of the same size starts, so twice the largest fleet."""
    largest = config.autoscaling_max_instances if config.autoscaling_enabled else config.hosting_instance_count
    return 2 * largest


def sagemaker_needs(config: ProjectConfig) -> list[Need]:
    """One need per (instance type, use): training (spot or on-demand), hosting, transform."""
    training = "spot training job usage" if config.training_use_spot else "training job usage"
    peak = bluegreen_peak(config)
    return [
        Need(service="sagemaker", quota=f"{config.training_instance_type} for {training}", count=1, why="one training job"),
        Need(
            service="sagemaker",
            quota=f"{config.hosting_instance_type} for endpoint usage",
            count=peak,
            why=f"blue/green at the scaling maximum: 2 x {peak // 2} instances",
        ),
        Need(service="sagemaker", quota=f"{config.transform_instance_type} for transform job usage", count=1, why="one transform job"),
    ]


# The deploy project's compute type (modules/build_project.py) in Service Quotas' words.
CODEBUILD_QUOTA = "concurrently running builds for linux/small environment"


def codebuild_needs() -> list[Need]:
    """A pipeline run is one build at a time; the scheduled monitor may run beside it."""
    return [Need(service="codebuild", quota=CODEBUILD_QUOTA, count=1, why="one pipeline build (the monitor may add one)")]
