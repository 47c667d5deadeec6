"""Fixtures: fake credentials, moto clients made inside ``mock_aws()``, stack outputs, a backend."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from ecr_fake import EcrTagImmutability
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from sagemaker_fakes import EndpointFake, FakeClock, TrainingStatusFake, TransformStatusFake
from sagemaker_setup import (
    REPO_ROOT,
    TEST_ALARMS,
    TEST_CSV,
    TEST_DATALAKE,
    TEST_DATALAKE_KEY,
    TEST_GROUP,
    TEST_REGION,
    TEST_REPO,
    TEST_SCHEDULE,
    push_fake_image,
)

from ml.backends.records import ImageRecord
from ml.backends.sagemaker.backend import SageMakerBackend
from ml.backends.sagemaker.clients import AwsClients, make_clients
from ml.config import ProjectConfig, load_config
from ml.tfstate import StackOutputs


@pytest.fixture
def config() -> ProjectConfig:
    return load_config(REPO_ROOT / "cdktf.json", overrides={"region": TEST_REGION})


@pytest.fixture
def clients() -> Iterator[AwsClients]:
    with mock_aws():
        made = make_clients(boto3.Session(region_name=TEST_REGION), retry_mode="standard", max_attempts=1)
        made.s3.create_bucket(Bucket=TEST_DATALAKE)
        made.s3.put_bucket_versioning(Bucket=TEST_DATALAKE, VersioningConfiguration={"Status": "Enabled"})
        made.s3.put_object(Bucket=TEST_DATALAKE, Key="iris/input/iris.csv", Body=TEST_CSV)
        made.sagemaker.create_model_package_group(ModelPackageGroupName=TEST_GROUP)
        # As the build stack makes it: every tag immutable except `latest`.
        made.ecr.create_repository(
            repositoryName=TEST_REPO,
            imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
            imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}],
        )
        # As the deploy stack makes it: disabled until an endpoint exists.
        made.events.put_rule(Name=TEST_SCHEDULE, ScheduleExpression="rate(1 day)", State="DISABLED")
        yield dataclasses.replace(made, ecr=EcrTagImmutability(made.ecr))


@pytest.fixture
def outputs(clients: AwsClients) -> StackOutputs:
    repo_url = clients.ecr.describe_repositories(repositoryNames=[TEST_REPO])["repositories"][0]["repositoryUri"]
    return StackOutputs(
        ecr_repository_url=repo_url,
        ecr_repository_name=TEST_REPO,
        ecr_repository_arn=f"arn:aws:ecr:{TEST_REGION}:{DEFAULT_ACCOUNT_ID}:repository/{TEST_REPO}",
        build_repo_clone_url_http="https://git-codecommit.us-east-1.amazonaws.com/v1/repos/build-scikit-byo",
        build_pipeline_name="build-scikit-byo",
        datalake_bucket=TEST_DATALAKE,
        datalake_key_arn=TEST_DATALAKE_KEY,
        sagemaker_role_arn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/byoc-sagemaker",
        model_package_group=TEST_GROUP,
        train_repo_clone_url_http="https://git-codecommit.us-east-1.amazonaws.com/v1/repos/train-scikit-byo",
        train_pipeline_name="train-scikit-byo",
        artifact_bucket="byoc-test-artifacts",
        approval_topic_arn=f"arn:aws:sns:{TEST_REGION}:{DEFAULT_ACCOUNT_ID}:approval",
        deploy_repo_clone_url_http="https://git-codecommit.us-east-1.amazonaws.com/v1/repos/deploy-scikit-byo",
        deploy_pipeline_name="deploy-scikit-byo",
        endpoint_name="scikit-byo-endpoint",
        alarm_names=TEST_ALARMS,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sm(clients: AwsClients) -> Any:
    """The SageMaker client with the training, transform and endpoint state machines moto lacks."""
    return EndpointFake(TransformStatusFake(TrainingStatusFake(clients.sagemaker), s3=clients.s3, logs=clients.logs))


@pytest.fixture
def backend(  # noqa: PLR0917 - pytest passes fixtures positionally
    config: ProjectConfig, outputs: StackOutputs, clients: AwsClients, sm: Any, clock: FakeClock, tmp_path: Path
) -> SageMakerBackend:
    wired = dataclasses.replace(clients, sagemaker=sm)
    made = SageMakerBackend(config=config, root=tmp_path, outputs=outputs, clients=wired, clock=clock, builder="docker")
    tag = "abc1234def56"
    pushed = push_fake_image(clients, tag)
    made.state.record_image(ImageRecord(uri=f"{outputs.ecr_repository_url}@{pushed}", digest=pushed, tag=tag, builder="docker"))
    return made
