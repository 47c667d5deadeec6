"""The other branches of the configuration: S3 state, GitHub sources, notifications, no approval."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.synth
STACKS = ("BuildPipelineStack", "TrainPipelineStack", "DeployPipelineStack")


def test_s3_backend_with_locking_and_encryption(alt_stacks: dict[str, Any], alternative: dict[str, Any]) -> None:
    for name in STACKS:
        assert alt_stacks[name]["terraform"]["backend"] == {
            "s3": {
                "bucket": alternative["state_bucket"],
                "key": f"sagemaker-byoc/{name}.tfstate",
                "region": alternative["region"],
                "encrypt": True,
                "use_lockfile": True,
            }
        }


def test_github_sources_use_the_connection_and_a_push_trigger(alt_stacks: dict[str, Any], alternative: dict[str, Any]) -> None:
    for stack in alt_stacks.values():
        assert "aws_codecommit_repository" not in stack["resource"]
        (pipeline,) = stack["resource"]["aws_codepipeline"].values()
        source = pipeline["stage"][0]["action"][0]
        assert source["provider"] == "CodeStarSourceConnection"
        assert source["configuration"]["ConnectionArn"] == alternative["codeconnections_arn"]
        (trigger,) = pipeline["trigger"]
        assert trigger["provider_type"] == "CodeStarSourceConnection"
        assert trigger["git_configuration"]["source_action_name"] == "Source"
    clone = alt_stacks["BuildPipelineStack"]["output"]["build_repo_clone_url_http"]["value"]
    assert clone.startswith("https://github.com/example-org/")


@pytest.mark.parametrize("stage", ["build", "train", "deploy"])
def test_notifications_on_pipeline_end_states(alt_stacks: dict[str, Any], alternative: dict[str, Any], stage: str) -> None:
    stack = alt_stacks[f"{stage.capitalize()}PipelineStack"]
    assert f"{stage}_notifications_topic_arn" in stack["output"]
    rules = stack["resource"]["aws_cloudwatch_event_rule"].values()
    patterns = [json.loads(rule["event_pattern"]) for rule in rules if "event_pattern" in rule]  # the monitor's schedule has none
    states = [p["detail"]["state"] for p in patterns if p["source"] == ["aws.codepipeline"]]
    assert states == [["FAILED", "STOPPED", "SUCCEEDED"]]
    (topic,) = stack["resource"]["aws_sns_topic"].values()
    assert "aws_kms_key" in topic["kms_master_key_id"]
    (subscription,) = stack["resource"]["aws_sns_topic_subscription"].values()
    assert subscription["endpoint"] == alternative[f"{stage}_notifications_email"]


def test_no_approval_stage_when_not_required(alt_stacks: dict[str, Any], alternative: dict[str, Any]) -> None:
    stack = alt_stacks["DeployPipelineStack"]
    (pipeline,) = stack["resource"]["aws_codepipeline"].values()
    assert [s["name"] for s in pipeline["stage"]] == ["Source", "Deploy"]
    assert stack["output"]["approval_topic_arn"]["value"] == ""


def test_builds_may_read_the_stack_outputs_from_remote_state(alt_stacks: dict[str, Any], alternative: dict[str, Any]) -> None:
    for stack in alt_stacks.values():
        docs = stack["data"]["aws_iam_policy_document"]
        statements = [s for doc in docs.values() for s in doc["statement"] if s.get("sid") == "ReadStackOutputs"]
        assert statements  # one per project: the deploy stack's monitor project reads them too
        for read in statements:
            assert read["actions"] == ["s3:GetObject"]
            assert sorted(r.rsplit("/", 1)[1] for r in read["resources"]) == sorted(f"{name}.tfstate" for name in STACKS)
            assert all(alternative["state_bucket"] in r for r in read["resources"])
