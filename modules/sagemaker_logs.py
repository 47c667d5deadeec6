"""The log groups SageMaker writes to, declared so they expire and are encrypted.

SageMaker creates ``/aws/sagemaker/TrainingJobs``, ``/aws/sagemaker/TransformJobs`` and
``/aws/sagemaker/Endpoints/<endpoint>`` on first use, with no retention ("never expire") and no
key. Declared here they carry ``log_retention_days`` and the stack key, and ``cdktf destroy``
removes them. The first two are shared by every SageMaker job of the account in the region:
``invoke preflight`` says when one already exists, and how to import it into this stack.
"""

from __future__ import annotations

from cdktn_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from constructs import Construct

from ml.config import ProjectConfig
from modules.kms import EncryptionKey


class SageMakerLogGroups(Construct):
    """One ``aws_cloudwatch_log_group`` per name in ``groups``, with retention and ``key``."""

    def __init__(self, scope: Construct, id_: str, *, config: ProjectConfig, key: EncryptionKey, groups: list[str]) -> None:
        super().__init__(scope, id_)
        self.groups = {
            name: CloudwatchLogGroup(
                self, name.rsplit("/", 1)[-1].lower(), name=name, retention_in_days=config.log_retention_days, kms_key_id=key.arn
            )
            for name in groups
        }
