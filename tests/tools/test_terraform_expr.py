"""The resolver turns exactly our synthesized expression forms into values, and refuses the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tools.terraform_expr import ResolveError, Resolver

ATTRIBUTES = {
    ("aws_s3_bucket", "datalake", "bucket"): "scikit-byo-datalake-abc",
    ("aws_iam_role", "sm", "arn"): "arn:aws:iam::123456789012:role/sm",
    ("aws_cloudwatch_metric_alarm", "errors", "alarm_name"): "e-5xx",
    ("aws_cloudwatch_metric_alarm", "latency", "alarm_name"): "e-p99",
}
REMOTE = {("cross-stack-reference-input-BuildPipelineStack", "cross-stack-output-ecr_url"): "127.0.0.1:5000/repo"}


def attribute(type_: str, name: str, attr: str) -> Any:
    try:
        return ATTRIBUTES[(type_, name, attr)]
    except KeyError:
        raise ResolveError(f"no {type_}.{name}.{attr}") from None


@pytest.fixture
def resolver() -> Resolver:
    return Resolver(attribute=attribute, remote=lambda i, o: REMOTE[(i, o)])


def test_literals_pass_through(resolver: Resolver) -> None:
    assert resolver.value("sagemaker") == "sagemaker"
    assert resolver.value(60) == 60


def test_a_resource_reference(resolver: Resolver) -> None:
    assert resolver.value("${aws_s3_bucket.datalake.bucket}") == "scikit-byo-datalake-abc"


def test_a_cross_stack_reference(resolver: Resolver) -> None:
    text = "${data.terraform_remote_state.cross-stack-reference-input-BuildPipelineStack.outputs.cross-stack-output-ecr_url}"
    assert resolver.value(text) == "127.0.0.1:5000/repo"


def test_jsonencode_of_an_object_with_references_strings_and_lists(resolver: Resolver) -> None:
    text = (
        '${jsonencode({"bucket" = aws_s3_bucket.datalake.bucket, "name" = "scikit-byo-endpoint", '
        '"alarms" = [aws_cloudwatch_metric_alarm.errors.alarm_name, aws_cloudwatch_metric_alarm.latency.alarm_name], '
        '"url" = data.terraform_remote_state.cross-stack-reference-input-BuildPipelineStack.outputs.cross-stack-output-ecr_url})}'
    )
    assert json.loads(resolver.string(text)) == {
        "bucket": "scikit-byo-datalake-abc",
        "name": "scikit-byo-endpoint",
        "alarms": ["e-5xx", "e-p99"],
        "url": "127.0.0.1:5000/repo",
    }


@pytest.mark.parametrize(
    "text",
    [
        "prefix-${aws_s3_bucket.datalake.bucket}",  # a template inside a longer string
        "${upper(aws_s3_bucket.datalake.bucket)}",  # a function other than jsonencode
        '${jsonencode({"a" = "x-${aws_s3_bucket.datalake.bucket}"})}',  # a template in a quoted string
        '${jsonencode({"a" = 1})}',  # a number: not a form our stacks use
        "${aws_s3_bucket.datalake.bucket} trailing",
        "${aws_s3_bucket.datalake.bucket aws_iam_role.sm.arn}",  # two expressions in one
    ],
)
def test_other_forms_fail_loudly(resolver: Resolver, text: str) -> None:
    with pytest.raises(ResolveError):
        resolver.value(text)


def test_data_sources_other_than_remote_state_are_refused(resolver: Resolver) -> None:
    with pytest.raises(ResolveError, match="only <type>.<name>.<attribute> and remote-state outputs"):
        resolver.value("${data.aws_caller_identity.current.account_id}")


def test_an_unknown_attribute_names_the_resource(resolver: Resolver) -> None:
    with pytest.raises(ResolveError, match=r"aws_s3_bucket\.datalake\.region"):
        resolver.value("${aws_s3_bucket.datalake.region}")


def test_templates_resolve_each_embedded_reference_when_allowed() -> None:
    policy = Resolver(attribute=attribute, remote=lambda i, o: REMOTE[(i, o)], templates=True)
    text = "arn:aws:s3:::${aws_s3_bucket.datalake.bucket}/*, ${aws_iam_role.sm.arn}"
    assert policy.value(text) == "arn:aws:s3:::scikit-byo-datalake-abc/*, arn:aws:iam::123456789012:role/sm"
    with pytest.raises(ResolveError, match="only references are resolved inside a string"):
        policy.value("x-${upper(aws_s3_bucket.datalake.bucket)}")


def test_data_sources_resolve_through_their_own_lookup_when_given() -> None:
    facts = {("aws_caller_identity", "current", ("account_id",)): "123456789012"}
    with_data = Resolver(attribute=attribute, remote=lambda i, o: REMOTE[(i, o)], data=lambda k, n, p: facts[(k, n, p)])
    assert with_data.value("${data.aws_caller_identity.current.account_id}") == "123456789012"
