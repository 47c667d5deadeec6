"""The AWS clients the backend uses, made by the caller from one session with retries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml.config import ProjectConfig

RETRY_MODES = ("standard", "adaptive")


@dataclass(frozen=True, kw_only=True)
class AwsClients:
    """boto3 clients, typed ``Any`` because boto3 generates them at run time."""

    sagemaker: Any
    runtime: Any  # sagemaker-runtime
    s3: Any
    ecr: Any
    logs: Any
    autoscaling: Any  # application-autoscaling
    cloudwatch: Any  # the blue/green update's new-fleet alarms
    events: Any  # the monitor's schedule (EventBridge)


def make_session(config: ProjectConfig) -> Any:
    """A boto3 session in the project's region, using the caller's usual credential chain."""
    import boto3

    return boto3.Session(region_name=config.region)


def make_clients(session: Any, *, retry_mode: str = "adaptive", max_attempts: int = 10) -> AwsClients:
    """Clients sharing one retry policy: adaptive mode also rate-limits the client side, which
    keeps polling loops from tripping SageMaker's Describe* throttles.

    The tests and the CodeBuild rehearsal check every request these clients send against the
    service model from outside (tools/awscheck/strict.py); nothing here knows about it.
    """
    from botocore.config import Config

    if retry_mode not in RETRY_MODES:
        raise ValueError(f"retry_mode must be one of {RETRY_MODES}, not {retry_mode!r}")
    retries = Config(retries={"mode": retry_mode, "max_attempts": max_attempts})
    return AwsClients(
        sagemaker=session.client("sagemaker", config=retries),
        runtime=session.client("sagemaker-runtime", config=retries),
        s3=session.client("s3", config=retries),
        ecr=session.client("ecr", config=retries),
        logs=session.client("logs", config=retries),
        autoscaling=session.client("application-autoscaling", config=retries),
        cloudwatch=session.client("cloudwatch", config=retries),
        events=session.client("events", config=retries),
    )
