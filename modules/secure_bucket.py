"""An S3 bucket that is versioned, KMS-encrypted, private, TLS-only and tells EventBridge."""

from __future__ import annotations

from collections.abc import Mapping

from cdktn_provider_aws.s3_bucket import S3Bucket
from cdktn_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
)
from cdktn_provider_aws.s3_bucket_notification import S3BucketNotification
from cdktn_provider_aws.s3_bucket_ownership_controls import S3BucketOwnershipControls, S3BucketOwnershipControlsRule
from cdktn_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktn_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktn_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktn_provider_aws.s3_bucket_versioning import S3BucketVersioningA, S3BucketVersioningVersioningConfiguration
from constructs import Construct

from modules.kms import EncryptionKey
from modules.policy import Statement, policy_document

# S3 allows 37 characters of bucket_prefix; Terraform appends a unique 26-character suffix,
# so two projects, regions or accounts never ask for the same global name.
MAX_PREFIX = 37


def bucket_prefix(project: str, purpose: str) -> str:
    """A bucket_prefix that fits S3's limit and still reads as ``<project>-<purpose>-``."""
    suffix = f"-{purpose}-"
    return project[: MAX_PREFIX - len(suffix)].rstrip("-") + suffix


class SecureBucket(Construct):
    """A bucket that cannot be made public, is encrypted with ``key`` and denies plain HTTP.

    Object-level events go to EventBridge, which is how the train pipeline notices new data
    without polling and without CloudTrail.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        prefix: str,
        key: EncryptionKey,
        noncurrent_days: int = 90,
        expiring_prefixes: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.bucket = S3Bucket(self, "bucket", bucket_prefix=prefix, force_destroy=False)
        self.name: str = self.bucket.bucket
        self.arn: str = self.bucket.arn
        S3BucketOwnershipControls(
            self, "ownership", bucket=self.bucket.id, rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced")
        )
        self.public_access_block = S3BucketPublicAccessBlock(
            self,
            "public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        S3BucketVersioningA(
            self, "versioning", bucket=self.bucket.id, versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled")
        )
        self._encrypt(key)
        self._expire_old_versions(noncurrent_days, dict(expiring_prefixes or {}))
        self.notification = S3BucketNotification(self, "eventbridge", bucket=self.bucket.id, eventbridge=True)
        self._deny_plain_http()

    def _encrypt(self, key: EncryptionKey) -> None:
        S3BucketServerSideEncryptionConfigurationA(
            self,
            "encryption",
            bucket=self.bucket.id,
            rule=[
                S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                        sse_algorithm="aws:kms", kms_master_key_id=key.arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
        )

    def _expire_old_versions(self, noncurrent_days: int, expiring_prefixes: dict[str, int]) -> None:
        """Old versions and abandoned multipart uploads do not pile up; objects under each of
        ``expiring_prefixes`` expire after its number of days, and their old versions a day later."""
        rules = [
            S3BucketLifecycleConfigurationRule(
                id="expire-old-versions-and-uploads",
                status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                noncurrent_version_expiration=[
                    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=noncurrent_days)
                ],
                abort_incomplete_multipart_upload=[
                    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=7)
                ],
            )
        ]
        rules += [
            S3BucketLifecycleConfigurationRule(
                id=f"expire-{prefix.strip('/').replace('/', '-')}",
                status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix=prefix)],
                expiration=[S3BucketLifecycleConfigurationRuleExpiration(days=days)],
                noncurrent_version_expiration=[S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=1)],
            )
            for prefix, days in sorted(expiring_prefixes.items())
        ]
        S3BucketLifecycleConfiguration(self, "lifecycle", bucket=self.bucket.id, rule=rules)

    def _deny_plain_http(self) -> None:
        tls_only = policy_document(
            self,
            "tls-only",
            [
                Statement(
                    sid="DenyInsecureTransport",
                    effect="Deny",
                    # A Deny is the one place a service wildcard narrows access: every S3 call over HTTP fails.
                    actions=["s3:*"],
                    resources=[self.arn, f"{self.arn}/*"],
                    principals={"AWS": ["*"]},
                    conditions=[("Bool", "aws:SecureTransport", ["false"])],
                )
            ],
        )
        # The policy waits for the public-access block, or S3 may judge it before the block exists.
        S3BucketPolicy(self, "policy", bucket=self.bucket.id, policy=tls_only.json, depends_on=[self.public_access_block])
