"""The permission evaluator on a small hand-written synthesis: statements read from policy documents and
inline JSON, roles, bucket policies and keys, and every matching and condition rule at its edge."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tools.awscheck.evaluate import (
    ManagedPolicyAttached,
    Statement,
    UnsupportedCondition,
    action_matches,
    bucket_keys,
    bucket_policies,
    decide,
    resource_matches,
    role_statements,
)
from tools.awscheck.synthesis import Synthesis

STACK = "TrainPipelineStack"
DOCUMENT = {
    "statement": [
        {"sid": "Read", "effect": "Allow", "actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::lake/*"]},
        {
            "effect": "Deny",
            "not_actions": "s3:GetObject",
            "not_resources": ["arn:aws:s3:::lake/*"],
            "condition": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
        },
    ]
}
INLINE = {"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": ["arn:aws:kms:us-east-1:1:key/k"]}]}
BUCKET_POLICY = {
    "Statement": [
        {
            "Sid": "TlsOnly",
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}, "StringLike": {"s3:prefix": ["a/*", "b/*"]}},
        }
    ]
}


def _synthesis(**extra_resources: dict[str, Any]) -> Synthesis:
    resources: dict[str, Any] = {
        "aws_iam_role": {"role": {"name": "train"}, "other": {"name": "other"}},
        "aws_iam_role_policy": {
            "from-doc": {"role": "${aws_iam_role.role.id}", "policy": "${data.aws_iam_policy_document.doc.json}"},
            "inline": {"role": "${aws_iam_role.role.name}", "policy": json.dumps(INLINE)},
            "someone-elses": {"role": "${aws_iam_role.other.id}", "policy": json.dumps(INLINE)},
        },
        "aws_s3_bucket_policy": {"lake": {"bucket": "lake", "policy": json.dumps(BUCKET_POLICY)}},
        "aws_s3_bucket_server_side_encryption_configuration": {
            "lake": {
                "bucket": "lake",
                "rule": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": "k1"}}],
            },
            "logs": {"bucket": "logs", "rule": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}]},
        },
        **extra_resources,
    }
    stack = {"resource": resources, "data": {"aws_iam_policy_document": {"doc": DOCUMENT}}}
    return Synthesis({STACK: stack}, region="us-east-1", account="1")


def test_a_roles_statements_come_from_its_documents_and_inline_json_and_no_one_elses() -> None:
    found = role_statements(_synthesis(), STACK, "role")
    assert [(s.where, s.effect) for s in found] == [
        (f"{STACK}/from-doc#Read", "Allow"),
        (f"{STACK}/from-doc#1", "Deny"),
        (f"{STACK}/inline#0", "Allow"),
    ]
    read, deny, decrypt = found
    assert (read.actions, read.resources, read.not_actions, read.conditions) == (("s3:GetObject",), ("arn:aws:s3:::lake/*",), (), ())
    assert (deny.not_actions, deny.not_resources, deny.actions) == (("s3:GetObject",), ("arn:aws:s3:::lake/*",), ())
    assert deny.conditions == (("Bool", "aws:SecureTransport", ("false",)),)
    assert (decrypt.actions, decrypt.resources) == (("kms:Decrypt",), ("arn:aws:kms:us-east-1:1:key/k",))
    assert read.grants() == [("s3:GetObject", "arn:aws:s3:::lake/*")]


@pytest.mark.parametrize(
    "extra",
    [
        {"aws_iam_role_policy_attachment": {"admin": {"role": "${aws_iam_role.role.name}", "policy_arn": "arn:aws:iam::aws:policy/Admin"}}},
        {"aws_iam_role": {"role": {"name": "train", "managed_policy_arns": ["arn:aws:iam::aws:policy/Admin"]}}},
        {"aws_iam_role": {"role": {"name": "train", "inline_policy": [{"name": "x", "policy": "{}"}]}}},
    ],
)
def test_a_role_whose_permissions_are_not_all_in_the_synthesis_is_refused(extra: dict[str, Any]) -> None:
    with pytest.raises(ManagedPolicyAttached, match=f"^{STACK}: aws_iam_role"):
        role_statements(_synthesis(**extra), STACK, "role")


def test_an_attachment_to_another_role_does_not_count() -> None:
    other = {"aws_iam_role_policy_attachment": {"x": {"role": "${aws_iam_role.other.id}", "policy_arn": "arn:aws:iam::aws:policy/A"}}}
    assert len(role_statements(_synthesis(**other), STACK, "role")) == 3


def test_bucket_policies_and_default_keys_by_bucket() -> None:
    synthesis = _synthesis()
    (tls,) = bucket_policies(synthesis)["lake"]
    assert (tls.where, tls.effect, tls.actions, tls.resources) == (f"{STACK}/lake#TlsOnly", "Deny", ("s3:*",), ("*",))
    assert tls.conditions == (("Bool", "aws:SecureTransport", ("false",)), ("StringLike", "s3:prefix", ("a/*", "b/*")))
    assert bucket_keys(synthesis) == {"lake": "k1"}  # AES256 is not a KMS key


def test_matching_is_whole_string_case_folded_for_actions_only() -> None:
    assert action_matches("s3:Get*", "S3:GETOBJECT")
    assert not action_matches("s3:Get", "s3:GetObject")  # a prefix is not a match
    assert not action_matches("s3:GetObject", "xs3:GetObject")
    assert action_matches("s3:Get?bject", "s3:GetObject") and not action_matches("s3:Get?bject", "s3:GetObjject")
    assert action_matches("s3:Get.Object", "s3:Get.Object") and not action_matches("s3:Get.Object", "s3:GetxObject")  # '.' is literal
    assert resource_matches("arn:aws:s3:::b/*", "arn:aws:s3:::b/k") and not resource_matches("arn:aws:s3:::B/*", "arn:aws:s3:::b/k")
    assert resource_matches("*", "*") and not resource_matches("arn:*", "*")


def _allow(**kw: Any) -> Statement:
    return Statement(where="allow", effect="Allow", actions=("s3:GetObject",), resources=("*",), **kw)


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        (("StringEquals", "k", ("a", "b")), {"k": "b"}, "allowed"),
        (("StringEquals", "k", ("a",)), {"k": "A"}, "not allowed"),
        (("ArnEquals", "k", ("arn:x",)), {"k": "arn:x"}, "allowed"),
        (("StringLike", "k", ("a*",)), {"k": "abc"}, "allowed"),
        (("StringLike", "k", ("a*",)), {"k": "Abc"}, "not allowed"),
        (("ArnLike", "k", ("arn:*:x",)), {"k": "arn:y:x"}, "allowed"),
        (("StringNotEquals", "k", ("a",)), {"k": "b"}, "allowed"),
        (("StringNotEquals", "k", ("a",)), {"k": "a"}, "not allowed"),
        (("StringNotEquals", "k", ("a",)), {}, "allowed"),  # a negated test passes when the key is absent
        (("ArnNotLike", "k", ("a",)), {}, "allowed"),
        (("StringEquals", "k", ("a",)), {}, "not allowed"),
        (("StringEqualsIfExists", "k", ("a",)), {}, "allowed"),
        (("StringEqualsIfExists", "k", ("a",)), {"k": "b"}, "not allowed"),
        (("Bool", "k", ("True",)), {"k": "true"}, "allowed"),
        (("Bool", "k", ("true",)), {"k": "false"}, "not allowed"),
        (("Null", "k", ("true",)), {}, "allowed"),
        (("Null", "k", ("TRUE",)), {"k": "v"}, "not allowed"),
        (("Null", "k", ("false",)), {"k": "v"}, "allowed"),
        (("Null", "k", ("false",)), {}, "not allowed"),
    ],
)
def test_each_condition_operator(condition: tuple[str, str, tuple[str, ...]], context: dict[str, str], expected: str) -> None:
    assert decide([_allow(conditions=(condition,))], [], "s3:GetObject", "arn:aws:s3:::b/k", context)[0] == expected


def test_every_condition_must_hold_and_the_deciding_statements_are_named() -> None:
    both = _allow(conditions=(("StringEquals", "a", ("1",)), ("StringEquals", "b", ("2",))))
    assert decide([both], [], "s3:GetObject", "r", {"a": "1", "b": "2"}) == ("allowed", [both])
    assert decide([both], [], "s3:GetObject", "r", {"a": "1", "b": "3"}) == ("not allowed", [])
    deny = Statement(where="deny", effect="Deny", actions=("s3:*",), resources=("*",))
    assert decide([both], [deny], "s3:GetObject", "r", {"a": "1", "b": "2"}) == ("denied", [deny])  # a resource policy's Deny wins
    assert decide([], [_allow()], "s3:GetObject", "r", {}) == ("not allowed", [])  # a resource policy's Allow is not enough here


def test_not_resources_and_not_actions_exclude() -> None:
    scoped = Statement(where="s", effect="Allow", not_actions=("s3:Delete*",), not_resources=("arn:aws:s3:::secret/*",))
    assert decide([scoped], [], "s3:GetObject", "arn:aws:s3:::b/k", {})[0] == "allowed"
    assert decide([scoped], [], "s3:DeleteObject", "arn:aws:s3:::b/k", {})[0] == "not allowed"
    assert decide([scoped], [], "s3:GetObject", "arn:aws:s3:::secret/k", {})[0] == "not allowed"


def test_an_operator_not_evaluated_is_an_error_naming_it() -> None:
    odd = _allow(conditions=(("DateGreaterThan", "aws:CurrentTime", ("2020-01-01",)),))
    with pytest.raises(UnsupportedCondition, match=r"^condition operator DateGreaterThan \(on aws:CurrentTime\) is not evaluated"):
        decide([odd], [], "s3:GetObject", "r", {"aws:CurrentTime": "2026-01-01"})


def _referencing() -> Synthesis:
    """Names given as references, as cdktn writes them: each resolves only within its own stack."""
    resources = {
        "aws_s3_bucket": {"lake": {"bucket": "the-lake"}},
        "aws_kms_key": {"key": {}},
        "aws_iam_role": {"role": {"name": "train"}},
        "aws_iam_role_policy": {
            "doc": {"role": "${aws_iam_role.role.id}", "policy": "${data.aws_iam_policy_document.doc.json}"},
            "inline": {
                "role": "${aws_iam_role.role.id}",
                "policy": '{"Statement": [{"Effect": "Deny", "NotAction": "s3:Get*", "NotResource": "${aws_s3_bucket.lake.arn}/*"}]}',
            },
        },
        "aws_s3_bucket_policy": {
            "lake": {
                "bucket": "${aws_s3_bucket.lake.bucket}",
                "policy": '{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "${aws_s3_bucket.lake.arn}/*"}]}',
            }
        },
        "aws_s3_bucket_server_side_encryption_configuration": {
            "lake": {
                "bucket": "${aws_s3_bucket.lake.id}",
                "rule": [
                    {"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": "${aws_kms_key.key.arn}"}}
                ],
            },
            "bare": {"bucket": "bare"},  # no rule at all
            "plain": {"bucket": "plain", "rule": [{}]},  # a rule without a default
        },
    }
    document = {"statement": [{"actions": ["s3:ListBucket"], "resources": ["${aws_s3_bucket.lake.arn}"]}]}  # no effect: Allow
    stack = {"resource": resources, "data": {"aws_iam_policy_document": {"doc": document}}}
    return Synthesis(
        {
            STACK: stack,
            "Empty": {
                "resource": {"aws_iam_role": {"r": {}}, "aws_iam_role_policy": {"p": {"role": "${aws_iam_role.r.id}", "policy": "{}"}}}
            },
        },
        region="us-east-1",
        account="1",
    )


def test_references_resolve_in_their_own_stack_and_defaults_apply() -> None:
    synthesis = _referencing()
    listed, denied = role_statements(synthesis, STACK, "role")
    assert (listed.effect, listed.actions, listed.resources) == ("Allow", ("s3:ListBucket",), ("arn:aws:s3:::the-lake",))
    assert (denied.effect, denied.not_actions, denied.not_resources) == ("Deny", ("s3:Get*",), ("arn:aws:s3:::the-lake/*",))
    (allowed,) = bucket_policies(synthesis)["the-lake"]
    assert allowed.resources == ("arn:aws:s3:::the-lake/*",)
    assert bucket_keys(synthesis) == {"the-lake": "arn:aws:kms:us-east-1:1:key/trainpipelinestack-key"}
    assert role_statements(synthesis, "Empty", "r") == []  # a policy with no statements grants nothing


def test_a_document_without_statements_grants_nothing() -> None:
    empty = Synthesis(
        {
            STACK: {
                "resource": {
                    "aws_iam_role": {"role": {}},
                    "aws_iam_role_policy": {"p": {"role": "${aws_iam_role.role.name}", "policy": "${data.aws_iam_policy_document.d.json}"}},
                },
                "data": {"aws_iam_policy_document": {"d": {}}},
            }
        },
        region="us-east-1",
        account="1",
    )
    assert role_statements(empty, STACK, "role") == []


def test_the_refusal_names_the_attachment_and_its_policy() -> None:
    attached = {
        "aws_iam_role_policy_attachment": {"admin": {"role": "${aws_iam_role.role.id}", "policy_arn": "arn:aws:iam::aws:policy/Admin"}}
    }
    with pytest.raises(
        ManagedPolicyAttached, match=rf"^{STACK}: aws_iam_role_policy_attachment.admin attaches arn:aws:iam::aws:policy/Admin to role$"
    ):
        role_statements(_synthesis(**attached), STACK, "role")
