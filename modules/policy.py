"""IAM policy documents as data, and the account facts that ARNs are built from.

Every policy of the project is an ``aws_iam_policy_document`` data source, so the synthesized
JSON holds each statement as structured data that the tests (and checkov) can read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from cdktn_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktn_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktn_provider_aws.data_aws_partition import DataAwsPartition
from constructs import Construct


@dataclass(frozen=True, kw_only=True)
class Statement:
    """One policy statement. ``conditions`` are ``(test, variable, values)`` triples."""

    actions: list[str]
    resources: list[str]
    effect: str = "Allow"
    sid: str | None = None
    principals: dict[str, list[str]] = field(default_factory=dict)
    conditions: list[tuple[str, str, list[str]]] = field(default_factory=list)


def policy_document(scope: Construct, id_: str, statements: list[Statement]) -> DataAwsIamPolicyDocument:
    """An ``aws_iam_policy_document`` holding ``statements``; use its ``.json`` as the policy."""
    return DataAwsIamPolicyDocument(
        scope,
        id_,
        statement=[
            DataAwsIamPolicyDocumentStatement(
                sid=s.sid,
                effect=s.effect,
                actions=s.actions,
                resources=s.resources or None,
                principals=[DataAwsIamPolicyDocumentStatementPrincipals(type=kind, identifiers=ids) for kind, ids in s.principals.items()]
                or None,
                condition=[DataAwsIamPolicyDocumentStatementCondition(test=t, variable=v, values=vals) for t, v, vals in s.conditions]
                or None,
            )
            for s in statements
        ],
    )


def policy_json(statements: list[Statement]) -> str:
    """The same statements as a JSON policy string, for resource policies set inline.

    KMS key policies use this: their ``Resource`` is always ``"*"`` (the key itself), which
    checkov's identity-policy checks on ``aws_iam_policy_document`` would misread.
    """

    def one(s: Statement) -> dict[str, object]:
        body: dict[str, object] = {"Effect": s.effect, "Action": s.actions, "Resource": s.resources}
        if s.sid:
            body["Sid"] = s.sid
        if s.principals:
            body["Principal"] = s.principals
        if s.conditions:
            merged: dict[str, dict[str, list[str]]] = {}
            for test, variable, values in s.conditions:
                merged.setdefault(test, {})[variable] = values
            body["Condition"] = merged
        return body

    return json.dumps({"Version": "2012-10-17", "Statement": [one(s) for s in statements]}, sort_keys=True)


def assume_role_document(scope: Construct, id_: str, service: str, *, account_id: str) -> DataAwsIamPolicyDocument:
    """Trust policy for one service principal, limited to this account (confused-deputy guard)."""
    return policy_document(
        scope,
        id_,
        [
            Statement(
                actions=["sts:AssumeRole"],
                resources=[],
                principals={"Service": [service]},
                conditions=[("StringEquals", "aws:SourceAccount", [account_id])],
            )
        ],
    )


class AccountFacts(Construct):
    """The account, partition and region of a stack, for building ARNs without hard-coding them."""

    def __init__(self, scope: Construct, id_: str, *, region: str) -> None:
        super().__init__(scope, id_)
        self.region = region
        self.account_id: str = DataAwsCallerIdentity(self, "caller").account_id
        self.partition: str = DataAwsPartition(self, "partition").partition

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        """``arn:<partition>:<service>:<region>:<account>:<resource>``."""
        return f"arn:{self.partition}:{service}:{self.region if region else ''}:{self.account_id if account else ''}:{resource}"
