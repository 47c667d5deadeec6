"""The scheduled monitor: a CodeBuild project of its own that runs ``invoke monitor`` on AWS.

Its own project, not the deploy project: the deploy role can create and delete endpoints, and a
read-only job that runs on a timer should not carry those powers. The deploy project's source
is the pipeline's artifact, which a timer cannot supply, so this project pulls the deploy
repository itself (CodeCommit, or GitHub through the CodeConnections connection).

An EventBridge rule starts it on ``monitor_schedule``; a second rule sends a FAILED build (a
breach exits 3, an error 1) to the deploy notifications topic, when that topic exists.
"""

from __future__ import annotations

import json

from cdktn import TerraformResourceLifecycle
from cdktn_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktn_provider_aws.cloudwatch_event_target import CloudwatchEventTarget, CloudwatchEventTargetInputTransformer
from cdktn_provider_aws.codebuild_project import CodebuildProjectSource, CodebuildProjectSourceAuth
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from ml.config import ProjectConfig
from ml.names import MONITOR_REPORTS_PREFIX
from modules.approver import LIST_MODEL_PACKAGES, read_registry
from modules.build_project import BuildProject, read_buildspec, role_name
from modules.kms import EncryptionKey
from modules.policy import AccountFacts, Statement, assume_role_document, policy_document
from modules.secure_bucket import SecureBucket
from modules.source import SourceRepository

MONITOR_TIMEOUT_MINUTES = 60  # reading a day of capture: minutes (docs/benchmarks/monitor.md), plus pipenv sync


def monitor_statements(*, config: ProjectConfig, facts: AccountFacts, datalake_arn: str, datalake_key_arn: str) -> list[Statement]:
    """What ``invoke monitor --backend sagemaker`` calls (ml/monitor): read-only, this endpoint and group only."""
    return [
        Statement(
            sid="DescribeEndpoint",
            # ListTags: the endpoint's deployment history (the byoc:deployments tag), which says
            # which version answered each captured record (ml/backends/sagemaker/deployments.py).
            actions=["sagemaker:DescribeEndpoint", "sagemaker:ListTags"],
            resources=[facts.arn("sagemaker", f"endpoint/{config.endpoint_name}")],
        ),
        LIST_MODEL_PACKAGES,
        read_registry(config, facts),
        Statement(
            sid="ListCapture",
            actions=["s3:ListBucket"],
            resources=[datalake_arn],
            conditions=[("StringLike", "s3:prefix", [f"{config.capture_prefix}/*"])],
        ),
        Statement(
            sid="ReadCaptureAndModels",
            actions=["s3:GetObject"],
            resources=[f"{datalake_arn}/{config.capture_prefix}/*", f"{datalake_arn}/models/*"],
        ),
        # The HTML report, under its own prefix (ml/monitor/publish.py); the bucket's default KMS key encrypts it.
        Statement(sid="WriteReports", actions=["s3:PutObject"], resources=[f"{datalake_arn}/{MONITOR_REPORTS_PREFIX}/*"]),
        Statement(sid="DataLakeKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[datalake_key_arn]),
    ]


def _source(config: ProjectConfig, source: SourceRepository) -> tuple[CodebuildProjectSource, list[Statement]]:
    buildspec = read_buildspec("monitor")
    if source.repository is not None:
        pull = Statement(sid="PullSource", actions=["codecommit:GitPull"], resources=[source.arn])
        return CodebuildProjectSource(type="CODECOMMIT", location=source.clone_url_http, buildspec=buildspec), [pull]
    service = config.codeconnections_arn.split(":")[2]
    auth = CodebuildProjectSourceAuth(type="CODECONNECTIONS", resource=config.codeconnections_arn)
    use = Statement(sid="UseConnection", actions=[f"{service}:GetConnectionToken", f"{service}:UseConnection"], resources=[source.arn])
    return CodebuildProjectSource(type="GITHUB", location=source.clone_url_http, buildspec=buildspec, auth=auth), [use]


class MonitorSchedule(Construct):
    """The monitor project, its schedule, and the breach notification."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: ProjectConfig,
        facts: AccountFacts,
        key: EncryptionKey,
        artifacts: SecureBucket,
        source: SourceRepository,
        datalake_arn: str,
        datalake_key_arn: str,
        extra_statements: list[Statement],
        topic_arn: str | None,
    ) -> None:
        super().__init__(scope, id_)
        project_source, pull = _source(config, source)
        self.project = BuildProject(
            self,
            "monitor",
            config=config,
            facts=facts,
            name=config.monitor_project,
            buildspec=project_source.buildspec or "",
            key=key,
            artifacts=artifacts,
            timeout_minutes=MONITOR_TIMEOUT_MINUTES,
            source=project_source,
            source_version=f"refs/heads/{source.branch}",
            statements=[
                *pull,
                *extra_statements,
                *monitor_statements(config=config, facts=facts, datalake_arn=datalake_arn, datalake_key_arn=datalake_key_arn),
            ],
        )
        trust = assume_role_document(self, "events-trust", "events.amazonaws.com", account_id=facts.account_id)
        self.events_role = IamRole(self, "events-role", name=role_name(config, "monitor-schedule"), assume_role_policy=trust.json)
        start = Statement(sid="StartMonitor", actions=["codebuild:StartBuild"], resources=[self.project.arn])
        IamRolePolicy(
            self, "events-policy", role=self.events_role.id, name="start-monitor", policy=policy_document(self, "start", [start]).json
        )
        # Created disabled: with no endpoint yet, every run would fail. The deploy enables it once
        # the endpoint is InService and teardown disables it (ml/backends/sagemaker/schedule.py);
        # Terraform leaves that state to them instead of reverting it on the next deploy.
        self.schedule = CloudwatchEventRule(
            self,
            "schedule",
            name=config.monitor_schedule_rule,
            description=f"Run invoke monitor on {config.endpoint_name}",
            schedule_expression=config.monitor_schedule,
            state="DISABLED",
            lifecycle=TerraformResourceLifecycle(ignore_changes=["state"]),
        )
        CloudwatchEventTarget(self, "run", rule=self.schedule.name, arn=self.project.arn, role_arn=self.events_role.arn)
        self.breach_rule: CloudwatchEventRule | None = None
        if topic_arn is not None:
            self.breach_rule = self._notify(config, topic_arn)

    def _notify(self, config: ProjectConfig, topic_arn: str) -> CloudwatchEventRule:
        pattern = {
            "source": ["aws.codebuild"],
            "detail-type": ["CodeBuild Build State Change"],
            "detail": {"build-status": ["FAILED"], "project-name": [self.project.name]},
        }
        rule = CloudwatchEventRule(
            self,
            "breach",
            name=f"{config.project_name}-monitor-breach",
            description="A monitor run that failed: a threshold breached (exit 3) or an error (exit 1)",
            event_pattern=json.dumps(pattern, sort_keys=True),
        )
        message = (
            f'"Monitor of {config.endpoint_name} failed (build <build>): a drift threshold was breached or the run hit an error. '
            'The build log has the table: <logs>"'
        )
        transformer = CloudwatchEventTargetInputTransformer(
            input_paths={"build": "$.detail.build-id", "logs": "$.detail.additional-information.logs.deep-link"}, input_template=message
        )
        CloudwatchEventTarget(self, "notify", rule=rule.name, arn=topic_arn, input_transformer=transformer)
        return rule
