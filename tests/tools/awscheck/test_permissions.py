"""The mapper (call → action and ARNs, per the SAR) and the evaluator, on single calls."""

from __future__ import annotations

from typing import Any

import pytest

from tools.awscheck.calls import Call, CallRecorder
from tools.awscheck.evaluate import Statement, UnsupportedCondition, decide
from tools.awscheck.permissions import PermissionMapper, UnknownAction

MAPPER = PermissionMapper(region="us-east-1", account="123456789012")
ARN = "arn:aws:sagemaker:us-east-1:123456789012"


def needs(service: str, operation: str, **params: Any) -> set[tuple[str, str]]:
    return {(n.action, n.resource) for n in MAPPER.needs(Call(task="t", service=service, operation=operation, params=params))}


def test_create_and_update_endpoint_need_the_endpoint_and_the_config() -> None:
    for operation in ("CreateEndpoint", "UpdateEndpoint"):
        action = f"sagemaker:{operation}"
        assert needs("sagemaker", operation, EndpointName="ep", EndpointConfigName="ep-v1") == {
            (action, f"{ARN}:endpoint/ep"),
            (action, f"{ARN}:endpoint-config/ep-v1"),
        }


def test_tags_on_create_need_add_tags_and_a_passed_role_needs_pass_role() -> None:
    found = needs("sagemaker", "CreateModel", ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", Tags=[{"Key": "k"}])
    assert found == {
        ("sagemaker:CreateModel", f"{ARN}:model/m"),
        ("sagemaker:AddTags", f"{ARN}:model/m"),
        ("iam:PassRole", "arn:aws:iam::123456789012:role/r"),
    }
    (passing,) = [n for n in MAPPER.needs(Call(task="t", service="sagemaker", operation="CreateModel", params={
        "ModelName": "m", "ExecutionRoleArn": "arn:aws:iam::123456789012:role/r"})) if n.action == "iam:PassRole"]  # fmt: skip
    assert passing.context["iam:PassedToService"] == "sagemaker.amazonaws.com"


def test_services_whose_iam_prefix_or_action_differs() -> None:
    assert needs("sagemaker-runtime", "InvokeEndpoint", EndpointName="ep") == {("sagemaker:InvokeEndpoint", f"{ARN}:endpoint/ep")}
    assert needs("s3", "HeadObject", Bucket="b", Key="k/x.csv") == {("s3:GetObject", "arn:aws:s3:::b/k/x.csv")}
    assert needs("s3", "GetObject", Bucket="b", Key="k", VersionId="v1") == {("s3:GetObjectVersion", "arn:aws:s3:::b/k")}
    assert needs("s3", "ListObjectsV2", Bucket="b", Prefix="k/") == {("s3:ListBucket", "arn:aws:s3:::b")}
    assert needs("logs", "GetLogEvents", logGroupName="/g", logStreamName="s/1") == {
        ("logs:GetLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/g:log-stream:s/1")
    }


def test_actions_without_a_nameable_resource_need_star() -> None:
    assert needs("sagemaker", "ListModelPackages", ModelPackageGroupName="g") == {("sagemaker:ListModelPackages", "*")}
    assert needs("sagemaker", "ListModels", NameContains="x") == {("sagemaker:ListModels", "*")}
    assert needs("ecr", "GetAuthorizationToken") == {("ecr:GetAuthorizationToken", "*")}


def test_arns_given_as_names_and_sagemaker_lowercase() -> None:
    package = f"{ARN}:model-package/Iris/3"
    assert needs("sagemaker", "DescribeModelPackage", ModelPackageName=package) == {
        ("sagemaker:DescribeModelPackage", f"{ARN}:model-package/iris/3")
    }


def test_an_unknown_action_or_a_missing_required_resource_is_an_error() -> None:
    with pytest.raises(UnknownAction, match="does not list"):
        needs("sagemaker", "MadeUpOperation")
    with pytest.raises(UnknownAction, match="requires a endpoint-config ARN"):
        needs("sagemaker", "CreateEndpoint", EndpointName="ep")


def test_recorder_hooks_a_client_and_names_the_task() -> None:
    import boto3
    from moto import mock_aws

    recorder = CallRecorder()
    with mock_aws():
        s3 = recorder.attach(boto3.client("s3", region_name="us-east-1"))
        with recorder.task("one"):
            s3.create_bucket(Bucket="bucket-one")
            s3.list_objects_v2(Bucket="bucket-one", Prefix="p/")
        with pytest.raises(RuntimeError, match="outside a task"):
            s3.list_buckets()
    assert [(c.task, c.service, c.operation, c.params.get("Prefix")) for c in recorder.calls] == [
        ("one", "s3", "CreateBucket", None),
        ("one", "s3", "ListObjectsV2", "p/"),
    ]


def allow(actions: tuple[str, ...], resources: tuple[str, ...], **kw: Any) -> Statement:
    return Statement(where="test", effect="Allow", actions=actions, resources=resources, **kw)


def test_wildcards_deny_and_not_action() -> None:
    identity = [allow(("sagemaker:Describe*",), ("arn:aws:sagemaker:*:1:model/pro?ect*",))]
    assert decide(identity, [], "sagemaker:DescribeModel", "arn:aws:sagemaker:x:1:model/project-a", {})[0] == "allowed"
    assert decide(identity, [], "sagemaker:describemodel", "arn:aws:sagemaker:x:1:model/project-a", {})[0] == "allowed"
    assert decide(identity, [], "sagemaker:DescribeModel", "arn:aws:sagemaker:x:1:model/Project-a", {})[0] == "not allowed"
    assert decide(identity, [], "sagemaker:DeleteModel", "arn:aws:sagemaker:x:1:model/project-a", {})[0] == "not allowed"
    deny = Statement(where="deny", effect="Deny", not_actions=("s3:GetObject",), resources=("*",))
    assert decide([allow(("s3:*",), ("*",)), deny], [], "s3:PutObject", "arn:aws:s3:::b/k", {})[0] == "denied"
    assert decide([allow(("s3:*",), ("*",)), deny], [], "s3:GetObject", "arn:aws:s3:::b/k", {})[0] == "allowed"
    # A needed "*" is granted only by "*".
    assert decide([allow(("sagemaker:ListModels",), ("arn:*",))], [], "sagemaker:ListModels", "*", {})[0] == "not allowed"


def test_conditions_we_use() -> None:
    tls = Statement(
        where="tls", effect="Deny", actions=("s3:*",), resources=("*",), conditions=(("Bool", "aws:SecureTransport", ("false",)),)
    )
    granted = [allow(("s3:GetObject",), ("arn:aws:s3:::b/*",))]
    assert decide(granted, [tls], "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": "true"})[0] == "allowed"
    assert decide(granted, [tls], "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": "false"})[0] == "denied"
    passing = [
        allow(
            ("iam:PassRole",),
            ("arn:aws:iam::1:role/r",),
            conditions=(("StringEquals", "iam:PassedToService", ("sagemaker.amazonaws.com",)),),
        )
    ]
    assert decide(passing, [], "iam:PassRole", "arn:aws:iam::1:role/r", {"iam:PassedToService": "sagemaker.amazonaws.com"})[0] == "allowed"
    assert decide(passing, [], "iam:PassRole", "arn:aws:iam::1:role/r", {"iam:PassedToService": "ec2.amazonaws.com"})[0] == "not allowed"
    assert decide(passing, [], "iam:PassRole", "arn:aws:iam::1:role/r", {})[0] == "not allowed"
    odd = [allow(("s3:GetObject",), ("*",), conditions=(("NumericLessThan", "s3:max-keys", ("10",)),))]
    with pytest.raises(UnsupportedCondition, match="NumericLessThan"):
        decide(odd, [], "s3:GetObject", "arn:aws:s3:::b/k", {"s3:max-keys": "5"})


