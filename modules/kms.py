"""A customer-managed KMS key per stack, with rotation and a key policy that names its users."""

from __future__ import annotations

from cdktn_provider_aws.kms_alias import KmsAlias
from cdktn_provider_aws.kms_key import KmsKey
from constructs import Construct

from modules.policy import AccountFacts, Statement, policy_json

# The account root keeps full administration without a "kms:*" wildcard: listing the actions
# keeps the key manageable (no lock-out) while IAM policies grant the day-to-day use.
ADMIN_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]
# What a service needs to write to (and read from) a resource encrypted with the key.
USE_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"]


class EncryptionKey(Construct):
    """One rotating key for a stack's buckets, topics, log groups and images.

    ``services`` are principals (``events.amazonaws.com``) that must encrypt with the key on
    their own, such as EventBridge publishing to an encrypted topic. CloudWatch Logs in the
    stack's region may use it only for this account's log groups.
    """

    def __init__(self, scope: Construct, id_: str, *, alias: str, facts: AccountFacts, services: list[str]) -> None:
        super().__init__(scope, id_)
        root = f"arn:{facts.partition}:iam::{facts.account_id}:root"
        # In a key policy "*" means "this key": key policies cannot name another resource.
        statements = [
            Statement(sid="AccountAdministers", actions=ADMIN_ACTIONS, resources=["*"], principals={"AWS": [root]}),
            Statement(
                sid="LogsEncryptLogGroups",
                actions=USE_ACTIONS,
                resources=["*"],
                principals={"Service": [f"logs.{facts.region}.amazonaws.com"]},
                conditions=[("ArnLike", "kms:EncryptionContext:aws:logs:arn", [facts.arn("logs", "log-group:*")])],
            ),
        ]
        if services:
            statements.append(
                Statement(
                    sid="ServicesPublishEncrypted",
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=["*"],
                    principals={"Service": sorted(services)},
                    conditions=[("StringEquals", "aws:SourceAccount", [facts.account_id])],
                )
            )
        self.key = KmsKey(
            self,
            "key",
            description=f"Encrypts {alias}: artifacts, data, topics, logs and images",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy_json(statements),
        )
        self.alias = KmsAlias(self, "alias", name=f"alias/{alias}", target_key_id=self.key.key_id)
        self.arn: str = self.key.arn
