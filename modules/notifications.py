"""KMS-encrypted SNS topics: pipeline state notifications and the deploy approval request."""

from __future__ import annotations

import json

from cdktn_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktn_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktn_provider_aws.sns_topic import SnsTopic
from cdktn_provider_aws.sns_topic_policy import SnsTopicPolicy
from cdktn_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from ml.config import ProjectConfig
from modules.kms import EncryptionKey
from modules.pipeline import Pipeline
from modules.policy import AccountFacts, Statement, policy_document

NOTIFY_STATES = ["FAILED", "STOPPED", "SUCCEEDED"]


class EmailTopic(Construct):
    """An SNS topic encrypted with ``key``, with one email subscription.

    ``publishers`` are service principals allowed to publish, only on behalf of this account.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: ProjectConfig,
        facts: AccountFacts,
        key: EncryptionKey,
        email: str,
        publishers: list[str],
    ) -> None:
        super().__init__(scope, id_)
        self.topic = SnsTopic(self, "topic", name=f"{config.project_name}-{id_}", kms_master_key_id=key.arn)
        self.arn: str = self.topic.arn
        root = f"arn:{facts.partition}:iam::{facts.account_id}:root"
        statements = [
            Statement(
                sid="AccountManagesTopic",
                actions=[
                    "sns:GetTopicAttributes",
                    "sns:ListSubscriptionsByTopic",
                    "sns:Publish",
                    "sns:SetTopicAttributes",
                    "sns:Subscribe",
                ],
                resources=[self.arn],
                principals={"AWS": [root]},
            ),
            Statement(
                sid="DenyInsecureTransport",
                effect="Deny",
                actions=["sns:Publish"],
                resources=[self.arn],
                principals={"AWS": ["*"]},
                conditions=[("Bool", "aws:SecureTransport", ["false"])],
            ),
        ]
        if publishers:
            statements.append(
                Statement(
                    sid="ServicesPublish",
                    actions=["sns:Publish"],
                    resources=[self.arn],
                    principals={"Service": sorted(publishers)},
                    conditions=[("StringEquals", "aws:SourceAccount", [facts.account_id])],
                )
            )
        SnsTopicPolicy(self, "policy", arn=self.arn, policy=policy_document(self, "policy-document", statements).json)
        self.subscription = SnsTopicSubscription(self, "email", topic_arn=self.arn, protocol="email", endpoint=email)


class PipelineNotifications(Construct):
    """Emails ``email`` when ``pipeline`` ends FAILED, STOPPED or SUCCEEDED (an EventBridge rule)."""

    def __init__(
        self, scope: Construct, id_: str, *, config: ProjectConfig, facts: AccountFacts, key: EncryptionKey, email: str, pipeline: Pipeline
    ) -> None:
        super().__init__(scope, id_)
        self.topic = EmailTopic(self, id_, config=config, facts=facts, key=key, email=email, publishers=["events.amazonaws.com"])
        self.arn: str = self.topic.arn
        pattern = {
            "source": ["aws.codepipeline"],
            "detail-type": ["CodePipeline Pipeline Execution State Change"],
            "resources": [pipeline.arn],
            "detail": {"state": NOTIFY_STATES},
        }
        self.rule = CloudwatchEventRule(
            self,
            "rule",
            name_prefix=f"{config.project_name}-{id_}-"[:38],
            description=f"Pipeline {', '.join(NOTIFY_STATES)} to email",
            event_pattern=json.dumps(pattern, sort_keys=True),
        )
        CloudwatchEventTarget(self, "target", rule=self.rule.name, arn=self.arn)
