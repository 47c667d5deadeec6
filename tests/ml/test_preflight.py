"""`invoke preflight --backend sagemaker`: each check's verdict, the table, and one line without credentials.

STS and CloudWatch Logs are moto's; Service Quotas and CodeCommit's ListRepositories are botocore's
Stubber (moto lists quota defaults for a few services only and has no ListRepositories), answering
in the APIs' own shapes.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from ml.config import ProjectConfig, load_config
from ml.preflight import check_codecommit, check_configuration, check_log_groups, check_quotas, check_terraform, run_checks, table
from ml.preflight_quotas import CODEBUILD_QUOTA, bluegreen_peak

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


@pytest.fixture
def config() -> ProjectConfig:
    return load_config(ROOT / "cdktf.json", overrides={"region": REGION, "deploy_approval_email": "approver@example.org"})


def quota(name: str, value: float) -> dict[str, Any]:
    return {"ServiceCode": "x", "QuotaName": name, "QuotaCode": f"L-{abs(hash(name)) % 10**8:08d}", "Value": value}


def stubbed_quotas(defaults: dict[str, list[dict[str, Any]]], applied: dict[str, list[dict[str, Any]]]) -> Any:
    """Service Quotas answering defaults then applied values, for codebuild then sagemaker (the checks' order)."""
    client = boto3.client("service-quotas", region_name=REGION)
    stub = Stubber(client)
    for service in ("codebuild", "sagemaker"):
        stub.add_response("list_aws_default_service_quotas", {"Quotas": defaults.get(service, [])}, {"ServiceCode": service})
        stub.add_response("list_service_quotas", {"Quotas": applied.get(service, [])}, {"ServiceCode": service})
    stub.activate()
    return client


def test_quotas_count_the_blue_green_peak_at_the_scaling_maximum(config: ProjectConfig) -> None:
    assert bluegreen_peak(config) == 2 * config.autoscaling_max_instances == 8
    defaults = {
        "codebuild": [quota("Concurrently running builds for Linux/Small environment", 20)],
        "sagemaker": [
            quota(f"{config.hosting_instance_type} for endpoint usage", 10),
            quota(f"{config.transform_instance_type} for transform job usage", 1),
        ],
    }
    applied = {"codebuild": [quota("Concurrently running builds for Linux/Small environment", 0)],  # a new account
               "sagemaker": [quota(f"{config.hosting_instance_type} for endpoint usage", 4)]}  # fmt: skip
    checks = {c.name: c for c in check_quotas(stubbed_quotas(defaults, applied), config)}
    assert checks[f"quota: {CODEBUILD_QUOTA}"].status == "fail"  # applied 0 wins over the default 20
    hosting = checks[f"quota: {config.hosting_instance_type} for endpoint usage"]
    assert hosting.status == "fail" and "4 < 8 needed" in hosting.detail and "Service Quotas" in hosting.detail
    assert checks[f"quota: {config.transform_instance_type} for transform job usage"].status == "ok"
    training = checks[f"quota: {config.training_instance_type} for spot training job usage"]
    assert training.status == "warn" and "not listed" in training.detail  # unknown is said, not guessed


def test_terraform_must_be_at_least_1_10() -> None:
    def answer(version: str) -> Any:
        return lambda argv: f'{{"terraform_version": "{version}", "platform": "linux_amd64"}}'

    assert check_terraform(answer("1.11.4")).status == "ok"
    old = check_terraform(answer("1.9.8"))
    assert old.status == "fail" and "older than 1.10" in old.detail

    def missing(argv: Any) -> str:
        raise FileNotFoundError("terraform")

    assert check_terraform(missing).status == "fail"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def stubbed_codecommit(*repositories: str) -> Any:
    client = boto3.client("codecommit", region_name=REGION)
    stub = Stubber(client)
    stub.add_response("list_repositories", {"repositories": [{"repositoryName": r, "repositoryId": f"id-{r}"} for r in repositories]}, {})
    stub.activate()
    return client


def test_codecommit_without_repositories_recommends_codeconnections(config: ProjectConfig) -> None:
    empty = check_codecommit(stubbed_codecommit(), config)
    assert empty.status == "warn" and "codeconnections" in empty.detail and "closed to new customers" in empty.detail
    assert check_codecommit(stubbed_codecommit("existing"), config).status == "ok"
    codecommit = stubbed_codecommit()
    connection = "arn:aws:codeconnections:us-east-1:123456789012:connection/abc"
    github = dataclasses.replace(config, source_provider="codeconnections", codeconnections_arn=connection, github_owner="o")
    assert check_codecommit(codecommit, github).status == "ok"


def test_a_sagemaker_log_group_outside_the_stacks_must_be_imported(config: ProjectConfig, aws: None) -> None:
    logs = boto3.client("logs", region_name=REGION)
    assert check_log_groups(logs, config, managed=set()).status == "ok"
    logs.create_log_group(logGroupName="/aws/sagemaker/TrainingJobs")  # another SageMaker user's
    found = check_log_groups(logs, config, managed=set())
    assert found.status == "warn" and "/aws/sagemaker/TrainingJobs" in found.detail and "import" in found.detail
    assert check_log_groups(logs, config, managed={"/aws/sagemaker/TrainingJobs"}).status == "ok"


def test_a_missing_approver_blocks_and_the_table_says_what_blocks(config: ProjectConfig, aws: None) -> None:
    unnamed = dataclasses.replace(config, deploy_approval_email="")
    assert check_configuration(unnamed).status == "fail"
    session = boto3.Session(region_name=REGION)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(session, "client", _with_stubbed_quotas(session.client))
        checks = run_checks(session=session, config=unnamed, managed_log_groups=set(), run=lambda argv: '{"terraform_version": "1.11.0"}')
    text = table(checks)
    assert text.splitlines()[0].startswith("CHECK")
    assert "credentials" in text and "account 123456789012" in text
    assert text.splitlines()[-1] == "blocked by: configuration"


def _with_stubbed_quotas(make: Any) -> Any:
    def client(service: str, *args: Any, **kwargs: Any) -> Any:
        if service == "codecommit":
            return stubbed_codecommit("existing")
        if service != "service-quotas":
            return make(service, *args, **kwargs)
        plenty = [quota(n, 100) for n in ("ml.m5.large for spot training job usage", "ml.t2.medium for endpoint usage",
                                          "ml.m5.large for transform job usage")]  # fmt: skip
        builds = [quota("Concurrently running builds for Linux/Small environment", 20)]
        return stubbed_quotas({"codebuild": builds, "sagemaker": plenty}, {})

    return client


def test_without_credentials_preflight_says_so_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true")
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "preflight", "--backend", "sagemaker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: no AWS credentials found: configure a profile (aws configure, aws sso login) or set the AWS_* variables"
    ]
    assert "Traceback" not in done.stdout + done.stderr
