"""DeployPipelineStack: source, manual approval, then a blue/green deploy guarded by alarms."""

from __future__ import annotations

from pathlib import Path

from cdktn_provider_aws.codepipeline import CodepipelineStage, CodepipelineStageAction
from constructs import Construct

from ml.config import ProjectConfig
from ml.names import TRANSFORM_LOG_GROUP, TRANSFORM_OUTPUT_PREFIX, TRANSFORM_SPLITS_PREFIX, Output, candidate_report_key
from modules.alarms import EndpointAlarms
from modules.approver import LIST_MODEL_PACKAGES, read_registry
from modules.build_project import BuildProject, read_buildspec
from modules.monitor_schedule import MonitorSchedule
from modules.notifications import EmailTopic
from modules.pipeline import Pipeline
from modules.policy import AccountFacts, Statement
from modules.source import SOURCE_OUTPUT, SourceRepository
from modules.stacks.base import PipelineStack, outputs_environment
from modules.stacks.build import BuildPipelineStack
from modules.stacks.train import TrainPipelineStack, pass_role

DEFAULT_MODE = "endpoint"


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


def approval_configuration(*, config: ProjectConfig, topic_arn: str, datalake: str) -> dict[str, str]:
    """The manual approval's message and link: the candidate's report in the data lake.

    The train project writes each new version's report to a fixed key as well as its own
    (``invoke report``), so a static ExternalEntityLink always opens the newest candidate's
    report, with its metrics beside the serving version's. The link is the S3 console's page for
    the object: the bucket stays private and the approver reads it with their own console
    permissions; CustomData (at most 500 characters) names the object for the email.
    """
    key = candidate_report_key(config.model_package_group)
    return {
        "NotificationArn": topic_arn,
        "CustomData": (
            f"Deploy the approved {config.model_package_group} model? Before approving, read the candidate's "
            f"training report (metrics beside the version now serving): s3://{datalake}/{key}"
        ),
        "ExternalEntityLink": f"https://{config.region}.console.aws.amazon.com/s3/object/{datalake}?region={config.region}&prefix={key}",
    }


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
            sid="ReadTransformDataLog", actions=["logs:FilterLogEvents"], resources=[facts.arn("logs", f"log-group:{TRANSFORM_LOG_GROUP}")]
        ),
    ]


