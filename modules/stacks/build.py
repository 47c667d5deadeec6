"""BuildPipelineStack: the image repository and the pipeline that builds and pushes the image."""

from __future__ import annotations

import json
from pathlib import Path

from cdktn_provider_aws.codepipeline import CodepipelineStage
from cdktn_provider_aws.ecr_lifecycle_policy import EcrLifecyclePolicy
from cdktn_provider_aws.ecr_pull_through_cache_rule import EcrPullThroughCacheRule
from cdktn_provider_aws.ecr_repository import (
    EcrRepository,
    EcrRepositoryEncryptionConfiguration,
    EcrRepositoryImageScanningConfiguration,
    EcrRepositoryImageTagMutabilityExclusionFilter,
)
from constructs import Construct

from ml.config import ProjectConfig
from ml.names import BASE_IMAGE_UPSTREAM, PINNED_IMAGE_TAG_PREFIX, TRACKED_IMAGE_TAG, Output, pull_through_prefix
from modules.build_project import BuildProject, read_buildspec
from modules.pipeline import Pipeline
from modules.policy import Statement
from modules.source import SOURCE_OUTPUT, SourceRepository
from modules.stacks.base import PipelineStack, outputs_environment

# The train pipeline's ECR source follows this tag; every other tag (the git commit) is immutable.
TRACKED_TAG = TRACKED_IMAGE_TAG
KEEP_IMAGES = 30
# "Never expire" in a lifecycle policy: a count no repository reaches (ECR's default quota is
# 20,000 images a repository), in a rule of higher priority than any expiring rule.
KEEP_PINNED_IMAGES = 10000
ECR_PUSH = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:DescribeImages",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
]


# Pulling through the cache: ECR creates the cache repository on the first pull and imports the
# upstream image ("IAM permissions required to sync an upstream registry", ECR user guide).
BASE_IMAGE_PULL = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:BatchImportUpstreamImage",
    "ecr:CreateRepository",
    "ecr:GetDownloadUrlForLayer",
]


def lifecycle_rules() -> dict[str, object]:
    """Expire old images, never one a registered model version uses.

    ECR applies rules by priority, and an image that a higher-priority rule selects cannot be
    expired by a lower one. Rule 1 selects the images pinned by a registration tag
    (:mod:`ml.backends.sagemaker.image_pins`) and keeps them; the others expire the rest.
    """
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": "Keep every image a registered model version uses",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": [PINNED_IMAGE_TAG_PREFIX],
                    "countType": "imageCountMoreThan",
                    "countNumber": KEEP_PINNED_IMAGES,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": "Drop untagged layers after a day",
                "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1},
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 3,
                "description": f"Keep the newest {KEEP_IMAGES} other images",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": KEEP_IMAGES},
                "action": {"type": "expire"},
            },
        ]
    }


class BuildPipelineStack(PipelineStack):
    """ECR repository (owned here and only here), build repository, privileged build, pipeline."""

    def __init__(self, scope: Construct, id_: str, *, config: ProjectConfig, project_root: Path) -> None:
        super().__init__(scope, id_, config=config, project_root=project_root, key_services=["events.amazonaws.com"])
        self.ecr = self._repository()
        EcrLifecyclePolicy(self, "ecr-lifecycle", repository=self.ecr.name, policy=json.dumps(lifecycle_rules()))
        # The Dockerfile's Debian base, pulled from ECR Public through this account's registry: no
        # anonymous Docker Hub pull (rate-limited per shared CodeBuild address) in any build.
        prefix = pull_through_prefix(config.project_name)
        self.base_image_cache = EcrPullThroughCacheRule(
            self, "base-image-cache", ecr_repository_prefix=prefix, upstream_registry_url=BASE_IMAGE_UPSTREAM
        )
        self.source = SourceRepository(self, "build-source", config=config, name=config.build_repo, branch=config.build_branch)
        self.build = self._build_project()
        self.pipeline = Pipeline(
            self,
            "build-pipeline",
            config=config,
            facts=self.facts,
            name=config.build_pipeline,
            key=self.key,
            artifacts=self.artifacts,
            builds=[self.build],
            statements=self.source.permissions,
            triggers=self.source.pipeline_trigger,
            stages=[
                CodepipelineStage(name="Source", action=[self.source.action]),
                CodepipelineStage(name="Build", action=[self.build.pipeline_action(name="BuildAndPushImage", inputs=[SOURCE_OUTPUT])]),
            ],
        )
        self.connect(stage="build", pipeline=self.pipeline, source=self.source, email=config.build_notifications_email)
        self._outputs()
        self.build.add_variables(outputs_environment(self))

    def _repository(self) -> EcrRepository:
        """Every tag immutable but the tracked one; scanned on push; encrypted with the stack key."""
        return EcrRepository(
            self,
            "ecr",
            name=self.config.ecr_repo,
            image_tag_mutability="IMMUTABLE_WITH_EXCLUSION",
            image_tag_mutability_exclusion_filter=[
                EcrRepositoryImageTagMutabilityExclusionFilter(filter=TRACKED_TAG, filter_type="WILDCARD")
            ],
            image_scanning_configuration=EcrRepositoryImageScanningConfiguration(scan_on_push=True),
            encryption_configuration=[EcrRepositoryEncryptionConfiguration(encryption_type="KMS", kms_key=self.key.arn)],
        )

    def _build_project(self) -> BuildProject:
        """The privileged project that builds the image and pushes it (only this one is privileged)."""
        config = self.config
        return BuildProject(
            self,
            "build",
            config=config,
            facts=self.facts,
            name=config.build_project,
            buildspec=read_buildspec("build"),
            key=self.key,
            artifacts=self.artifacts,
            privileged=True,  # buildah/docker inside CodeBuild needs it; only this project has it
            timeout_minutes=config.project_timeout_minutes("build"),
            statements=[
                *self.state_access,
                Statement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
                Statement(sid="EcrPush", actions=ECR_PUSH, resources=[self.ecr.arn]),
                Statement(
                    sid="PullBaseImageThroughCache",
                    actions=BASE_IMAGE_PULL,
                    resources=[self.facts.arn("ecr", f"repository/{pull_through_prefix(config.project_name)}/*")],
                ),
            ],
        )

    def _outputs(self) -> None:
        self.output(Output.ECR_REPOSITORY_URL, self.ecr.repository_url, "Image repository URI (push target of invoke build-image)")
        self.output(Output.ECR_REPOSITORY_NAME, self.ecr.name, "Image repository name")
        self.output(Output.ECR_REPOSITORY_ARN, self.ecr.arn, "Image repository ARN")
        self.output(Output.BUILD_REPO_CLONE_URL_HTTP, self.source.clone_url_http, "Clone URL of the container source repository")
        # The configured name, not the pipeline's token: the project that the pipeline runs
        # carries this value, and a reference would make it depend on its own pipeline (a cycle).
        self.output(Output.BUILD_PIPELINE_NAME, self.config.build_pipeline, "Build pipeline name")
        self.output(Output.BUILD_ARTIFACT_BUCKET, self.artifacts.name, "Build pipeline artifact bucket")
