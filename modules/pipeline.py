"""A CodePipeline (V2) with its encrypted artifact store, its role and event-driven triggers."""

from __future__ import annotations

import json
from typing import Any

from cdktn_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktn_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktn_provider_aws.codepipeline import (
    Codepipeline,
    CodepipelineArtifactStore,
    CodepipelineArtifactStoreEncryptionKey,
    CodepipelineStage,
    CodepipelineTrigger,
)
from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from ml.config import ProjectConfig
from modules.build_project import BuildProject, role_name
from modules.kms import EncryptionKey
from modules.policy import AccountFacts, Statement, assume_role_document, policy_document
from modules.secure_bucket import SecureBucket


def _plumbing_statements(*, artifacts: SecureBucket, key: EncryptionKey, builds: list[BuildProject]) -> list[Statement]:
    """The artifact store, the stack key, and starting the pipeline's own builds."""
    return [
        Statement(
            sid="ArtifactStore",
            actions=["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:GetBucketLocation", "s3:GetBucketVersioning"],
            resources=[artifacts.arn, f"{artifacts.arn}/*"],
        ),
        Statement(sid="UseStackKey", actions=["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"], resources=[key.arn]),
        Statement(sid="RunBuilds", actions=["codebuild:BatchGetBuilds", "codebuild:StartBuild"], resources=[b.arn for b in builds]),
    ]


class Pipeline(Construct):
    """One pipeline. Stages come from the stack; this owns the plumbing they share.

    ``statements`` are what the sources and approval need (read the repository, publish to
    the approval topic); starting the ``builds`` and using the artifact store are added here.
    Call :meth:`trigger_on` once per event that should start a run.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: ProjectConfig,
        facts: AccountFacts,
        name: str,
        key: EncryptionKey,
        artifacts: SecureBucket,
        stages: list[CodepipelineStage],
        builds: list[BuildProject],
        statements: list[Statement],
        triggers: list[CodepipelineTrigger] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self._config = config
        self._facts = facts
        self.artifacts = artifacts
        trust = assume_role_document(self, "trust", "codepipeline.amazonaws.com", account_id=facts.account_id)
        self.role = IamRole(self, "role", name=role_name(config, id_), assume_role_policy=trust.json)
        base = _plumbing_statements(artifacts=artifacts, key=key, builds=builds)
        document = policy_document(self, "permissions", base + statements)
        policy = IamRolePolicy(self, "policy", role=self.role.id, name="least-privilege", policy=document.json)
        self.pipeline = Codepipeline(
            self,
            "pipeline",
            name=name,
            pipeline_type="V2",
            execution_mode="QUEUED",
            role_arn=self.role.arn,
            artifact_store=[
                CodepipelineArtifactStore(
                    location=artifacts.name,
                    type="S3",
                    encryption_key=CodepipelineArtifactStoreEncryptionKey(id=key.arn, type="KMS"),
                )
            ],
            stage=stages,
            trigger=triggers or None,
            depends_on=[policy],
        )
        self.arn: str = self.pipeline.arn
        self.name: str = self.pipeline.name
        self.events_role = self._events_role()
        self.rules: dict[str, CloudwatchEventRule] = {}

    def _events_role(self) -> IamRole:
        """The role EventBridge assumes to start this pipeline, and nothing else."""
        facts = self._facts
        events_trust = assume_role_document(self, "events-trust", "events.amazonaws.com", account_id=facts.account_id)
        role = IamRole(self, "events-role", name=role_name(self._config, f"{self.node.id}-events"), assume_role_policy=events_trust.json)
        start = policy_document(
            self, "events-permissions", [Statement(actions=["codepipeline:StartPipelineExecution"], resources=[self.arn])]
        )
        IamRolePolicy(self, "events-policy", role=role.id, name="start-pipeline", policy=start.json)
        return role

    def trigger_on(self, id_: str, *, description: str, pattern: dict[str, Any]) -> CloudwatchEventRule:
        """Start the pipeline when EventBridge sees ``pattern`` (a push, an object, an image)."""
        rule = CloudwatchEventRule(
            self,
            f"{id_}-rule",
            name_prefix=f"{self._config.project_name}-{id_}-"[:38],
            description=description,
            event_pattern=json.dumps(pattern, sort_keys=True),
        )
        CloudwatchEventTarget(self, f"{id_}-target", rule=rule.name, arn=self.arn, role_arn=self.events_role.arn)
        self.rules[id_] = rule
        return rule
