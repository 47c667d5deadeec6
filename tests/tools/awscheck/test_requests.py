"""The strict request check: each rule of botocore's service model, and the suite-wide hook."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tools.awscheck.requests import RequestValidationError, Violation, check_request, compiled, install
from tools.awscheck.strict import is_strict, strict_environment

REPO = Path(__file__).resolve().parents[3]

TEST_GROUP = "scikit-byo"


def _op(service: str, name: str) -> Any:
    return botocore.session.get_session().get_service_model(service).operation_model(name)


def _rules(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    return [(v.path, v.rule) for v in check_request(_op(service, operation), params)]


def test_a_valid_request_has_no_violations() -> None:
    params = {
        "TransformJobName": "scikit-byo-tf-v1-0123456789",
        "ModelName": "scikit-byo-transform-v1-abcdef",
        "MaxConcurrentTransforms": 4,
        "MaxPayloadInMB": 6,
        "BatchStrategy": "MultiRecord",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/k"}}},
        "TransformOutput": {"S3OutputPath": "s3://b/out/"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "Tags": [{"Key": "byoc:project", "Value": "scikit-byo"}],
    }
    assert _rules("sagemaker", "CreateTransformJob", params) == []


def test_pattern_is_a_full_match_with_java_classes() -> None:
    # The metadata value class is letters, separators, numbers and _.:/=+-@ (\p{L}\p{Z}\p{N}).
    ok = {"ModelPackageGroupName": TEST_GROUP, "CustomerMetadataProperties": {"note": "Grüße 42 a=b"}}
    assert _rules("sagemaker", "CreateModelPackage", ok) == []
    bad = {"ModelPackageGroupName": TEST_GROUP, "CustomerMetadataProperties": {"hyperparameters": '{"max_depth": "3"}'}}
    [(path, rule)] = _rules("sagemaker", "CreateModelPackage", bad)
    assert path == "CustomerMetadataProperties['hyperparameters']"
    assert "does not match the pattern" in rule
    # Anchoring: a valid prefix followed by a bad character still fails (full match, not search).
    assert compiled("[a-z]+").fullmatch("abc!") is None
    assert compiled(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$").fullmatch("scikit-byo") is not None
    # Java's surrogate-pair spelling of "any supplementary character".
    assert compiled(r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*").fullmatch("tab\tand 😀") is not None


def test_string_length_limits_count_as_java_does() -> None:
    long_name = {"ModelPackageGroupName": TEST_GROUP, "ModelPackageDescription": "d" * 1025}
    assert _rules("sagemaker", "CreateModelPackage", long_name) == [("ModelPackageDescription", "has length 1025, above the maximum 1024")]
    # A character outside the Basic Multilingual Plane is two UTF-16 units, as Java counts it.
    emoji = {"ModelPackageGroupName": TEST_GROUP, "ModelPackageDescription": "😀" * 513}
    assert _rules("sagemaker", "CreateModelPackage", emoji) == [("ModelPackageDescription", "has length 1026, above the maximum 1024")]
    assert _rules("sagemaker", "CreateModelPackage", {**long_name, "ModelPackageDescription": "d" * 1024}) == []


def test_numeric_ranges() -> None:
    params = {"ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1"}
    assert _rules("sagemaker", "DescribeModelPackage", {"ModelPackageName": params["ModelPackageArn"]}) == []
    found = _rules("logs", "GetLogEvents", {"logGroupName": "g", "logStreamName": "s", "limit": 10001})
    assert found == [("limit", "is 10001, outside the range 1..10000")]


def test_enums() -> None:
    found = _rules("sagemaker", "ListModelPackages", {"ModelPackageGroupName": TEST_GROUP, "SortOrder": "Newest"})
    assert found == [("SortOrder", "is 'Newest', not one of the enum ['Ascending', 'Descending']")]


def test_nested_lists_and_maps() -> None:
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)] + [{"Key": "bad{key}", "Value": "v"}]
    found = _rules("sagemaker", "AddTags", {"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m", "Tags": tags})
    assert ("Tags", "has length 52, above the maximum 50") in found
    assert any(path == "Tags[51].Key" and "pattern" in rule for path, rule in found)
    props = {f"k{i}": "v" for i in range(51)}
    found = _rules("sagemaker", "CreateModelPackage", {"ModelPackageGroupName": TEST_GROUP, "CustomerMetadataProperties": props})
    assert found == [("CustomerMetadataProperties", "has size 51, above the maximum 50")]
    found = _rules("sagemaker", "CreateModelPackage", {"ModelPackageGroupName": TEST_GROUP, "CustomerMetadataProperties": {"k{": "v"}})
    assert found[0][0] == "CustomerMetadataProperties key 'k{'"


def test_violation_names_operation_path_and_rule() -> None:
    text = str(Violation(operation="CreateModelPackage", path="X.Y", rule="is 'a', not one of the enum ['b']"))
    assert text == "CreateModelPackage: parameter X.Y is 'a', not one of the enum ['b']"


def test_hook_refuses_the_old_json_lineage_before_it_leaves(strict_requests: Any) -> None:
    """Defect 1: the registry sent hyperparameters as JSON; AWS refuses it, moto did not."""
    old = json.dumps({"max_depth": "3", "max_leaf_nodes": "5"}, sort_keys=True)
    with mock_aws():
        sm = boto3.client("sagemaker", region_name="us-east-1")
        sm.create_model_package_group(ModelPackageGroupName=TEST_GROUP)
        with pytest.raises(RequestValidationError, match=r"CreateModelPackage: parameter CustomerMetadataProperties\['hyperparameters'\]"):
            sm.create_model_package(ModelPackageGroupName=TEST_GROUP, CustomerMetadataProperties={"hyperparameters": old})
    [seen] = strict_requests.take()  # the suite-wide hook recorded it too
    assert seen.operation == "CreateModelPackage"


def test_the_suite_hook_records_even_a_swallowed_error(strict_requests: Any) -> None:
    client = botocore.session.get_session().create_client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    with contextlib.suppress(RequestValidationError):  # code that swallows the error must still fail its test
        client.describe_endpoint(EndpointName="bad name!")
    assert [v.path for v in strict_requests.pending()] == ["EndpointName"]
    strict_requests.take()


def test_install_raises_on_a_client_of_its_own() -> None:
    seen: list[Violation] = []
    client = botocore.session.get_session().create_client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    install(client, record=seen.extend)
    with mock_aws(), pytest.raises(ClientError, match="Could not find"):  # valid: it reaches the service
        client.describe_endpoint(EndpointName="no-such-endpoint")
    assert seen == []


_PROBE = """
import boto3
from moto import mock_aws
from ml.backends.sagemaker.clients import make_clients
with mock_aws():
    clients = make_clients(boto3.Session(region_name="us-east-1"), retry_mode="standard", max_attempts=1)
    try:
        clients.sagemaker.describe_endpoint(EndpointName="bad name!")
    except Exception as err:
        print(type(err).__name__)
"""


def _clean_environ() -> dict[str, str]:
    """This process's environment without the suite's own hook on PYTHONPATH."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


@pytest.mark.parametrize(("strict", "raised"), [(True, "RequestValidationError"), (False, "ClientError")])
def test_a_subprocess_checks_requests_only_in_the_strict_environment(strict: bool, raised: str) -> None:
    """In a process of its own, away from this suite's in-process hook, as the rehearsal runs the tasks."""
    env = strict_environment(_clean_environ()) if strict else _clean_environ()
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, cwd=REPO, capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == raised


def test_the_strict_hook_loads_nothing_in_a_process_that_never_uses_aws() -> None:
    probe = "import sys; print(sorted(m for m in sys.modules if m.startswith(('botocore', 'regex', '_byoc', 'tools'))))"
    out = subprocess.run(
        [sys.executable, "-c", probe], env=strict_environment(_clean_environ()), capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_the_strict_hook_still_runs_the_next_sitecustomize_on_the_path(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text("print('the next sitecustomize ran')\n")
    env = strict_environment({**_clean_environ(), "PYTHONPATH": str(tmp_path)})
    assert is_strict(env)
    out = subprocess.run([sys.executable, "-c", "pass"], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "the next sitecustomize ran"
