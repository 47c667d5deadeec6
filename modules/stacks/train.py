"""TrainPipelineStack: data lake, SageMaker role, model registry and the training pipeline."""

from __future__ import annotations

from pathlib import Path

from cdktn_provider_aws.codepipeline import CodepipelineStage, CodepipelineStageAction
from cdktn_provider_aws.ecr_repository import EcrRepository
from cdktn_provider_aws.sagemaker_model_package_group import SagemakerModelPackageGroup
from constructs import Construct

from ml.config import ProjectConfig
from ml.names import TRAINING_DATA_KEY, Output
from modules.approver import LIST_MODEL_PACKAGES, PIN_IMAGES, ApproverPolicy, model_packages_arn
from modules.build_project import BuildProject, read_buildspec
from modules.pipeline import Pipeline
from modules.policy import AccountFacts, Statement
from modules.sagemaker_logs import SageMakerLogGroups
from modules.sagemaker_role import TRAINING_LOGS, SageMakerExecutionRole
from modules.secure_bucket import SecureBucket, bucket_prefix
from modules.source import SOURCE_OUTPUT, SourceRepository
from modules.stacks.base import PipelineStack, outputs_environment
from modules.stacks.build import TRACKED_TAG, BuildPipelineStack

DATA_OUTPUT = "data"
IMAGE_OUTPUT = "image"


def pass_role(role_arn: str) -> Statement:
    """iam:PassRole on the SageMaker role only, and only to SageMaker."""
    return Statement(
        sid="PassSageMakerRole",
        actions=["iam:PassRole"],
        resources=[role_arn],
        conditions=[("StringEquals", "iam:PassedToService", ["sagemaker.amazonaws.com"])],
    )


def training_job_statements(config: ProjectConfig, facts: AccountFacts) -> list[Statement]:
    """Start, tag and follow this project's training jobs."""
    return [
        Statement(
            sid="RunTrainingJobs",
            actions=["sagemaker:AddTags", "sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:ListTags"],
            resources=[facts.arn("sagemaker", f"training-job/{config.project_name}*")],
        )
    ]


def registration_statements(config: ProjectConfig, facts: AccountFacts, *, group_arn: str, image_arn: str) -> list[Statement]:
    """Register versions in the group, record their reports, and pin their images."""
    packages = model_packages_arn(config, facts)
    return [
        # CreateModelPackage may name the group and the new version (the SAR lists both).
        Statement(sid="RegisterModels", actions=["sagemaker:CreateModelPackage"], resources=[group_arn, packages]),
        Statement(sid="ReadModelVersions", actions=["sagemaker:DescribeModelPackage"], resources=[packages]),
        # `invoke report` records the report's data lake URI on the version it describes,
        # and reads which version the endpoint serves, to compare the two.
        # The Null condition keeps approval a person's decision: a request that sets
        # ModelApprovalStatus at all is not allowed by this statement.
        Statement(
            sid="RecordReports",
            actions=["sagemaker:UpdateModelPackage"],
            resources=[packages],
            conditions=[("Null", "sagemaker:ModelApprovalStatus", ["true"])],
        ),
        Statement(
            sid="ReadServingEndpoint",
            actions=["sagemaker:DescribeEndpoint"],
            resources=[facts.arn("sagemaker", f"endpoint/{config.endpoint_name}")],
        ),
        LIST_MODEL_PACKAGES,
        # Registration pins the version's image (ml/backends/sagemaker/image_pins.py).
        Statement(sid="PinImages", actions=PIN_IMAGES, resources=[image_arn]),
    ]


def training_log_statements(facts: AccountFacts) -> list[Statement]:
    """Find and tail the training job's log streams (``invoke train`` streams them).

    DescribeLogStreams needs the group's ARN with a trailing ``:*``: botocore's logs model says to
    use that form in IAM policies for most actions, and IAM evaluates "log-group:NAME:log-stream:".
    """
    return [
        Statement(
            sid="FindTrainingLogs", actions=["logs:DescribeLogStreams"], resources=[facts.arn("logs", f"log-group:{TRAINING_LOGS}:*")]
        ),
        Statement(
            sid="FollowTrainingLogs",
            actions=["logs:GetLogEvents"],
            resources=[facts.arn("logs", f"log-group:{TRAINING_LOGS}:log-stream:*")],
        ),
    ]


