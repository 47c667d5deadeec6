"""The deploy project's permissions, one named builder per concern."""

from __future__ import annotations

from ml.config import ProjectConfig
from ml.names import TRANSFORM_LOG_GROUP, TRANSFORM_OUTPUT_PREFIX, TRANSFORM_SPLITS_PREFIX
from modules.approver import LIST_MODEL_PACKAGES, read_registry
from modules.policy import AccountFacts, Statement
from modules.stacks.train import TrainPipelineStack, pass_role


def autoscaling_statements(config: ProjectConfig, facts: AccountFacts) -> list[Statement]:
    """Target-tracking autoscaling of the endpoint's variant (ml/backends/sagemaker/scaling.py).

    SageMaker's "Auto scaling prerequisites" list: the Application Auto Scaling actions, the
    CloudWatch alarms a target-tracking policy creates and deletes with the caller's permissions
    (named ``TargetTracking-<resource id>-Alarm*``), and the service-linked role it creates on
    first use, for that one service only. A scalable target's ARN ends in an id AWS assigns, so
    the resource is a wildcard held to SageMaker variants by the namespace and dimension keys.
    """
    service = "sagemaker.application-autoscaling.amazonaws.com"
    linked_role = f"role/aws-service-role/{service}/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
    return [
        Statement(
            sid="ScaleEndpointVariant",
            actions=[
                "application-autoscaling:DeleteScalingPolicy",
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:RegisterScalableTarget",
            ],
            resources=[facts.arn("application-autoscaling", "scalable-target/*")],
            conditions=[
                ("StringEquals", "application-autoscaling:service-namespace", ["sagemaker"]),
                ("StringEquals", "application-autoscaling:scalable-dimension", ["sagemaker:variant:DesiredInstanceCount"]),
            ],
        ),
        Statement(
            sid="ReadScaling",
            actions=["application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies"],
            resources=["*"],
        ),
        Statement(
            sid="TargetTrackingAlarms",
            actions=["cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm"],
            resources=[facts.arn("cloudwatch", f"alarm:TargetTracking-endpoint/{config.endpoint_name}/variant/*")],
        ),
        Statement(
            sid="AutoScalingServiceRole",
            actions=["iam:CreateServiceLinkedRole"],
            resources=[facts.arn("iam", linked_role, region=False)],
            conditions=[("StringEquals", "iam:AWSServiceName", [service])],
        ),
    ]


def model_statements(config: ProjectConfig, facts: AccountFacts) -> list[Statement]:
    """Create, describe and delete this project's models, endpoint configs and endpoint."""
    project = config.project_name
    return [
        Statement(
            sid="Models",
            actions=[
                "sagemaker:AddTags",
                "sagemaker:CreateModel",
                "sagemaker:DeleteModel",
                "sagemaker:DescribeModel",
                "sagemaker:ListTags",
            ],
            resources=[facts.arn("sagemaker", f"model/{project}*")],
        ),
        Statement(
            sid="EndpointConfigs",
            actions=[
                "sagemaker:AddTags",
                # CreateEndpoint and UpdateEndpoint are authorized against the endpoint
                # AND the endpoint config they name (both resource types are required).
                "sagemaker:CreateEndpoint",
                "sagemaker:CreateEndpointConfig",
                "sagemaker:DeleteEndpointConfig",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:ListTags",
                "sagemaker:UpdateEndpoint",
            ],
            resources=[facts.arn("sagemaker", f"endpoint-config/{project}*")],
        ),
        Statement(
            sid="Endpoint",
            actions=[
                "sagemaker:AddTags",
                "sagemaker:CreateEndpoint",
                "sagemaker:DeleteEndpoint",
                "sagemaker:DescribeEndpoint",
                "sagemaker:InvokeEndpoint",
                # Reads the deployment history tag before appending to it (ml/backends/sagemaker/deployments.py).
                "sagemaker:ListTags",
                "sagemaker:UpdateEndpoint",
                # Application Auto Scaling sets the variant's capacity as the caller.
                "sagemaker:UpdateEndpointWeightsAndCapacities",
            ],
            resources=[facts.arn("sagemaker", f"endpoint/{config.endpoint_name}")],
        ),
    ]


