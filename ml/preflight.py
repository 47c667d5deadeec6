"""``invoke preflight --backend sagemaker``: what stops a first ``cdktf deploy``, found before it.

Read-only: it asks STS who you are, runs ``terraform version``, lists CodeCommit repositories and
CloudWatch log groups, and reads Service Quotas; it creates nothing. Each check gives ok, warn or
fail with a line that says what to do; any fail makes the task exit non-zero.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ml.config import ProjectConfig
from ml.errors import AwsError, ConfigError, NotFoundError, StateError
from ml.names import STACKS, TRAINING_LOG_GROUP, TRANSFORM_LOG_GROUP, endpoint_log_group
from ml.preflight_quotas import CODEBUILD_QUOTA, Need, codebuild_needs, quota_values, sagemaker_needs
from ml.tfstate import read_state_text

Status = Literal["ok", "warn", "fail"]
MIN_TERRAFORM = (1, 10)  # S3-native state locking (use_lockfile), and cdktf.json's targetVersions
Runner = Callable[[Sequence[str]], str]
NO_CREDENTIALS = "no AWS credentials found: configure a profile (aws configure, aws sso login) or set the AWS_* variables"


@dataclass(frozen=True, kw_only=True)
class Check:
    name: str
    status: Status
    detail: str


def run_text(argv: Sequence[str]) -> str:
    return subprocess.run(list(argv), capture_output=True, text=True, check=True, timeout=60).stdout


def _error_text(err: Exception) -> str:
    if isinstance(err, ClientError):
        return f"{err.response.get('Error', {}).get('Code', '')}: {err.response.get('Error', {}).get('Message', '')}"
    return str(err)


def check_identity(sts: Any, config: ProjectConfig) -> Check:
    """Who the credentials are; raises NoCredentialsError when there are none (the task says so in one line)."""
    me = sts.get_caller_identity()
    return Check(name="credentials", status="ok", detail=f"account {me['Account']} as {me['Arn']}, region {config.region}")


def check_terraform(run: Runner = run_text) -> Check:
    try:
        version = str(json.loads(run(["terraform", "version", "-json"]))["terraform_version"])
    except FileNotFoundError:
        return Check(name="terraform", status="fail", detail="terraform is not on PATH; install Terraform >= 1.10")
    except (subprocess.SubprocessError, ValueError, KeyError) as err:
        return Check(name="terraform", status="fail", detail=f"`terraform version -json` failed ({err}); install Terraform >= 1.10")
    parts = tuple(int(p) for p in re.findall(r"\d+", version)[:2])
    if parts < MIN_TERRAFORM:
        return Check(name="terraform", status="fail", detail=f"Terraform {version} is older than 1.10 (S3 state locking); upgrade it")
    return Check(name="terraform", status="ok", detail=f"Terraform {version}")


def check_codecommit(codecommit: Any, config: ProjectConfig) -> Check:
    """CodeCommit "is no longer available to new customers": an account that never used it cannot
    create the repositories. Whether this account is one cannot be read without creating one, so
    no repository at all is a warning, not a verdict."""
    if config.source_provider != "codecommit":
        return Check(name="source: CodeCommit", status="ok", detail=f"not used (source_provider {config.source_provider})")
    try:
        repositories = codecommit.list_repositories().get("repositories", [])
    except (ClientError, BotoCoreError) as err:
        return Check(
            name="source: CodeCommit",
            status="fail",
            detail=f"ListRepositories failed ({_error_text(err)}); set source_provider to codeconnections (GitHub)",
        )
    if not repositories:
        return Check(
            name="source: CodeCommit",
            status="warn",
            detail="no repository in this account: CodeCommit is closed to new customers, so CreateRepository may be "
            "refused; if it is, set source_provider to codeconnections (GitHub) in cdktf.json",
        )
    return Check(name="source: CodeCommit", status="ok", detail=f"{len(repositories)} repositories: this account uses CodeCommit")


def _quota_check(need: Need, values: dict[str, float]) -> Check:
    name = f"quota: {need.quota}"
    found = values.get(need.quota.lower())
    if found is None and need.quota == CODEBUILD_QUOTA:
        found = next((v for k, v in values.items() if "linux/small" in k and "concurrent" in k), None)
    if found is None:
        return Check(name=name, status="warn", detail=f"not listed by Service Quotas; check the console (need {need.count}: {need.why})")
    if found < need.count:
        return Check(
            name=name,
            status="fail",
            detail=f"{found:g} < {need.count} needed ({need.why}); request an increase in Service Quotas or choose another instance type",
        )
    return Check(name=name, status="ok", detail=f"{found:g} >= {need.count} ({need.why})")


def check_quotas(quotas: Any, config: ProjectConfig) -> list[Check]:
    found: list[Check] = []
    for service, needs in (("codebuild", codebuild_needs()), ("sagemaker", sagemaker_needs(config))):
        try:
            values = quota_values(quotas, service)
        except (ClientError, BotoCoreError) as err:
            found.append(Check(name=f"quotas: {service}", status="warn", detail=f"Service Quotas could not be read ({_error_text(err)})"))
            continue
        found += [_quota_check(need, values) for need in needs]
    return found


def check_log_groups(logs: Any, config: ProjectConfig, *, managed: set[str]) -> Check:
    """The stacks declare SageMaker's log groups; one that exists outside this project's state
    makes `cdktf deploy` fail with ResourceAlreadyExistsException until it is imported."""
    wanted = [TRAINING_LOG_GROUP, TRANSFORM_LOG_GROUP, endpoint_log_group(config.endpoint_name)]
    existing: list[str] = []
    for group in wanted:
        pages = logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=group)
        existing += [g["logGroupName"] for page in pages for g in page.get("logGroups", []) if g["logGroupName"] == group]
    foreign = [g for g in existing if g not in managed]
    if not foreign:
        return Check(name="SageMaker log groups", status="ok", detail="none exists outside this project's stacks")
    return Check(
        name="SageMaker log groups",
        status="warn",
        detail=f"{', '.join(foreign)} already exist(s) (another SageMaker user in this account and region?); import each into its "
        "stack before `cdktf deploy` (docs/infrastructure.md, 'Existing SageMaker log groups') or deploy fails",
    )


def check_configuration(config: ProjectConfig) -> Check:
    try:
        config.require_deployable()
    except ConfigError as err:
        return Check(name="configuration", status="fail", detail=str(err))
    return Check(name="configuration", status="ok", detail=f"approver {config.deploy_approval_email or '(approval off)'}")


def table(checks: Sequence[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'CHECK':<{width}}  STATUS  DETAIL", "-" * (width + 60)]
    lines += [f"{c.name:<{width}}  {c.status.upper():<6}  {c.detail}" for c in checks]
    failed = [c.name for c in checks if c.status == "fail"]
    lines.append("-" * (width + 60))
    lines.append(f"blocked by: {', '.join(failed)}" if failed else "nothing blocks a first `cdktf deploy`")
    return "\n".join(lines)


def managed_log_groups(config: ProjectConfig, *, root: Path, s3_client: Any | None) -> set[str]:
    """The log groups this project's Terraform state already holds (none before a first deploy)."""
    names: set[str] = set()
    for stack in STACKS:
        try:
            text, _ = read_state_text(config, root=root, stack=stack, s3_client=s3_client)
        except (NotFoundError, StateError, AwsError):
            continue
        for resource in json.loads(text).get("resources", []):
            if resource.get("type") == "aws_cloudwatch_log_group":
                names.update(str(i.get("attributes", {}).get("name", "")) for i in resource.get("instances", []))
    return names


def run_checks(*, session: Any, config: ProjectConfig, managed_log_groups: set[str], run: Runner = run_text) -> list[Check]:
    """Every check, in the order a user fixes them. Raises NoCredentialsError before anything else."""
    checks = [check_identity(session.client("sts"), config), check_configuration(config), check_terraform(run)]
    checks.append(check_codecommit(session.client("codecommit"), config))
    checks += check_quotas(session.client("service-quotas"), config)
    checks.append(check_log_groups(session.client("logs"), config, managed=managed_log_groups))
    return checks


__all__ = ["NO_CREDENTIALS", "Check", "NoCredentialsError", "managed_log_groups", "run_checks", "table"]
