"""The front's corrections of moto's answers, each against the API's own words (docs/aws-fidelity.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from rehearsal_fake import Fake

from tools.rehearsal.fakes.timestamps import with_numeric_timestamps


def test_json_timestamps_become_epoch_seconds_along_the_output_shape() -> None:
    body = json.dumps({"metadata": {"pipelineArn": "a", "created": "2026-12-04T16:20:00.000Z"}, "pipeline": {"name": "2026-01-01"}})
    fixed = json.loads(with_numeric_timestamps("CodePipeline_20150709.GetPipeline", body.encode()))
    assert fixed["metadata"]["created"] == 1796401200.0
    assert fixed["pipeline"]["name"] == "2026-01-01"  # a string member stays a string, whatever it looks like


def test_codecommit_answers_numbers_tags_and_no_branches(fake: Fake) -> None:
    # The Go SDK refuses moto's string CreationDate; moto keeps no CodeCommit tags and has no ListBranches.
    client = fake.client("codecommit")
    made = client.create_repository(repositoryName="r", tags={"project": "x"})["repositoryMetadata"]
    raw = fake.front.moto.json_call("codecommit", "GetRepository", {"repositoryName": "r"}).json()
    assert isinstance(raw["repositoryMetadata"]["creationDate"], str)  # what moto says on its own
    assert client.list_tags_for_resource(resourceArn=made["Arn"])["tags"] == {"project": "x"}
    client.tag_resource(resourceArn=made["Arn"], tags={"team": "ml"})
    client.untag_resource(resourceArn=made["Arn"], tagKeys=["project"])
    assert client.list_tags_for_resource(resourceArn=made["Arn"])["tags"] == {"team": "ml"}
    assert client.list_branches(repositoryName="r")["branches"] == []
    with pytest.raises(ClientError, match="RepositoryDoesNotExist"):
        client.list_branches(repositoryName="missing")


def test_codebuild_keeps_a_codepipeline_project_without_a_location(fake: Fake) -> None:
    client = fake.client("codebuild")
    client.create_project(
        name="project-p",
        source={"type": "CODEPIPELINE", "buildspec": "version: 0.2"},
        artifacts={"type": "CODEPIPELINE"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0", "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole="arn:aws:iam::123456789012:role/r",
        logsConfig={"cloudWatchLogs": {"status": "ENABLED", "groupName": "/aws/codebuild/p"}},
    )
    found = client.batch_get_projects(names=["project-p", "gone"])
    (project,) = found["projects"]
    assert project["logsConfig"]["cloudWatchLogs"]["groupName"] == "/aws/codebuild/p"
    assert project["timeoutInMinutes"] == 60 and project["queuedTimeoutInMinutes"] == 480
    assert found["projectsNotFound"] == ["gone"]
    with pytest.raises(ClientError, match="ResourceAlreadyExists"):
        client.create_project(name="project-p", source={"type": "NO_SOURCE"}, artifacts={"type": "NO_ARTIFACTS"},
                              environment=project["environment"], serviceRole="arn:aws:iam::123456789012:role/r")  # fmt: skip


def test_pull_through_cache_rules_one_per_prefix(fake: Fake) -> None:
    ecr = fake.client("ecr")
    made = ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="proj-public", upstreamRegistryUrl="public.ecr.aws")
    assert made["upstreamRegistry"] == "ecr-public"
    with pytest.raises(ClientError, match="PullThroughCacheRuleAlreadyExists"):
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="proj-public", upstreamRegistryUrl="public.ecr.aws")
    (rule,) = ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=["proj-public"])["pullThroughCacheRules"]
    assert rule["upstreamRegistryUrl"] == "public.ecr.aws"
    ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="proj-public")
    with pytest.raises(ClientError, match="PullThroughCacheRuleNotFound"):
        ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=["proj-public"])


def test_a_bucket_sending_to_eventbridge_says_so_when_asked(fake: Fake) -> None:
    s3: Any = fake.client("s3")
    s3.create_bucket(Bucket="bucket-events")
    s3.put_bucket_notification_configuration(Bucket="bucket-events", NotificationConfiguration={"EventBridgeConfiguration": {}})
    assert s3.get_bucket_notification_configuration(Bucket="bucket-events")["EventBridgeConfiguration"] == {}
    s3.put_bucket_notification_configuration(Bucket="bucket-events", NotificationConfiguration={})
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket="bucket-events")


def test_an_operation_moto_lacks_fails_at_once_and_says_so(fake: Fake) -> None:
    with pytest.raises(ClientError) as missing:
        fake.client("codecommit").get_branch(repositoryName="r", branchName="main")
    assert missing.value.response["Error"]["Code"] == "NotImplementedInRehearsal"
    assert "GetBranch" in missing.value.response["Error"]["Message"]


def test_a_model_package_group_can_be_deleted(fake: Fake) -> None:
    # moto 5.2 has no DeleteModelPackageGroup; `terraform destroy` of the train stack calls it.
    sagemaker = fake.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="group")
    sagemaker.delete_model_package_group(ModelPackageGroupName="group")
    assert sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    with pytest.raises(ClientError, match="ValidationException"):
        sagemaker.describe_model_package_group(ModelPackageGroupName="group")
    with pytest.raises(ClientError, match="ValidationException"):
        sagemaker.delete_model_package_group(ModelPackageGroupName="group")