def new_fleet_alarm_statements(config: ProjectConfig, facts: AccountFacts) -> list[Statement]:
    """Put, read and delete the update's new-fleet alarms (ml/backends/sagemaker/guardrail_alarms.py)."""
    return [
        Statement(
            sid="NewFleetAlarms",
            actions=["cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm"],
            resources=[facts.arn("cloudwatch", f"alarm:{config.endpoint_name}-new-fleet-*")],
        )
    ]


def monitor_schedule_statements(config: ProjectConfig, facts: AccountFacts) -> list[Statement]:
    """Turn the monitor's schedule on after a deploy and off at teardown (ml/backends/sagemaker/schedule.py)."""
    return [
        Statement(
            sid="MonitorScheduleState",
            actions=["events:DescribeRule", "events:DisableRule", "events:EnableRule"],
            resources=[facts.arn("events", f"rule/{config.monitor_schedule_rule}")],
        )
    ]


def transform_statements(config: ProjectConfig, facts: AccountFacts) -> list[Statement]:
    """Run, follow and stop this project's batch transform jobs."""
    return [
        Statement(
            sid="TransformJobs",
            actions=[
                "sagemaker:AddTags",
                "sagemaker:CreateTransformJob",
                "sagemaker:DescribeTransformJob",
                "sagemaker:StopTransformJob",
            ],
            resources=[facts.arn("sagemaker", f"transform-job/{config.project_name}*")],
        )
    ]


def registry_and_listing_statements(config: ProjectConfig, facts: AccountFacts) -> list[Statement]:
    """Read the registry's versions, and list what teardown must find."""
    return [
        read_registry(config, facts),
        LIST_MODEL_PACKAGES,
        # Teardown finds this endpoint's configs and models, and the transform jobs still
        # using a model, by listing; these List actions have no resource-level permissions.
        Statement(
            sid="ListForTeardown",
            actions=["sagemaker:ListEndpointConfigs", "sagemaker:ListModels", "sagemaker:ListTransformJobs"],
            resources=["*"],
        ),
    ]


def datalake_statements(train: TrainPipelineStack, facts: AccountFacts) -> list[Statement]:
    """Pass the SageMaker role, read the data lake (transform input, reports), split and join
    transform input and output in it, with its key."""
    return [
        pass_role(train.sagemaker_role.arn),
        # GetObjectVersion: a split reads the very version of its input that names the job.
        Statement(sid="ReadDataLake", actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[f"{train.datalake.arn}/*"]),
        *transform_split_statements(datalake_arn=train.datalake.arn, facts=facts),
        # Decrypt reads the data lake; GenerateDataKey writes the split and the joined output.
        Statement(sid="DataLakeKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[train.key.arn]),
    ]


def transform_split_statements(*, datalake_arn: str, facts: AccountFacts) -> list[Statement]:
    """Batch transform across instances (ml/backends/sagemaker/splitjoin.py): the deploy project
    splits a single input into parts under ``transform-splits/``, lists the parts' outputs there,
    joins them into ``iris/output/`` (multipart uploads, aborted on failure), deletes the split by
    version, and reads the failed parts' lines from the job's data log."""
    splits = f"{datalake_arn}/{TRANSFORM_SPLITS_PREFIX}/*"
    return [
        Statement(
            sid="SplitTransformInput",
            actions=["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObject"],
            resources=[splits],
        ),
        Statement(
            sid="ListTransformSplits",
            actions=["s3:ListBucket"],
            resources=[datalake_arn],
            conditions=[("StringLike", "s3:prefix", [f"{TRANSFORM_SPLITS_PREFIX}/*"])],
        ),
        Statement(
            sid="JoinTransformOutput",
            actions=["s3:AbortMultipartUpload", "s3:PutObject"],
            resources=[f"{datalake_arn}/{TRANSFORM_OUTPUT_PREFIX}/*"],
        ),
        Statement(
            sid="ReadTransformDataLog",
            actions=["logs:FilterLogEvents"],
            resources=[facts.arn("logs", f"log-group:{TRANSFORM_LOG_GROUP}:*")],
        ),
    ]
