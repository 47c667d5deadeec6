"""A CodeBuild project with its own least-privilege role and a log group that expires."""

from __future__ import annotations

from pathlib import Path

from cdktn_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktn_provider_aws.codebuild_project import (
    CodebuildProject,
    CodebuildProjectArtifacts,
    CodebuildProjectEnvironment,
    CodebuildProjectEnvironmentEnvironmentVariable,
    CodebuildProjectLogsConfig,
    CodebuildProjectLogsConfigCloudwatchLogs,
    CodebuildProjectSource,
)
from cdktn_provider_aws.codepipeline import CodepipelineStageAction
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from ml.config import ProjectConfig
from modules.kms import EncryptionKey
from modules.policy import AccountFacts, Statement, assume_role_document, policy_document
from modules.secure_bucket import SecureBucket

BUILDSPEC_DIR = Path(__file__).resolve().parent.parent / "buildspecs"
IMAGE = "aws/codebuild/standard:7.0"


def role_name(config: ProjectConfig, purpose: str) -> str:
    """An IAM role name unique per project and region (IAM names are global to the account)."""
    return f"{config.project_name}-{config.region}-{purpose}"[:64]


def read_buildspec(name: str) -> str:
    """The buildspec file's text; the project embeds it, so the repo's file is what runs."""
    return (BUILDSPEC_DIR / f"{name}.yml").read_text(encoding="utf-8")


class BuildProject(Construct):
    """Runs one of ``buildspecs/*.yml`` inside a pipeline, or on its own from ``source``.

    The role gets logging to its own group, the pipeline's artifact bucket and key, and the
    ``statements`` the caller passes (the stack does the grants, so this stays generic).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: ProjectConfig,
        facts: AccountFacts,
        name: str,
        buildspec: str,
        key: EncryptionKey,
        artifacts: SecureBucket,
        statements: list[Statement],
        privileged: bool = False,
        environment: dict[str, str] | None = None,
        timeout_minutes: int,
        source: CodebuildProjectSource | None = None,
        source_version: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.log_group = CloudwatchLogGroup(
            self, "logs", name=f"/aws/codebuild/{name}", retention_in_days=config.log_retention_days, kms_key_id=key.arn
        )
        trust = assume_role_document(self, "trust", "codebuild.amazonaws.com", account_id=facts.account_id)
        self.role = IamRole(self, "role", name=role_name(config, f"{id_}-codebuild"), assume_role_policy=trust.json)
        base = self._own_statements(key=key, artifacts=artifacts, in_pipeline=source is None)
        document = policy_document(self, "permissions", base + statements)
        IamRolePolicy(self, "policy", role=self.role.id, name="least-privilege", policy=document.json)
        self._variables = dict(environment or {})
        self.project = CodebuildProject(
            self,
            "project",
            name=name,
            description=f"{config.project_name}: runs buildspecs/{id_}.yml",
            service_role=self.role.arn,
            build_timeout=timeout_minutes,
            encryption_key=key.arn,
            artifacts=CodebuildProjectArtifacts(type="CODEPIPELINE" if source is None else "NO_ARTIFACTS"),
            source=source or CodebuildProjectSource(type="CODEPIPELINE", buildspec=buildspec),
            source_version=source_version,
            environment=self._environment(privileged=privileged),
            logs_config=CodebuildProjectLogsConfig(
                cloudwatch_logs=CodebuildProjectLogsConfigCloudwatchLogs(status="ENABLED", group_name=self.log_group.name)
            ),
        )
        self.arn: str = self.project.arn
        self.name: str = self.project.name

    def _own_statements(self, *, key: EncryptionKey, artifacts: SecureBucket, in_pipeline: bool) -> list[Statement]:
        """Its own log group and the stack key; in a pipeline, the artifact bucket too."""
        base = [
            # The group's ARN with ":*": the form IAM policies use for log actions (botocore's logs model).
            Statement(sid="WriteOwnLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[f"{self.log_group.arn}:*"]),
            Statement(
                sid="UseStackKey", actions=["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"], resources=[key.arn]
            ),
        ]
        if not in_pipeline:
            return base
        # CodeBuild itself: it downloads the source artifact and uploads the output artifacts
        # of the pipeline, encrypted with the stack key, and writes the build's log. A project
        # that is not in a pipeline (it pulls its own source) has no artifacts to touch.
        return [
            *base,
            Statement(sid="PipelineArtifactBucket", actions=["s3:GetBucketLocation", "s3:GetBucketVersioning"], resources=[artifacts.arn]),
            Statement(
                sid="PipelineArtifacts",
                actions=["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
                resources=[f"{artifacts.arn}/*"],
            ),
        ]

    def _environment(self, *, privileged: bool) -> CodebuildProjectEnvironment:
        return CodebuildProjectEnvironment(
            compute_type="BUILD_GENERAL1_SMALL",
            image=IMAGE,
            type="LINUX_CONTAINER",
            image_pull_credentials_type="CODEBUILD",
            privileged_mode=privileged,
            environment_variable=self._environment_variables(),
        )

    def _environment_variables(self) -> list[CodebuildProjectEnvironmentEnvironmentVariable]:
        return [CodebuildProjectEnvironmentEnvironmentVariable(name=k, value=v, type="PLAINTEXT") for k, v in self._variables.items()]

    def pipeline_action(self, *, name: str, inputs: list[str]) -> CodepipelineStageAction:
        """The pipeline action that runs this project; the first input is the primary source,
        the others arrive as ``$CODEBUILD_SRC_DIR_<artifact>``."""
        configuration = {"ProjectName": self.name}
        if len(inputs) > 1:
            configuration["PrimarySource"] = inputs[0]
        return CodepipelineStageAction(
            name=name,
            category="Build",
            owner="AWS",
            provider="CodeBuild",
            version="1",
            input_artifacts=inputs,
            configuration=configuration,
        )

    def add_variables(self, variables: dict[str, str]) -> None:
        """Add environment variables once their values exist (the stack's outputs come last)."""
        self._variables.update(variables)
        self.project.environment.put_environment_variable(self._environment_variables())