def source_actions(*, source: SourceRepository, datalake: SecureBucket, image: EcrRepository) -> list[CodepipelineStageAction]:
    """The three sources of a run: the train repository, the training data and the image."""
    return [
        source.action,
        CodepipelineStageAction(
            name="TrainingData",
            category="Source",
            owner="AWS",
            provider="S3",
            version="1",
            output_artifacts=[DATA_OUTPUT],
            configuration={"S3Bucket": datalake.name, "S3ObjectKey": TRAINING_DATA_KEY, "PollForSourceChanges": "false"},
        ),
        CodepipelineStageAction(
            name="Image",
            category="Source",
            owner="AWS",
            provider="ECR",
            version="1",
            output_artifacts=[IMAGE_OUTPUT],
            configuration={"RepositoryName": image.name, "ImageTag": TRACKED_TAG},
        ),
    ]


def source_statements(*, source: SourceRepository, datalake: SecureBucket, image: EcrRepository) -> list[Statement]:
    """What the pipeline role needs to read its three sources."""
    return [
        *source.permissions,
        Statement(sid="DataSourceBucket", actions=["s3:GetBucketVersioning"], resources=[datalake.arn]),
        Statement(
            sid="DataSourceObject",
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=[f"{datalake.arn}/{TRAINING_DATA_KEY}"],
        ),
        Statement(sid="ImageSource", actions=["ecr:DescribeImages"], resources=[image.arn]),
    ]


