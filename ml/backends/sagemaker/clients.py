"""The AWS clients the backend uses, made by the caller from one session with retries."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ml.config import STRICT_REQUESTS_ENV, ProjectConfig

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


def make_session(config: ProjectConfig) -> Any:
    """A boto3 session in the project's region, using the caller's usual credential chain."""
    import boto3

    return boto3.Session(region_name=config.region)


def make_clients(
    session: Any, *, retry_mode: str = "adaptive", max_attempts: int = 10, environ: Mapping[str, str] | None = None
) -> AwsClients:
    """Clients sharing one retry policy: adaptive mode also rate-limits the client side, which
    keeps polling loops from tripping SageMaker's Describe* throttles.

    With ``BYOC_STRICT_REQUESTS=1`` every request is first checked against the service model
    (:mod:`ml.awscheck.requests`); the CodeBuild rehearsal sets it for the tasks it runs.
    """
    from botocore.config import Config

    if retry_mode not in RETRY_MODES:
        raise ValueError(f"retry_mode must be one of {RETRY_MODES}, not {retry_mode!r}")
    retries = Config(retries={"mode": retry_mode, "max_attempts": max_attempts})
    made = AwsClients(
        sagemaker=session.client("sagemaker", config=retries),
        runtime=session.client("sagemaker-runtime", config=retries),
        s3=session.client("s3", config=retries),
        ecr=session.client("ecr", config=retries),
        logs=session.client("logs", config=retries),
        autoscaling=session.client("application-autoscaling", config=retries),
    )
    strict = (os.environ if environ is None else environ).get(STRICT_REQUESTS_ENV, "")
    if strict not in ("", "0", "1"):
        raise ValueError(f"{STRICT_REQUESTS_ENV} must be 1 (check every AWS request) or 0/unset, not {strict!r}")
    if strict == "1":
        from ml.awscheck.requests import install

        for client in (made.sagemaker, made.runtime, made.s3, made.ecr, made.logs, made.autoscaling):
            install(client)
    return made
