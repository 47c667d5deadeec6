"""Where a pipeline's code comes from: a CodeCommit repository, or GitHub through CodeConnections."""

from __future__ import annotations

from typing import Any

from cdktn_provider_aws.codecommit_repository import CodecommitRepository
from cdktn_provider_aws.codepipeline import (
    CodepipelineStageAction,
    CodepipelineTrigger,
    CodepipelineTriggerGitConfiguration,
    CodepipelineTriggerGitConfigurationPush,
    CodepipelineTriggerGitConfigurationPushBranches,
)
from constructs import Construct

from ml.config import ProjectConfig
from modules.policy import Statement

SOURCE_OUTPUT = "source"


class SourceRepository(Construct):
    """A git source for one pipeline and what the pipeline needs to use it.

    With ``source_provider = codecommit`` this creates the repository; a push to ``branch``
    starts the pipeline through an EventBridge rule (:attr:`push_event_pattern`). With
    ``codeconnections`` the repository is ``github_owner/<name>`` on GitHub and the V2
    pipeline's own push trigger (:attr:`pipeline_trigger`) starts it. Neither polls.
    """

    def __init__(self, scope: Construct, id_: str, *, config: ProjectConfig, name: str, branch: str) -> None:
        super().__init__(scope, id_)
        self.branch = branch
        self.provider = config.source_provider
        self.repository: CodecommitRepository | None = None
        if config.source_provider == "codecommit":
            self.repository = CodecommitRepository(
                self, "repository", repository_name=name, description=f"{config.project_name}: {id_}", default_branch=branch
            )
            self.clone_url_http: str = self.repository.clone_url_http
            self.arn: str = self.repository.arn
            self.action = CodepipelineStageAction(
                name="Source",
                category="Source",
                owner="AWS",
                provider="CodeCommit",
                version="1",
                output_artifacts=[SOURCE_OUTPUT],
                configuration={"RepositoryName": self.repository.repository_name, "BranchName": branch, "PollForSourceChanges": "false"},
            )
            self.permissions = [
                Statement(
                    sid="ReadSource",
                    actions=[
                        "codecommit:CancelUploadArchive",
                        "codecommit:GetBranch",
                        "codecommit:GetCommit",
                        "codecommit:GetRepository",
                        "codecommit:GetUploadArchiveStatus",
                        "codecommit:UploadArchive",
                    ],
                    resources=[self.arn],
                )
            ]
        else:
            full_name = f"{config.github_owner}/{name}"
            self.clone_url_http = f"https://github.com/{full_name}.git"
            self.arn = config.codeconnections_arn
            self.action = CodepipelineStageAction(
                name="Source",
                category="Source",
                owner="AWS",
                provider="CodeStarSourceConnection",
                version="1",
                output_artifacts=[SOURCE_OUTPUT],
                configuration={
                    "ConnectionArn": config.codeconnections_arn,
                    "FullRepositoryId": full_name,
                    "BranchName": branch,
                    "DetectChanges": "true",  # the connection pushes webhooks; this is not polling
                    "OutputArtifactFormat": "CODE_ZIP",
                },
            )
            service = config.codeconnections_arn.split(":")[2]
            self.permissions = [
                Statement(sid="UseConnection", actions=[f"{service}:UseConnection"], resources=[config.codeconnections_arn])
            ]

    @property
    def push_event_pattern(self) -> dict[str, Any] | None:
        """EventBridge pattern for a push to the branch (CodeCommit only; GitHub uses the trigger)."""
        if self.repository is None:
            return None
        return {
            "source": ["aws.codecommit"],
            "detail-type": ["CodeCommit Repository State Change"],
            "resources": [self.arn],
            "detail": {"event": ["referenceCreated", "referenceUpdated"], "referenceType": ["branch"], "referenceName": [self.branch]},
        }

    @property
    def pipeline_trigger(self) -> list[CodepipelineTrigger]:
        """The V2 pipeline push trigger for a CodeConnections source; empty for CodeCommit."""
        if self.repository is not None:
            return []
        return [
            CodepipelineTrigger(
                provider_type="CodeStarSourceConnection",
                git_configuration=CodepipelineTriggerGitConfiguration(
                    source_action_name="Source",
                    push=[
                        CodepipelineTriggerGitConfigurationPush(
                            branches=CodepipelineTriggerGitConfigurationPushBranches(includes=[self.branch])
                        )
                    ],
                ),
            )
        ]