class TrainPipelineStack(PipelineStack):
    """Any of three events starts a run: a push to the train branch, a new
    ``iris/input/iris.csv`` in the data lake (S3 to EventBridge, no CloudTrail) or a new image in
    the build stack's ECR repository.

    The code and the image reach the build; the data does not. The S3 source action records which
    object version the run started from, but its artifact is the bare CSV, and "downstream actions
    that expect a .zip file will fail" (CodePipeline's S3 source action reference): CodeBuild
    unzips every input artifact. The training job reads the data from S3 itself and records the
    object version it read, so nothing is lost, and users keep uploading a plain CSV.
    """

    def __init__(self, scope: Construct, id_: str, *, config: ProjectConfig, project_root: Path, build: BuildPipelineStack) -> None:
        super().__init__(scope, id_, config=config, project_root=project_root, key_services=["events.amazonaws.com"])
        image = build.ecr
        self.datalake = SecureBucket(
            self,
            "datalake",
            prefix=bucket_prefix(config.project_name, "datalake"),
            key=self.key,
            # Captured requests and responses are personal data more often than not: they expire.
            expiring_prefixes={f"{config.capture_prefix}/": config.capture_expiry_days},
        )
        self.sagemaker_role = SageMakerExecutionRole(
            self, "sagemaker", config=config, facts=self.facts, bucket_arn=self.datalake.arn, ecr_repository_arn=image.arn, key=self.key
        )
        self.sagemaker_logs = SageMakerLogGroups(self, "sagemaker-logs", config=config, key=self.key, groups=[TRAINING_LOGS])
        self.model_package_group = SagemakerModelPackageGroup(
            self,
            "model-package-group",
            model_package_group_name=config.model_package_group,
            model_package_group_description=f"{config.project_name} models trained by {config.train_pipeline}",
        )
        self.approver = ApproverPolicy(
            self, "approver", config=config, facts=self.facts, group_arn=self.model_package_group.arn, ecr_repository_arn=image.arn
        )
        self.source = SourceRepository(self, "train-source", config=config, name=config.train_repo, branch=config.train_branch)
        self.build = self._train_project(image)
        self.pipeline = self._pipeline(image)
        self._trigger_on_data_and_image(image)
        self.connect(stage="train", pipeline=self.pipeline, source=self.source, email=config.train_notifications_email)
        self._outputs()
        self.build.add_variables(outputs_environment(build, self))

    def _train_project(self, image: EcrRepository) -> BuildProject:
        """The CodeBuild project that runs ``invoke train``, with what training and registration need."""
        config, facts = self.config, self.facts
        return BuildProject(
            self,
            "train",
            config=config,
            facts=facts,
            name=config.train_project,
            buildspec=read_buildspec("train"),
            key=self.key,
            artifacts=self.artifacts,
            timeout_minutes=config.project_timeout_minutes("train"),
            statements=[
                *self.state_access,
                *training_job_statements(config, facts),
                *registration_statements(config, facts, group_arn=self.model_package_group.arn, image_arn=image.arn),
                pass_role(self.sagemaker_role.arn),
                Statement(sid="ReadWriteDataLake", actions=["s3:GetObject", "s3:PutObject"], resources=[f"{self.datalake.arn}/*"]),
                # A data set under a prefix is sized by listing it, before the job (training_volume_size_gb).
                Statement(sid="SizeTrainingData", actions=["s3:ListBucket"], resources=[self.datalake.arn]),
                *training_log_statements(facts),
            ],
        )

    def _pipeline(self, image: EcrRepository) -> Pipeline:
        """Source (code, data, image), then train and register."""
        sources = source_actions(source=self.source, datalake=self.datalake, image=image)
        # imageDetail.json arrives as the secondary source $CODEBUILD_SRC_DIR_image: the run trains
        # the image that triggered it. The data artifact is not an input (see the class docstring).
        train = self.build.pipeline_action(name="TrainAndRegister", inputs=[SOURCE_OUTPUT, IMAGE_OUTPUT])
        return Pipeline(
            self,
            "train-pipeline",
            config=self.config,
            facts=self.facts,
            name=self.config.train_pipeline,
            key=self.key,
            artifacts=self.artifacts,
            builds=[self.build],
            triggers=self.source.pipeline_trigger,
            statements=source_statements(source=self.source, datalake=self.datalake, image=image),
            stages=[CodepipelineStage(name="Source", action=sources), CodepipelineStage(name="Train", action=[train])],
        )

    def _trigger_on_data_and_image(self, image: EcrRepository) -> None:
        """New training data in the data lake, or a new tracked image, starts a run."""
        self.pipeline.trigger_on(
            "train-data",
            description=f"New s3://<datalake>/{TRAINING_DATA_KEY}",
            pattern={
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": [self.datalake.name]}, "object": {"key": [TRAINING_DATA_KEY]}},
            },
        )
        self.pipeline.trigger_on(
            "train-image",
            description=f"New image pushed with tag {TRACKED_TAG}",
            pattern={
                "source": ["aws.ecr"],
                "detail-type": ["ECR Image Action"],
                "detail": {"action-type": ["PUSH"], "result": ["SUCCESS"], "repository-name": [image.name], "image-tag": [TRACKED_TAG]},
            },
        )

    def _outputs(self) -> None:
        self.output(Output.DATALAKE_BUCKET, self.datalake.name, "Data lake bucket; upload the training data to iris/input/iris.csv")
        self.output(Output.DATALAKE_KEY_ARN, self.key.arn, "KMS key of the data lake; endpoints encrypt captured data with it")
        self.output(Output.SAGEMAKER_ROLE_ARN, self.sagemaker_role.arn, "SageMaker execution role ARN")
        self.output(Output.MODEL_PACKAGE_GROUP, self.model_package_group.model_package_group_name, "Model registry package group")
        self.output(Output.APPROVER_POLICY_ARN, self.approver.arn, "Managed policy to attach to the people who approve model versions")
        self.output(Output.TRAIN_REPO_CLONE_URL_HTTP, self.source.clone_url_http, "Clone URL of the train repository")
        # The configured name, not the pipeline's token: the project that the pipeline runs
        # carries this value, and a reference would make it depend on its own pipeline (a cycle).
        self.output(Output.TRAIN_PIPELINE_NAME, self.config.train_pipeline, "Train pipeline name")
        self.output(Output.ARTIFACT_BUCKET, self.artifacts.name, "Train pipeline artifact bucket")
