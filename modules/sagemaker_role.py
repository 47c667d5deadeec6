"""The SageMaker execution role: one bucket, one image repository, its own log groups."""

from __future__ import annotations

from cdktn_provider_aws.iam_role import IamRole
from cdktn_provider_aws.iam_role_policy import IamRolePolicy
from constructs import Construct

from ml.config import ProjectConfig
from ml.names import TRAINING_LOG_GROUP, TRANSFORM_LOG_GROUP, endpoint_log_group
from modules.build_project import role_name
from modules.kms import EncryptionKey
from modules.policy import AccountFacts, Statement, assume_role_document, policy_document

TRAINING_LOGS, TRANSFORM_LOGS = TRAINING_LOG_GROUP, TRANSFORM_LOG_GROUP


class SageMakerExecutionRole(Construct):
    """What training jobs, endpoints and transform jobs run as (instead of AmazonSageMakerFullAccess)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: ProjectConfig,
        facts: AccountFacts,
        bucket_arn: str,
        ecr_repository_arn: str,
        key: EncryptionKey,
    ) -> None:
        super().__init__(scope, id_)
        trust = assume_role_document(self, "trust", "sagemaker.amazonaws.com", account_id=facts.account_id)
        self.role = IamRole(self, "role", name=role_name(config, "sagemaker-execution"), assume_role_policy=trust.json)
        self.arn: str = self.role.arn
        alarms = facts.arn("cloudwatch", f"alarm:{config.endpoint_name}-*")
        # Training and transform jobs log to the shared groups; an endpoint to a group of its own.
        groups = [facts.arn("logs", f"log-group:{group}") for group in (TRAINING_LOGS, TRANSFORM_LOGS)]
        groups.append(facts.arn("logs", f"log-group:{endpoint_log_group(config.endpoint_name)}"))
        statements = [
            Statement(sid="ListDataLake", actions=["s3:ListBucket"], resources=[bucket_arn]),
            Statement(
                sid="ReadWriteDataLake", actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], resources=[f"{bucket_arn}/*"]
            ),
            # kms:Encrypt: endpoints encrypt captured data with the key named in DataCaptureConfig.
            Statement(sid="DataLakeKey", actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], resources=[key.arn]),
            Statement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            Statement(
                sid="PullImage",
                actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                resources=[ecr_repository_arn],
            ),
            # The group's ARN with a trailing ":*": IAM evaluates these actions on
            # "log-group:NAME:log-stream:", which a bare group ARN does not match.
            Statement(sid="OwnLogGroups", actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"], resources=[f"{g}:*" for g in groups]),
            Statement(
                sid="OwnLogStreams", actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[f"{g}:log-stream:*" for g in groups]
            ),
            # Deployment guardrails read the auto-rollback alarms as this role; the alarms
            # (modules/alarms.py) are named after the endpoint and live in the deploy stack.
            Statement(sid="ReadRollbackAlarms", actions=["cloudwatch:DescribeAlarms"], resources=[alarms]),
            Statement(
                sid="PublishSageMakerMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions=[("StringLike", "cloudwatch:namespace", ["/aws/sagemaker/*", "aws/sagemaker/*"])],
            ),
        ]
        IamRolePolicy(
            self, "policy", role=self.role.id, name="least-privilege", policy=policy_document(self, "permissions", statements).json
        )
