"""Who may decide on model versions: a managed policy for the people who approve.

Approval is a person's decision (``invoke approve`` or the console), not a pipeline's, so no
role of ours approves; this policy is what to attach to the approvers' group or role.
"""

from __future__ import annotations

from cdktn_provider_aws.iam_policy import IamPolicy
from constructs import Construct

from ml.config import ProjectConfig
from modules.build_project import role_name
from modules.policy import AccountFacts, Statement, policy_document

# ListModelPackages has no resource-level permissions: the request names a group, and the SAR's
# only resource type for it (a model package) is optional, so it is authorized against "*".
LIST_MODEL_PACKAGES = Statement(sid="ListModelVersions", actions=["sagemaker:ListModelPackages"], resources=["*"])
# A registration or approval tags the version's image (same manifest, one more tag) so it never
# expires; a rejection removes that tag (ml/backends/sagemaker/image_pins.py). DescribeImages
# looks the tag up first: ECR refuses to re-put an immutable tag even for the same digest.
PIN_IMAGES = ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:PutImage"]
UNPIN_IMAGES = ["ecr:BatchDeleteImage"]


def model_packages_arn(config: ProjectConfig, facts: AccountFacts) -> str:
    """Every version of the project's group (a model package ARN names its group in lower case)."""
    return facts.arn("sagemaker", f"model-package/{config.model_package_group.lower()}/*")


def read_registry(config: ProjectConfig, facts: AccountFacts) -> Statement:
    """DescribeModelPackage on the group's versions: what deploy and the monitor need to read one."""
    return Statement(sid="ReadRegistry", actions=["sagemaker:DescribeModelPackage"], resources=[model_packages_arn(config, facts)])


class ApproverPolicy(Construct):
    """Read and decide on this group's versions, and (un)pin their images in this repository."""

    def __init__(
        self, scope: Construct, id_: str, *, config: ProjectConfig, facts: AccountFacts, group_arn: str, ecr_repository_arn: str
    ) -> None:
        super().__init__(scope, id_)
        packages = model_packages_arn(config, facts)
        statements = [
            LIST_MODEL_PACKAGES,
            Statement(
                sid="DecideOnVersions", actions=["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"], resources=[packages]
            ),
            Statement(sid="PinImages", actions=[*PIN_IMAGES, *UNPIN_IMAGES], resources=[ecr_repository_arn]),
        ]
        self.policy = IamPolicy(
            self,
            "policy",
            name=role_name(config, "model-approver"),
            description=f"Approve or reject {config.model_package_group} model versions (attach to the approvers)",
            policy=policy_document(self, "permissions", statements).json,
        )
        self.arn: str = self.policy.arn
