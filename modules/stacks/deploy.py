"""DeployPipelineStack: source, manual approval, then a blue/green deploy guarded by alarms."""

from __future__ import annotations

from pathlib import Path

from cdktn_provider_aws.codepipeline import CodepipelineStage, CodepipelineStageAction
from constructs import Construct

from ml.config import ProjectConfig
from ml.names import TRANSFORM_LOG_GROUP, Output, candidate_report_key, endpoint_log_group
from modules.alarms import EndpointAlarms
from modules.build_project import BuildProject, read_buildspec
from modules.monitor_schedule import MonitorSchedule
from modules.notifications import EmailTopic
from modules.pipeline import Pipeline
from modules.policy import Statement
from modules.sagemaker_logs import SageMakerLogGroups
from modules.source import SOURCE_OUTPUT, SourceRepository
from modules.stacks.base import PipelineStack, outputs_environment
from modules.stacks.build import BuildPipelineStack
from modules.stacks.deploy_permissions import (
    autoscaling_statements,
    datalake_statements,
    model_statements,
    monitor_schedule_statements,
    new_fleet_alarm_statements,
    registry_and_listing_statements,
    transform_statements,
)
from modules.stacks.train import TrainPipelineStack

DEFAULT_MODE = "endpoint"


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
        self.alarms = EndpointAlarms(self, "alarms", config=config)
        self.sagemaker_logs = SageMakerLogGroups(
            self, "sagemaker-logs", config=config, key=self.key, groups=[TRANSFORM_LOG_GROUP, endpoint_log_group(config.endpoint_name)]
        )
        self.source = SourceRepository(self, "deploy-source", config=config, name=config.deploy_repo, branch=config.deploy_branch)
        self.build = self._deploy_project(train)
        self.approval: EmailTopic | None = None
        self.pipeline = self._pipeline(train)
        self.connect(stage="deploy", pipeline=self.pipeline, source=self.source, email=config.deploy_notifications_email)
        self.monitor = self._monitor(train)
        self._outputs()
        self.build.add_variables(outputs_environment(build, train, self))
        self.monitor.project.add_variables(outputs_environment(build, train, self))

    def _deploy_project(self, train: TrainPipelineStack) -> BuildProject:
        """The CodeBuild project that runs ``invoke deploy``; its role reaches only this endpoint."""
        config, facts = self.config, self.facts
        return BuildProject(
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
                *model_statements(config, facts),
                *transform_statements(config, facts),
                *registry_and_listing_statements(config, facts),
                *autoscaling_statements(config, facts),
                *new_fleet_alarm_statements(config, facts),
                *monitor_schedule_statements(config, facts),
                *datalake_statements(train, facts),
            ],
        )

    def _approval_stage(self, train: TrainPipelineStack) -> tuple[CodepipelineStage, Statement]:
        """The manual approval (an email through the KMS-encrypted topic) and the right to publish to it."""
        config = self.config
        topic = self.approval = EmailTopic(
            self, "deploy-approval", config=config, facts=self.facts, key=self.key, email=config.deploy_approval_email, publishers=[]
        )
        publish = Statement(sid="RequestApproval", actions=["sns:Publish"], resources=[topic.arn])
        approve = CodepipelineStageAction(
            name="ApproveDeployment",
            category="Approval",
            owner="AWS",
            provider="Manual",
            version="1",
            configuration=approval_configuration(config=config, topic_arn=topic.arn, datalake=train.datalake.name),
        )
        return CodepipelineStage(name="Approve", action=[approve]), publish

    def _pipeline(self, train: TrainPipelineStack) -> Pipeline:
        """Source, the approval when required, then deploy."""
        statements = list(self.source.permissions)
        stages = [CodepipelineStage(name="Source", action=[self.source.action])]
        if self.config.deploy_approval_required:
            stage, publish = self._approval_stage(train)
            statements.append(publish)
            stages.append(stage)
        deploy = self.build.pipeline_action(name="Deploy", inputs=[SOURCE_OUTPUT])
        stages.append(CodepipelineStage(name="Deploy", action=[deploy]))
        return Pipeline(
            self,
            "deploy-pipeline",
            config=self.config,
            facts=self.facts,
            name=self.config.deploy_pipeline,
            key=self.key,
            artifacts=self.artifacts,
            builds=[self.build],
            triggers=self.source.pipeline_trigger,
            statements=statements,
            stages=stages,
        )

    def _monitor(self, train: TrainPipelineStack) -> MonitorSchedule:
        """The scheduled ``invoke monitor`` run; a failed one mails the deploy topic when there is one."""
        return MonitorSchedule(
            self,
            "monitor",
            config=self.config,
            facts=self.facts,
            key=self.key,
            artifacts=self.artifacts,
            source=self.source,
            datalake_arn=train.datalake.arn,
            datalake_key_arn=train.key.arn,
            extra_statements=self.state_access,
            topic_arn=self.notifications.arn if self.notifications else None,
        )

    def _outputs(self) -> None:
        config = self.config
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
