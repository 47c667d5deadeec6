"""Permission coverage: every recorded call against the policy of the principal that makes it.

Both directions: a needed (action, resource) that no statement allows, or that one denies, is
*missing*; a granted (action, resource pattern) that no needed pair used is *unused*.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tools.awscheck.calls import Call
from tools.awscheck.evaluate import Statement, action_matches, decide, resource_matches
from tools.awscheck.permissions import Need, PermissionMapper


@dataclass(frozen=True, kw_only=True)
class Missing:
    need: Need
    principal: str
    decision: str
    by: tuple[str, ...] = ()  # the denying statements, when denied

    def line(self) -> str:
        c = self.need.call
        why = f"denied by {', '.join(self.by)}" if self.by else "no statement allows it"
        return f"[{c.task}] {c.label()}: {self.need.action} on {self.need.resource} as {self.principal}: {why}"


@dataclass(frozen=True, kw_only=True)
class Unused:
    principal: str
    where: str
    action: str
    resource: str

    def line(self) -> str:
        return f"{self.principal}: {self.action} on {self.resource} ({self.where})"


@dataclass(frozen=True, kw_only=True)
class Report:
    checked: int
    calls: int
    missing: tuple[Missing, ...]
    unused: tuple[Unused, ...]
    needed: frozenset[tuple[str, str, str]]  # (task, principal, action) of every need

    def text(self) -> str:
        lines = [f"permission coverage: {self.calls} calls, {self.checked} (action, resource) pairs checked, "
                 f"{len(self.missing)} missing, {len(self.unused)} granted but unused"]  # fmt: skip
        lines += ["", "MISSING (needed, not allowed):", *(f"  {m.line()}" for m in self.missing)] if self.missing else []
        lines += ["", "UNUSED (granted, no task needed it):", *(f"  {u.line()}" for u in self.unused)] if self.unused else []
        return "\n".join(lines) + "\n"


def _bucket_of(resource: str) -> str:
    return resource.split(":::", 1)[1].split("/", 1)[0] if resource.startswith("arn:aws:s3:::") else ""


# S3 calls on objects of an SSE-KMS bucket use its key: a read decrypts, a write makes a data key.
KMS_FOR_S3 = {"s3:GetObject": "kms:Decrypt", "s3:GetObjectVersion": "kms:Decrypt", "s3:PutObject": "kms:GenerateDataKey"}
# A multipart upload's parts are decrypted too: "the requester needs permissions for the
# kms:Decrypt action on the UploadPart and UploadPartCopy APIs" (S3 API reference, CreateMultipartUpload).
KMS_FOR_S3_OPERATION = {"UploadPart": "kms:Decrypt", "UploadPartCopy": "kms:Decrypt"}


def _with_keys(needs: list[Need], bucket_keys: Mapping[str, str]) -> list[Need]:
    extra = [
        Need(call=n.call, action=kms, resource=bucket_keys[_bucket_of(n.resource)], context=n.context)
        for n in needs
        if _bucket_of(n.resource) in bucket_keys
        for kms in _kms_actions(n)
    ]
    return needs + extra


def _kms_actions(need: Need) -> set[str]:
    by_operation = KMS_FOR_S3_OPERATION.get(need.call.operation) if need.call.service == "s3" else None
    return {action for action in (KMS_FOR_S3.get(need.action), by_operation) if action}


def check(
    *,
    calls: Sequence[Call],
    mapper: PermissionMapper,
    principal_of: Callable[[Call], str],
    policies: Mapping[str, Sequence[Statement]],
    bucket_policies: Mapping[str, Sequence[Statement]],
    bucket_keys: Mapping[str, str],
) -> Report:
    """Evaluate every call's needs; ``principal_of`` names the key of ``policies`` that makes it."""
    missing: list[Missing] = []
    used: set[tuple[str, str, str, str]] = set()
    checked: set[tuple[str, str, str]] = set()
    needed: set[tuple[str, str, str]] = set()
    for call in calls:
        principal = principal_of(call)
        identity = policies[principal]
        for need in _with_keys(mapper.needs(call), bucket_keys):
            checked.add((principal, need.action, need.resource))
            needed.add((call.task, principal, need.action))
            resource_policy = bucket_policies.get(_bucket_of(need.resource), ())
            decision, by = decide(identity, resource_policy, need.action, need.resource, need.context)
            if decision != "allowed":
                missing.append(Missing(need=need, principal=principal, decision=decision, by=tuple(s.where for s in by)))
                continue
            for s in by:
                used.update(
                    (principal, s.where, a, r)
                    for a in s.actions
                    for r in s.resources
                    if action_matches(a, need.action) and resource_matches(r, need.resource)
                )
    unused = [
        Unused(principal=principal, where=s.where, action=a, resource=r)
        for principal, statements in policies.items()
        for s in statements
        if s.effect == "Allow"
        for a, r in s.grants()
        if (principal, s.where, a, r) not in used
    ]
    return Report(checked=len(checked), calls=len(calls), missing=_dedupe(missing), unused=tuple(unused), needed=frozenset(needed))


def _dedupe(found: list[Missing]) -> tuple[Missing, ...]:
    seen: dict[tuple[str, str, str, str], Missing] = {}
    for m in found:
        seen.setdefault((m.principal, m.need.call.task, m.need.action, m.need.resource), m)
    return tuple(seen.values())