LOGS = "arn:aws:logs:us-east-1:123456789012"


def test_log_group_actions_are_evaluated_on_the_group_arn_with_a_stream_part() -> None:
    # botocore's logs model: use the ARN "with a trailing :*" in IAM policies "for most API
    # actions"; AccessDenied names "...:log-group:NAME:log-stream:". A bare group ARN grants nothing.
    for operation in ("DescribeLogStreams", "CreateLogGroup"):
        [(action, resource)] = needs("logs", operation, logGroupName="/aws/sagemaker/TrainingJobs")
        assert (action, resource) == (f"logs:{operation}", f"{LOGS}:log-group:/aws/sagemaker/TrainingJobs:log-stream:")
        bare = [allow((action,), (f"{LOGS}:log-group:/aws/sagemaker/TrainingJobs",))]
        assert decide(bare, [], action, resource, {})[0] == "not allowed"
        trailing = [allow((action,), (f"{LOGS}:log-group:/aws/sagemaker/TrainingJobs:*",))]
        assert decide(trailing, [], action, resource, {})[0] == "allowed"
    # The tagging actions are the documented exception: the ARN without the trailing :*.
    assert needs("logs", "ListTagsForResource", resourceArn=f"{LOGS}:log-group:/g") == {
        ("logs:ListTagsForResource", f"{LOGS}:log-group:/g")
    }


def test_eventbridge_rules_on_the_default_bus_are_named_by_the_request() -> None:
    assert needs("events", "EnableRule", Name="scikit-byo-monitor-schedule") == {
        ("events:EnableRule", "arn:aws:events:us-east-1:123456789012:rule/scikit-byo-monitor-schedule")
    }
