"""Read the synthesized Terraform JSON as AWS would see it once applied.

Names Terraform makes up at apply time (bucket names from a prefix, key ids) get fixed,
predictable values here; every other ``${...}`` reference is resolved from the resources'
own configuration, across stacks through the ``terraform_remote_state`` outputs. An unknown
reference is an error: a policy is never compared with a string it does not really contain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools.terraform_expr import ResolveError, Resolver, remote_output


class Synthesis:
    """The stacks of one synthesis (``{stack: cdk.tf.json}``) in a fake account and region."""

    def __init__(self, stacks: Mapping[str, Mapping[str, Any]], *, region: str, account: str, partition: str = "aws") -> None:
        self.stacks, self.region, self.account, self.partition = stacks, region, account, partition

    def resource(self, stack: str, rtype: str, uid: str) -> Mapping[str, Any]:
        try:
            found: Mapping[str, Any] = self.stacks[stack]["resource"][rtype][uid]
        except KeyError as err:
            raise ResolveError(f"{stack}: no resource {rtype}.{uid}") from err
        return found

    def resources(self, stack: str, rtype: str) -> Mapping[str, Mapping[str, Any]]:
        found: Mapping[str, Mapping[str, Any]] = self.stacks[stack].get("resource", {}).get(rtype, {})
        return found

    def by_path(self, stack: str, rtype: str, path: str) -> str:
        """The unique id of the ``rtype`` resource whose construct path is ``<stack>/<path>``."""
        for uid, body in self.resources(stack, rtype).items():
            if body.get("//", {}).get("metadata", {}).get("path") == f"{stack}/{path}":
                return uid
        raise ResolveError(f"{stack}: no {rtype} at construct path {path}")

    def resolve(self, stack: str, value: Any) -> Any:
        """``value`` with every reference replaced (lists and objects recursively)."""
        return self._resolver(stack).value(value)

    def _resolver(self, stack: str) -> Resolver:
        return Resolver(
            attribute=lambda rtype, uid, attr: self._attribute(stack, rtype, uid, attr),
            remote=lambda input_name, output: self._remote(stack, input_name, output),
            data=lambda kind, _name, path: self._data(stack, kind, path),
            templates=True,  # policy documents embed ARNs and names in longer strings
        )

    def outputs(self, stack: str) -> dict[str, Any]:
        """The stack's own outputs (not the cross-stack plumbing), resolved."""
        return {
            name: self.resolve(stack, body["value"])
            for name, body in self.stacks[stack].get("output", {}).items()
            if not name.startswith("cross-stack-output-")
        }

    def _remote(self, stack: str, input_name: str, output: str) -> Any:
        source, raw = remote_output(self.stacks, stack=stack, input_name=input_name, output=output)
        return self.resolve(source, raw)

    def _data(self, stack: str, kind: str, path: tuple[str, ...]) -> Any:
        if kind == "aws_caller_identity" and path == ("account_id",):
            return self.account
        if kind == "aws_partition" and path == ("partition",):
            return self.partition
        raise ResolveError(f"{stack}: cannot resolve data.{kind}.*.{'.'.join(path)}")

    def _attribute(self, stack: str, rtype: str, uid: str, attr: str) -> Any:
        body = self.resource(stack, rtype, uid)
        p, r, a = self.partition, self.region, self.account

        def field(name: str) -> str:
            return str(self.resolve(stack, body[name]))

        if rtype == "aws_s3_bucket":
            name = field("bucket") if "bucket" in body else f"{field('bucket_prefix')}{stack.lower()}"
            return {"arn": f"arn:{p}:s3:::{name}", "bucket": name, "id": name}[attr]
        names: dict[str, tuple[str, str]] = {
            # type: (name attribute, ARN after "arn:<partition>:")
            "aws_kms_key": ("", f"kms:{r}:{a}:key/{stack.lower()}-{uid.lower()}"),
            "aws_ecr_repository": ("name", f"ecr:{r}:{a}:repository/{{}}"),
            "aws_iam_role": ("name", f"iam::{a}:role/{{}}"),
            "aws_iam_policy": ("name", f"iam::{a}:policy/{{}}"),
            "aws_sagemaker_model_package_group": ("model_package_group_name", f"sagemaker:{r}:{a}:model-package-group/{{}}"),
            "aws_cloudwatch_log_group": ("name", f"logs:{r}:{a}:log-group:{{}}"),
            "aws_cloudwatch_metric_alarm": ("alarm_name", f"cloudwatch:{r}:{a}:alarm:{{}}"),
            "aws_sns_topic": ("name", f"sns:{r}:{a}:{{}}"),
            "aws_codecommit_repository": ("repository_name", f"codecommit:{r}:{a}:{{}}"),
            "aws_codepipeline": ("name", f"codepipeline:{r}:{a}:{{}}"),
            "aws_codebuild_project": ("name", f"codebuild:{r}:{a}:project/{{}}"),
        }
        if rtype not in names:
            raise ResolveError(f"{stack}: cannot resolve {rtype}.{uid}.{attr}")
        name_attr, arn = names[rtype]
        name = field(name_attr) if name_attr else arn.rsplit("/", 1)[1]
        if rtype == "aws_sagemaker_model_package_group":
            arn = arn.format(name.lower())  # SageMaker writes the group's ARN in lowercase
        values = {"arn": f"arn:{p}:{arn.format(name)}", "id": name, name_attr or "key_id": name}
        if rtype == "aws_ecr_repository":
            values["repository_url"] = f"{a}.dkr.ecr.{r}.amazonaws.com/{name}"
        if rtype == "aws_codecommit_repository":
            values["clone_url_http"] = f"https://git-codecommit.{r}.amazonaws.com/v1/repos/{name}"
        if attr not in values:
            raise ResolveError(f"{stack}: cannot resolve {rtype}.{uid}.{attr}")
        return values[attr]
