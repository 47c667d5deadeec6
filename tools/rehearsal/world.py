"""The stacks' resources, made in the fake AWS on first reference, named as Terraform would.

Only what the CodeBuild projects' variables reference is made: a bucket from its
``bucket_prefix`` plus a random suffix (versioned when the stack versions it), roles, the ECR
repository (its URI points at the loopback registry, where pushes really go), the model package
group, source repositories, topics, alarms and keys. An attribute this module does not know
fails loudly, naming the resource type and attribute.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tools.rehearsal.fakes.ecr import Mutability
from tools.terraform_expr import ResolveError, Resolver, remote_output

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


def load_stacks(synth_dir: Path, names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    stacks: dict[str, dict[str, Any]] = {}
    for name in names:
        path = synth_dir / "stacks" / name / "cdk.tf.json"
        try:
            stacks[name] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise ResolveError(f"{path} does not exist; run `invoke synth` (the rehearsal reads the synthesized stacks)") from err
    return stacks


class World:
    """Resources made in the fake AWS, keyed by (stack, type, name); ``resolver(stack)`` resolves values."""

    def __init__(
        self, *, stacks: Mapping[str, Mapping[str, Any]], session: Any, registry_address: str, mutability: dict[str, Mutability]
    ) -> None:
        self._stacks, self._session, self._registry = stacks, session, registry_address
        self._mutability = mutability
        self._made: dict[tuple[str, str, str], dict[str, Any]] = {}

    def _client(self, service: str) -> Any:
        return self._session.client(service)

    def resolver(self, stack: str) -> Resolver:
        return Resolver(attribute=lambda t, n, a: self.attribute(stack, t, n, a), remote=lambda i, o: self.remote_output(stack, i, o))

    def definition(self, stack: str, type_: str, name: str) -> Mapping[str, Any]:
        try:
            return self._stacks[stack]["resource"][type_][name]  # type: ignore[no-any-return]
        except KeyError as err:
            raise ResolveError(f"{stack} has no resource {type_}.{name}") from err

    def remote_output(self, stack: str, input_name: str, output: str) -> Any:
        source, raw = remote_output(self._stacks, stack=stack, input_name=input_name, output=output)
        return self.resolver(source).value(raw)

    def attribute(self, stack: str, type_: str, name: str, attribute: str) -> Any:
        key = (stack, type_, name)
        if key not in self._made:
            make = getattr(self, "_make_" + type_, None)
            if make is None:
                raise ResolveError(f"the rehearsal cannot make {type_} resources ({stack} references {type_}.{name}.{attribute})")
            self._made[key] = make(stack, name, self.definition(stack, type_, name))
        made = self._made[key]
        if attribute not in made:
            raise ResolveError(f"the rehearsal does not know attribute {attribute!r} of {type_} ({stack}: {type_}.{name})")
        return made[attribute]

    def made(self, stack: str, type_: str, name: str) -> Mapping[str, Any] | None:
        return self._made.get((stack, type_, name))

    # -- one maker per resource type ----------------------------------------------------------
    def _make_aws_s3_bucket(self, stack: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        bucket = spec.get("bucket") or f"{spec['bucket_prefix']}{secrets.token_hex(6)}"
        s3 = self._client("s3")
        s3.create_bucket(Bucket=bucket)
        for versioning in self._stacks[stack]["resource"].get("aws_s3_bucket_versioning", {}).values():
            target = str(versioning.get("bucket", ""))
            status = (versioning.get("versioning_configuration") or {}).get("status")
            if target in (f"${{aws_s3_bucket.{name}.bucket}}", f"${{aws_s3_bucket.{name}.id}}") and status == "Enabled":
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        return {"bucket": bucket, "id": bucket, "arn": f"arn:aws:s3:::{bucket}"}

    def _make_aws_iam_role(self, stack: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        role = self._client("iam").create_role(RoleName=spec["name"], AssumeRolePolicyDocument=TRUST)["Role"]
        return {"arn": role["Arn"], "name": role["RoleName"], "id": role["RoleName"]}

    def _make_aws_iam_policy(self, stack: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        # Only its ARN travels (the approver policy is an output); the rehearsal evaluates no IAM
        # (tools.awscheck checks every call against the synthesized documents), so the fake holds a
        # document that allows nothing rather than a half-resolved copy of the real one.
        document = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
        policy = self._client("iam").create_policy(PolicyName=spec["name"], PolicyDocument=document)["Policy"]
        return {"arn": policy["Arn"], "name": policy["PolicyName"], "id": policy["Arn"]}

    def _make_aws_ecr_repository(self, stack: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        repo = self._client("ecr").create_repository(repositoryName=spec["name"])["repository"]
        patterns = tuple(f["filter"] for f in spec.get("image_tag_mutability_exclusion_filter") or [] if f.get("filter_type") == "WILDCARD")
        self._mutability[spec["name"]] = Mutability(setting=spec.get("image_tag_mutability", "MUTABLE"), mutable_patterns=patterns)
        # Pushes go to the loopback registry, so the repository URI names it.
        return {"name": spec["name"], "arn": repo["repositoryArn"], "repository_url": f"{self._registry}/{spec['name']}"}

    def _make_aws_sagemaker_model_package_group(self, stack: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        group = spec["model_package_group_name"]
        arn = self._client("sagemaker").create_model_package_group(
            ModelPackageGroupName=group, ModelPackageGroupDescription=spec.get("model_package_group_description", "")
        )["ModelPackageGroupArn"]
        return {"model_package_group_name": group, "arn": arn, "id": group}

    def _make_aws_codecommit_repository(self, stack: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        meta = self._client("codecommit").create_repository(repositoryName=spec["repository_name"])["repositoryMetadata"]
        return {"clone_url_http": meta["cloneUrlHttp"], "arn": meta["Arn"], "repository_name": meta["repositoryName"]}

    def _make_aws_sns_topic(self, stack: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        arn = self._client("sns").create_topic(Name=spec["name"])["TopicArn"]
        return {"arn": arn, "name": spec["name"], "id": arn}

    def _make_aws_cloudwatch_metric_alarm(self, stack: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        alarm = spec["alarm_name"]
        self._client("cloudwatch").put_metric_alarm(
            AlarmName=alarm,
            MetricName=str(spec.get("metric_name") or "Invocation5XXErrors"),
            Namespace=str(spec.get("namespace") or "AWS/SageMaker"),
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=int(spec.get("evaluation_periods") or 1),
            Threshold=float(spec.get("threshold") or 1),
            ComparisonOperator=str(spec.get("comparison_operator") or "GreaterThanOrEqualToThreshold"),
        )
        described = self._client("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
        return {"alarm_name": alarm, "arn": described["AlarmArn"]}

    def _make_aws_kms_key(self, stack: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        key = self._client("kms").create_key(Description=str(spec.get("description", "")))["KeyMetadata"]
        return {"arn": key["Arn"], "key_id": key["KeyId"], "id": key["KeyId"]}
