"""IAM policy evaluation for one principal's identity policies and the resource's policy.

An explicit Deny in either wins; otherwise an Allow in the identity policies is needed (all our
resources are in the principal's own account). Actions match case-insensitively, resources
case-sensitively, both with ``*`` and ``?``. Conditions: the operators our policies use.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tools.awscheck.synthesis import Synthesis

Effect = Literal["Allow", "Deny"]
_DOC = re.compile(r"^\$\{data\.aws_iam_policy_document\.([\w-]+)\.json\}$")


@dataclass(frozen=True, kw_only=True)
class Statement:
    where: str
    effect: Effect
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = field(default_factory=tuple)

    def grants(self) -> list[tuple[str, str]]:
        return [(a, r) for a in self.actions for r in self.resources]


def _glob(pattern: str, value: str, *, fold: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if fold else 0) is not None


def action_matches(pattern: str, action: str) -> bool:
    return _glob(pattern, action, fold=True)


def resource_matches(pattern: str, resource: str) -> bool:
    # A needed "*" (an action without resource-level permissions) is granted only by "*".
    return pattern == "*" if resource == "*" else _glob(pattern, resource, fold=False)


class UnsupportedCondition(ValueError):
    """A condition operator the evaluator does not implement; extend it before trusting a result."""


def _condition(test: str, key: str, values: Sequence[str], context: Mapping[str, str]) -> bool:
    if_exists = test.endswith("IfExists")
    base = test.removesuffix("IfExists")
    if base == "Null":  # "true": the request must not carry the key at all
        return (key not in context) == (values[0].lower() == "true")
    if key not in context:
        return if_exists or base.startswith(("StringNot", "ArnNot"))
    actual = context[key]
    if base in ("StringEquals", "ArnEquals"):
        return actual in values
    if base in ("StringLike", "ArnLike"):
        return any(fnmatch.fnmatchcase(actual, v) for v in values)
    if base == "StringNotEquals":
        return actual not in values
    if base == "Bool":
        return actual.lower() in [v.lower() for v in values]
    raise UnsupportedCondition(f"condition operator {test} (on {key}) is not evaluated; add it to tools/awscheck/evaluate.py")


def applies(s: Statement, action: str, resource: str, context: Mapping[str, str]) -> bool:
    if s.actions and not any(action_matches(p, action) for p in s.actions):
        return False
    if s.not_actions and any(action_matches(p, action) for p in s.not_actions):
        return False
    if s.resources and not any(resource_matches(p, resource) for p in s.resources):
        return False
    if s.not_resources and any(resource_matches(p, resource) for p in s.not_resources):
        return False
    return all(_condition(t, k, v, context) for t, k, v in s.conditions)


Decision = Literal["allowed", "denied", "not allowed"]


def decide(
    identity: Sequence[Statement], resource_policy: Sequence[Statement], action: str, resource: str, context: Mapping[str, str]
) -> tuple[Decision, list[Statement]]:
    """The decision, and the statements that made it."""
    denies = [s for s in [*identity, *resource_policy] if s.effect == "Deny" and applies(s, action, resource, context)]
    if denies:
        return "denied", denies
    allows = [s for s in identity if s.effect == "Allow" and applies(s, action, resource, context)]
    return ("allowed" if allows else "not allowed"), allows


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (str(value),) if isinstance(value, str) else tuple(str(v) for v in value)


def _from_document(where: str, doc: Mapping[str, Any]) -> list[Statement]:
    return [
        Statement(
            where=f"{where}#{s.get('sid') or i}",
            effect=s.get("effect", "Allow"),
            actions=_tuple(s.get("actions")),
            not_actions=_tuple(s.get("not_actions")),
            resources=_tuple(s.get("resources")),
            not_resources=_tuple(s.get("not_resources")),
            conditions=tuple((c["test"], c["variable"], _tuple(c["values"])) for c in s.get("condition", [])),
        )
        for i, s in enumerate(doc.get("statement", []))
    ]


def _from_json(where: str, text: str) -> list[Statement]:
    doc = json.loads(text)
    return [
        Statement(
            where=f"{where}#{s.get('Sid') or i}",
            effect=s["Effect"],
            actions=_tuple(s.get("Action")),
            not_actions=_tuple(s.get("NotAction")),
            resources=_tuple(s.get("Resource")),
            not_resources=_tuple(s.get("NotResource")),
            conditions=tuple((t, k, _tuple(v)) for t, body in s.get("Condition", {}).items() for k, v in body.items()),
        )
        for i, s in enumerate(doc.get("Statement", []))
    ]


def policy_statements(synth: Synthesis, stack: str, policy: str, where: str) -> list[Statement]:
    """A ``policy`` attribute's statements, resolved: a policy document reference or inline JSON."""
    ref = _DOC.match(policy)
    if ref:
        doc = synth.stacks[stack]["data"]["aws_iam_policy_document"][ref.group(1)]
        return _from_document(where, synth.resolve(stack, doc))
    return _from_json(where, str(synth.resolve(stack, policy)))


class ManagedPolicyAttached(ValueError):
    """A role with a managed policy: its statements are not in the synthesis, so nothing can be proven."""


def role_statements(synth: Synthesis, stack: str, role_uid: str) -> list[Statement]:
    """Every identity statement of the role ``aws_iam_role.<role_uid>``: its inline policies."""
    refs = {f"${{aws_iam_role.{role_uid}.{attr}}}" for attr in ("id", "name")}
    for name, body in synth.resources(stack, "aws_iam_role_policy_attachment").items():
        if body.get("role") in refs:
            raise ManagedPolicyAttached(f"{stack}: aws_iam_role_policy_attachment.{name} attaches {body.get('policy_arn')} to {role_uid}")
    role = synth.resource(stack, "aws_iam_role", role_uid)
    if role.get("managed_policy_arns") or role.get("inline_policy"):
        raise ManagedPolicyAttached(f"{stack}: aws_iam_role.{role_uid} carries managed_policy_arns or inline_policy blocks")
    found: list[Statement] = []
    for name, body in synth.resources(stack, "aws_iam_role_policy").items():
        if body.get("role") in refs:
            found += policy_statements(synth, stack, body["policy"], f"{stack}/{name}")
    return found


def bucket_policies(synth: Synthesis) -> dict[str, list[Statement]]:
    """Each bucket's resource policy statements, by bucket name."""
    found: dict[str, list[Statement]] = {}
    for stack in synth.stacks:
        for name, body in synth.resources(stack, "aws_s3_bucket_policy").items():
            bucket = str(synth.resolve(stack, body["bucket"]))
            found.setdefault(bucket, []).extend(policy_statements(synth, stack, body["policy"], f"{stack}/{name}"))
    return found


def bucket_keys(synth: Synthesis) -> dict[str, str]:
    """Each SSE-KMS bucket's default key ARN, by bucket name."""
    found: dict[str, str] = {}
    for stack in synth.stacks:
        for body in synth.resources(stack, "aws_s3_bucket_server_side_encryption_configuration").values():
            for rule in body.get("rule", []):
                default = rule.get("apply_server_side_encryption_by_default", {})
                if default.get("sse_algorithm") == "aws:kms":
                    found[str(synth.resolve(stack, body["bucket"]))] = str(synth.resolve(stack, default["kms_master_key_id"]))
    return found
