"""The three stacks' resources and their important properties (default configuration)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ml.config import load_config
from ml.names import VARIANT_NAME

pytestmark = pytest.mark.synth
ROOT = Path(__file__).resolve().parents[2]
STACKS = ("BuildPipelineStack", "TrainPipelineStack", "DeployPipelineStack")
CONFIG = load_config(ROOT / "cdktf.json", overrides={"deploy_approval_email": "approver@example.org"})  # as the root conftest synthesizes


def resources(stack: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = stack.get("resource", {}).get(kind, {})
    return found


def only(stack: dict[str, Any], kind: str) -> dict[str, Any]:
    found = resources(stack, kind)
    assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
    return next(iter(found.values()))


def event_patterns(stack: dict[str, Any]) -> list[dict[str, Any]]:
    # The monitor's schedule rule has a schedule_expression instead of a pattern.
    return [json.loads(rule["event_pattern"]) for rule in resources(stack, "aws_cloudwatch_event_rule").values() if "event_pattern" in rule]


def pipeline_project(stack: dict[str, Any]) -> dict[str, Any]:
    """The stack's one CodeBuild project that a pipeline runs (the deploy stack also has the monitor's)."""
    (project,) = [p for p in resources(stack, "aws_codebuild_project").values() if p["source"]["type"] == "CODEPIPELINE"]
    return project


def stage_names(pipeline: dict[str, Any]) -> list[str]:
    return [stage["name"] for stage in pipeline["stage"]]


def test_provider_region_and_default_tags_come_from_config(stacks: dict[str, Any]) -> None:
    for stack in stacks.values():
        (provider,) = stack["provider"]["aws"]
        assert provider["region"] == CONFIG.region
        assert provider["default_tags"] == [{"tags": CONFIG.tags}]


@pytest.mark.parametrize(
    ("stack", "outputs"),
    [
        (
            "BuildPipelineStack",
            ["ecr_repository_url", "ecr_repository_name", "ecr_repository_arn", "build_repo_clone_url_http", "build_pipeline_name"],
        ),
        (
            "TrainPipelineStack",
            [
                "datalake_bucket",
                "sagemaker_role_arn",
                "model_package_group",
                "datalake_key_arn",
                "train_repo_clone_url_http",
                "train_pipeline_name",
                "artifact_bucket",
            ],
        ),
        (
            "DeployPipelineStack",
            ["approval_topic_arn", "deploy_repo_clone_url_http", "deploy_pipeline_name", "endpoint_name", "alarm_names"],
        ),
    ],
)
def test_outputs_that_tasks_read_exist(stacks: dict[str, Any], stack: str, outputs: list[str]) -> None:
    assert set(outputs) <= set(stacks[stack]["output"])


def test_ecr_repository_lives_in_the_build_stack_only(stacks: dict[str, Any]) -> None:
    repo = only(stacks["BuildPipelineStack"], "aws_ecr_repository")
    assert repo["name"] == CONFIG.ecr_repo
    assert repo["image_scanning_configuration"] == {"scan_on_push": True}
    assert repo["image_tag_mutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repo["image_tag_mutability_exclusion_filter"] == [{"filter": "latest", "filter_type": "WILDCARD"}]
    (encryption,) = repo["encryption_configuration"]
    assert encryption["encryption_type"] == "KMS"
    assert "aws_kms_key" in encryption["kms_key"]
    lifecycle = json.loads(only(stacks["BuildPipelineStack"], "aws_ecr_lifecycle_policy")["policy"])
    assert {rule["action"]["type"] for rule in lifecycle["rules"]} == {"expire"}
    for name in ("TrainPipelineStack", "DeployPipelineStack"):
        assert not resources(stacks[name], "aws_ecr_repository")


def test_only_the_image_build_is_privileged(stacks: dict[str, Any]) -> None:
    privileged = {name: pipeline_project(stack)["environment"]["privileged_mode"] for name, stack in stacks.items()}
    assert privileged == {"BuildPipelineStack": True, "TrainPipelineStack": False, "DeployPipelineStack": False}


@pytest.mark.parametrize(
    ("stack", "command"),
    [
        ("BuildPipelineStack", "invoke build-image --backend sagemaker"),
        ("TrainPipelineStack", "invoke train --backend sagemaker"),
        ("DeployPipelineStack", "invoke deploy --backend sagemaker --mode $DEPLOY_MODE"),
    ],
)
def test_codebuild_runs_the_repo_buildspec(stacks: dict[str, Any], stack: str, command: str) -> None:
    project = pipeline_project(stacks[stack])
    name = {"BuildPipelineStack": "build", "TrainPipelineStack": "train", "DeployPipelineStack": "deploy"}[stack]
    assert project["source"] == {"type": "CODEPIPELINE", "buildspec": (ROOT / "buildspecs" / f"{name}.yml").read_text(encoding="utf-8")}
    assert command in project["source"]["buildspec"]
    assert "aws_kms_key" in project["encryption_key"]
    (group,) = [
        g for g in resources(stacks[stack], "aws_cloudwatch_log_group").values() if g["name"] == f"/aws/codebuild/{project['name']}"
    ]
    assert group["retention_in_days"] == CONFIG.log_retention_days
    assert "aws_kms_key" in group["kms_key_id"]
    assert project["logs_config"]["cloudwatch_logs"]["status"] == "ENABLED"


def test_pipelines_are_v2_with_encrypted_artifact_stores(stacks: dict[str, Any]) -> None:
    for stack in stacks.values():
        pipeline = only(stack, "aws_codepipeline")
        assert pipeline["pipeline_type"] == "V2"
        (store,) = pipeline["artifact_store"]
        assert store["encryption_key"]["type"] == "KMS"
        assert "aws_s3_bucket.artifacts_bucket" in store["location"]


def test_build_pipeline_is_triggered_by_a_push_event(stacks: dict[str, Any]) -> None:
    stack = stacks["BuildPipelineStack"]
    pipeline = only(stack, "aws_codepipeline")
    assert stage_names(pipeline) == ["Source", "Build"]
    (source,) = pipeline["stage"][0]["action"]
    assert source["configuration"]["PollForSourceChanges"] == "false"
    (pattern,) = event_patterns(stack)
    assert pattern["source"] == ["aws.codecommit"]
    assert pattern["detail"]["referenceName"] == [CONFIG.build_branch]
    (target,) = resources(stack, "aws_cloudwatch_event_target").values()
    assert "aws_codepipeline" in target["arn"]


def test_train_pipeline_has_three_event_driven_sources_and_the_build_gets_code_and_image(stacks: dict[str, Any]) -> None:
    stack = stacks["TrainPipelineStack"]
    pipeline = only(stack, "aws_codepipeline")
    assert stage_names(pipeline) == ["Source", "Train"]
    sources = {action["provider"]: action for action in pipeline["stage"][0]["action"]}
    assert set(sources) == {"CodeCommit", "S3", "ECR"}
    assert sources["S3"]["configuration"]["PollForSourceChanges"] == "false"
    assert sources["S3"]["configuration"]["S3ObjectKey"] == "iris/input/iris.csv"
    assert "aws_s3_bucket.datalake_bucket" in sources["S3"]["configuration"]["S3Bucket"]
    assert "terraform_remote_state" in sources["ECR"]["configuration"]["RepositoryName"]  # from the build stack
    (train,) = pipeline["stage"][1]["action"]
    # The data artifact (a bare CSV) is not an input: CodeBuild would fail to unzip it.
    assert train["input_artifacts"] == sources["CodeCommit"]["output_artifacts"] + sources["ECR"]["output_artifacts"]
    assert train["configuration"]["PrimarySource"] == "source"
    kinds = {pattern["source"][0] for pattern in event_patterns(stack)}
    assert kinds == {"aws.codecommit", "aws.s3", "aws.ecr"}
    s3 = next(p for p in event_patterns(stack) if p["source"] == ["aws.s3"])
    assert s3["detail-type"] == ["Object Created"]
    assert s3["detail"]["object"]["key"] == ["iris/input/iris.csv"]
    datalake = next(n for n in resources(stack, "aws_s3_bucket_notification").values() if "datalake" in n["bucket"])
    assert datalake["eventbridge"] is True
    assert len(resources(stack, "aws_cloudwatch_event_target")) == 3


def test_model_package_group_and_sagemaker_role(stacks: dict[str, Any]) -> None:
    stack = stacks["TrainPipelineStack"]
    assert only(stack, "aws_sagemaker_model_package_group")["model_package_group_name"] == CONFIG.model_package_group
    role = next(r for key, r in resources(stack, "aws_iam_role").items() if key.startswith("sagemaker"))
    assert role["name"] == f"{CONFIG.project_name}-{CONFIG.region}-sagemaker-execution"


def test_deploy_pipeline_asks_for_approval_before_deploying(stacks: dict[str, Any]) -> None:
    stack = stacks["DeployPipelineStack"]
    pipeline = only(stack, "aws_codepipeline")
    assert stage_names(pipeline) == ["Source", "Approve", "Deploy"]
    (approve,) = pipeline["stage"][1]["action"]
    assert (approve["category"], approve["provider"]) == ("Approval", "Manual")
    topic_key = next(iter(resources(stack, "aws_sns_topic")))
    assert approve["configuration"]["NotificationArn"] == f"${{aws_sns_topic.{topic_key}.arn}}"
    topic = only(stack, "aws_sns_topic")
    assert "aws_kms_key" in topic["kms_master_key_id"]
    subscription = only(stack, "aws_sns_topic_subscription")
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", CONFIG.deploy_approval_email)
    (deploy,) = pipeline["stage"][2]["action"]
    assert deploy["provider"] == "CodeBuild"
    assert stack["output"]["approval_topic_arn"]["value"] == f"${{aws_sns_topic.{topic_key}.arn}}"


def test_rollback_alarms_watch_the_configured_endpoint(stacks: dict[str, Any]) -> None:
    stack = stacks["DeployPipelineStack"]
    alarms = resources(stack, "aws_cloudwatch_metric_alarm")
    names = sorted(alarm["alarm_name"] for alarm in alarms.values())
    assert names == sorted([f"{CONFIG.endpoint_name}-5xx-error-rate", f"{CONFIG.endpoint_name}-p99-model-latency"])
    latency = next(a for a in alarms.values() if a.get("metric_name") == "ModelLatency")
    assert latency["extended_statistic"] == "p99"
    assert latency["threshold"] == CONFIG.alarm_p99_latency_ms * 1000
    assert latency["dimensions"] == {"EndpointName": CONFIG.endpoint_name, "VariantName": VARIANT_NAME}
    errors = next(a for a in alarms.values() if "metric_query" in a)
    metrics = {q["metric"]["metric_name"] for q in errors["metric_query"] if "metric" in q}
    assert metrics == {"Invocation5XXErrors", "Invocations"}
    assert errors["threshold"] == CONFIG.alarm_error_rate_percent
    assert stack["output"]["endpoint_name"]["value"] == CONFIG.endpoint_name
    assert stack["output"]["alarm_names"]["value"] == [f"${{aws_cloudwatch_metric_alarm.{k}.alarm_name}}" for k in alarms]


def test_every_bucket_is_private_versioned_encrypted_and_tls_only(stacks: dict[str, Any]) -> None:
    for stack in stacks.values():
        buckets = resources(stack, "aws_s3_bucket")
        assert buckets
        for kind in (
            "aws_s3_bucket_public_access_block",
            "aws_s3_bucket_versioning",
            "aws_s3_bucket_server_side_encryption_configuration",
            "aws_s3_bucket_policy",
        ):
            covered = {r["bucket"].split(".")[1] for r in resources(stack, kind).values()}
            assert covered == set(buckets), kind
        for block in resources(stack, "aws_s3_bucket_public_access_block").values():
            assert all(
                block[flag] is True
                for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
            )
        for versioning in resources(stack, "aws_s3_bucket_versioning").values():
            assert versioning["versioning_configuration"] == {"status": "Enabled"}
        for sse in resources(stack, "aws_s3_bucket_server_side_encryption_configuration").values():
            default = sse["rule"][0]["apply_server_side_encryption_by_default"]
            assert default["sse_algorithm"] == "aws:kms"
            assert "aws_kms_key" in default["kms_master_key_id"]
        for bucket in buckets.values():
            assert len(bucket["bucket_prefix"]) <= 37
        docs = stack["data"]["aws_iam_policy_document"]
        for policy in resources(stack, "aws_s3_bucket_policy").values():
            doc = docs[policy["policy"].split(".")[2]]
            (deny,) = doc["statement"]
            assert deny["effect"] == "Deny"
            assert deny["condition"] == [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]


def test_keys_rotate(stacks: dict[str, Any]) -> None:
    for stack in stacks.values():
        key = only(stack, "aws_kms_key")
        assert key["enable_key_rotation"] is True


def test_role_names_are_unique_per_project_and_region(stacks: dict[str, Any]) -> None:
    names = [role["name"] for stack in stacks.values() for role in resources(stack, "aws_iam_role").values()]
    assert len(names) == len(set(names))
    assert all(name.startswith(f"{CONFIG.project_name}-{CONFIG.region}-") and len(name) <= 64 for name in names)


def test_cross_stack_values_are_references_not_retyped_names(stacks: dict[str, Any]) -> None:
    deploy = json.dumps(stacks["DeployPipelineStack"])
    train = json.dumps(stacks["TrainPipelineStack"])
    assert "terraform_remote_state" in deploy
    assert "terraform_remote_state" in train
    assert CONFIG.ecr_repo not in train  # the image repository reaches the train stack as a reference


def test_no_codebuild_action_is_handed_an_unzipped_s3_object(stacks: dict[str, Any], alt_stacks: dict[str, Any]) -> None:
    # CodePipeline's S3 source action reference: "You can also upload a single unzipped file;
    # however, downstream actions that expect a .zip file will fail." CodeBuild unzips its inputs.
    for synth in (stacks, alt_stacks):
        for stack in synth.values():
            for pipeline in resources(stack, "aws_codepipeline").values():
                actions = [a for stage in pipeline["stage"] for a in stage["action"]]
                s3 = [a for a in actions if a["provider"] == "S3"]
                s3_keys = {o: a["configuration"]["S3ObjectKey"] for a in s3 for o in a.get("output_artifacts", [])}
                built = [i for a in actions if a["provider"] == "CodeBuild" for i in a.get("input_artifacts", [])]
                assert [(i, s3_keys[i]) for i in built if i in s3_keys and not s3_keys[i].endswith(".zip")] == []
