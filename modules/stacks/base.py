"""What every pipeline stack shares: provider with tags, state backend, account facts, key."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from cdktn import Fn, LocalBackend, S3Backend, TerraformOutput, TerraformStack
from cdktn_provider_aws.provider import AwsProvider, AwsProviderDefaultTags
from constructs import Construct

from ml.config import ProjectConfig
from ml.names import NOTIFICATION_OUTPUTS, STACKS, Output, local_state_path, outputs_variable
from modules.kms import EncryptionKey
from modules.notifications import PipelineNotifications
from modules.pipeline import Pipeline
from modules.policy import AccountFacts, Statement
from modules.secure_bucket import SecureBucket, bucket_prefix
from modules.source import SourceRepository

# Where `cdktf deploy` runs terraform for a stack, relative to the project root.
STACK_WORKDIR = PurePosixPath("cdktf.out", "stacks")


def relative_state_path(stack: str) -> str:
    """The stack's local state file (in the project root) as seen from its Terraform working directory."""
    ups = "/".join([".."] * len((STACK_WORKDIR / stack).parts))
    return f"{ups}/{local_state_path(stack)}"


class PipelineStack(TerraformStack):
    """A stack of one pipeline: AWS provider, state, the stack key and its artifact bucket.

    State is a local file in ``project_root`` by default (``terraform.<Stack>.tfstate``, what
    ``invoke outputs`` reads), or an object in ``state_bucket`` with S3-native locking.
    """

    def __init__(self, scope: Construct, id_: str, *, config: ProjectConfig, project_root: Path, key_services: list[str]) -> None:
        super().__init__(scope, id_)
        self.config = config
        AwsProvider(self, "aws", region=config.region, default_tags=[AwsProviderDefaultTags(tags=dict(config.tags))])
        self.backend: LocalBackend | S3Backend
        if config.state_backend == "s3":
            # S3-native locking (use_lockfile, Terraform >= 1.10): no DynamoDB table.
            self.backend = S3Backend(
                self, bucket=config.state_bucket, key=config.remote_state_key(id_), region=config.region, encrypt=True, use_lockfile=True
            )
        else:
            # Relative to where Terraform runs (cdktf.out/stacks/<Stack>/), so that the backend and
            # the other stacks' terraform_remote_state (cdktf copies this path) work from any checkout.
            self.backend = LocalBackend(self, path=relative_state_path(id_))
        self.facts = AccountFacts(self, "account", region=config.region)
        self.key = EncryptionKey(self, "key", alias=f"{config.project_name}-{id_}", facts=self.facts, services=key_services)
        self.artifacts = SecureBucket(self, "artifacts", prefix=bucket_prefix(config.project_name, "artifacts"), key=self.key)
        # Every output, name -> value: the one source of both the TerraformOutputs and the
        # BYOC_OUTPUTS_<STACK> variables the CodeBuild projects carry (see outputs_environment).
        self.outputs_for_env: dict[str, object] = {}

    @property
    def state_access(self) -> list[Statement]:
        """Read access to the stacks' remote state, where ``ml/`` tasks in CodeBuild find the outputs.

        Empty with local state: a local file is not reachable from CodeBuild.
        """
        if self.config.state_backend != "s3":
            return []
        bucket = f"arn:{self.facts.partition}:s3:::{self.config.state_bucket}"
        return [
            Statement(
                sid="ReadStackOutputs",
                actions=["s3:GetObject"],
                resources=[f"{bucket}/{self.config.remote_state_key(stack)}" for stack in STACKS],
            )
        ]

    def connect(self, *, stage: str, pipeline: Pipeline, source: SourceRepository, email: str) -> None:
        """Start ``pipeline`` on a push to its repository, and mail its state changes to ``email``
        (when set), as every stack does."""
        if source.push_event_pattern is not None:
            pipeline.trigger_on(f"{stage}-push", description=f"Push to the {stage} branch", pattern=source.push_event_pattern)
        self.notifications: PipelineNotifications | None = None
        if email:
            notes = self.notifications = PipelineNotifications(
                self, f"{stage}-notifications", config=self.config, facts=self.facts, key=self.key, email=email, pipeline=pipeline
            )
            self.output(NOTIFICATION_OUTPUTS[stage], notes.arn, f"SNS topic for {stage} pipeline state changes")

    def output(self, name: Output, value: object, description: str) -> TerraformOutput:
        """A stack output; ``invoke outputs`` and ``ml/`` read it from state or the environment."""
        self.outputs_for_env[name.value] = value
        return TerraformOutput(self, name.value, value=value, description=description)


def outputs_environment(*stacks: PipelineStack) -> dict[str, str]:
    """``{BYOC_OUTPUTS_<STACK>: jsonencode(outputs)}`` for a CodeBuild project.

    Local Terraform state is not reachable from CodeBuild, so the projects carry the outputs
    themselves, encoded by Terraform from the same values the outputs use. Another stack's
    values are tokens of its resources; cdktf turns them into cross-stack references.
    Call it after the stacks have declared all their outputs.
    """
    return {outputs_variable(str(s.node.id)): Fn.jsonencode(dict(s.outputs_for_env)) for s in stacks}