class DeployPipelineStack(PipelineStack):
    """Deploys the registry's approved model. Its role can touch only this project's endpoint.

    ``train`` supplies the SageMaker role, model package group and data lake as cross-stack
    references, so no name is typed twice; ``build`` and ``train`` supply the outputs the deploy
    project carries.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: ProjectConfig,
        project_root: Path,
        build: BuildPipelineStack,
        train: TrainPipelineStack,
    ) -> None:
        super().__init__(scope, id_, config=config, project_root=project_root, key_services=["events.amazonaws.com"])
        facts = self.facts
        project = config.project_name
        self.alarms = EndpointAlarms(self, "alarms", config=config)
        self.source = SourceRepository(self, "deploy-source", config=config, name=config.deploy_repo, branch=config.deploy_branch)
        self.build = BuildProject(
            self,
            "deploy",
            config=config,
            facts=facts,
            name=config.deploy_project,
            buildspec=read_buildspec("deploy"),
            key=self.key,
            artifacts=self.artifacts,
            environment={"DEPLOY_MODE": DEFAULT_MODE},
            timeout_minutes=config.project_timeout_minutes("deploy"),
            statements=[
                *self.state_access,
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
                Statement(
                    sid="TransformJobs",
                    actions=[
                        "sagemaker:AddTags",
                        "sagemaker:CreateTransformJob",
                        "sagemaker:DescribeTransformJob",
                        "sagemaker:StopTransformJob",
                    ],
                    resources=[facts.arn("sagemaker", f"transform-job/{project}*")],
                ),
                read_registry(config, facts),
                LIST_MODEL_PACKAGES,
                # Teardown finds this endpoint's configs and models, and the transform jobs still
                # using a model, by listing; these List actions have no resource-level permissions.
                Statement(
                    sid="ListForTeardown",
                    actions=["sagemaker:ListEndpointConfigs", "sagemaker:ListModels", "sagemaker:ListTransformJobs"],
                    resources=["*"],
                ),
                *autoscaling_statements(config, facts),
                pass_role(train.sagemaker_role.arn),
                # GetObjectVersion: a split reads the very version of its input that names the job.
                Statement(sid="ReadDataLake", actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[f"{train.datalake.arn}/*"]),
                *transform_split_statements(datalake_arn=train.datalake.arn, facts=facts),
                # Decrypt reads the data lake; GenerateDataKey writes the split and the joined output.
                Statement(sid="DataLakeKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[train.key.arn]),
            ],
        )
        statements = list(self.source.permissions)
        stages = [CodepipelineStage(name="Source", action=[self.source.action])]
        self.approval: EmailTopic | None = None
        if config.deploy_approval_required:
            self.approval = EmailTopic(
                self, "deploy-approval", config=config, facts=facts, key=self.key, email=config.deploy_approval_email, publishers=[]
            )
            statements.append(Statement(sid="RequestApproval", actions=["sns:Publish"], resources=[self.approval.arn]))
            approve = CodepipelineStageAction(
                name="ApproveDeployment",
                category="Approval",
                owner="AWS",
                provider="Manual",
                version="1",
                configuration=approval_configuration(config=config, topic_arn=self.approval.arn, datalake=train.datalake.name),
            )
            stages.append(CodepipelineStage(name="Approve", action=[approve]))
        deploy = self.build.pipeline_action(name="Deploy", inputs=[SOURCE_OUTPUT])
        stages.append(CodepipelineStage(name="Deploy", action=[deploy]))
        self.pipeline = Pipeline(
            self,
            "deploy-pipeline",
            config=config,
            facts=facts,
            name=config.deploy_pipeline,
            key=self.key,
            artifacts=self.artifacts,
            builds=[self.build],
            triggers=self.source.pipeline_trigger,
            statements=statements,
            stages=stages,
        )
        self.connect(stage="deploy", pipeline=self.pipeline, source=self.source, email=config.deploy_notifications_email)
        self.monitor = MonitorSchedule(
            self,
            "monitor",
            config=config,
            facts=facts,
            key=self.key,
            artifacts=self.artifacts,
            source=self.source,
            datalake_arn=train.datalake.arn,
            datalake_key_arn=train.key.arn,
            extra_statements=self.state_access,
            topic_arn=self.notifications.arn if self.notifications else None,
        )
        # The configured name, not the project's token: the deploy project carries this stack's
        # outputs, and the rehearsal resolves only the references the pipelines' projects need.
        self.output(Output.MONITOR_PROJECT_NAME, config.monitor_project, "CodeBuild project that runs invoke monitor on a schedule")
        self.output(Output.APPROVAL_TOPIC_ARN, self.approval.arn if self.approval else "", "SNS topic that asks for deployment approval")
        self.output(Output.DEPLOY_REPO_CLONE_URL_HTTP, self.source.clone_url_http, "Clone URL of the deploy repository")
        # The configured name, not the pipeline's token: the project that the pipeline runs
        # carries this value, and a reference would make it depend on its own pipeline (a cycle).
        self.output(Output.DEPLOY_PIPELINE_NAME, config.deploy_pipeline, "Deploy pipeline name")
        self.output(Output.ENDPOINT_NAME, config.endpoint_name, "The real-time endpoint the pipeline deploys")
        self.output(Output.ALARM_NAMES, self.alarms.names, "CloudWatch alarms that roll a blue/green update back")
        self.output(Output.DEPLOY_ARTIFACT_BUCKET, self.artifacts.name, "Deploy pipeline artifact bucket")
        self.build.add_variables(outputs_environment(build, train, self))
        self.monitor.project.add_variables(outputs_environment(build, train, self))
