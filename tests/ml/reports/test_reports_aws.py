"""The AWS report: real artifact and data in moto's S3, uploaded to the data lake, URI on the package.

Strict request validation (tests/conftest.py) checks every request, UpdateModelPackage's escaped
CustomerMetadataProperties included.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends
from PIL import Image
from report_html import parse

from ml.backends.local.backend import LocalBackend
from ml.backends.records import ModelVersion
from ml.backends.sagemaker.training import split_s3_uri
from ml.errors import UserInputError
from ml.reports.aws import candidate_key, publish_report, report_uri

Trained = tuple[LocalBackend, ModelVersion, ModelVersion]
WORLD = Path(__file__).resolve().parents[1] / "backends" / "contract_world.py"


def _world() -> ModuleType:
    """tests/ml/backends/contract_world.py by path: the contract suite's moto world, reused."""
    if "contract_world" in sys.modules:
        return sys.modules["contract_world"]
    spec = importlib.util.spec_from_file_location("contract_world", WORLD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["contract_world"] = module
    spec.loader.exec_module(module)
    return module


class KeepsApprovalStatus:
    """moto 5.2 sets a package's status to None when UpdateModelPackage omits it; AWS leaves it as it
    was. This fake passes the request through unchanged (strict validation sees it as sent) and
    then puts the status back in moto's state, as AWS would have kept it."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def update_model_package(self, **request: Any) -> Any:
        before = self._real.describe_model_package(ModelPackageName=request["ModelPackageArn"])["ModelApprovalStatus"]
        answer = self._real.update_model_package(**request)
        if "ModelApprovalStatus" not in request:
            backend = sagemaker_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
            name = backend.model_package_name_mapping.get(request["ModelPackageArn"], request["ModelPackageArn"])
            backend.model_packages[name].model_approval_status = before
        return answer


@pytest.fixture
def registered(trained: Trained, tmp_path: Path) -> Iterator[tuple[object, ModelVersion]]:
    """A version registered on moto whose artifact and training data are the real local ones."""
    _backend, _serving, local = trained
    for contract in _world().sagemaker_world(tmp_path):
        backend = contract.backend
        job = contract.trained[1]
        s3 = backend.clients.s3
        s3.upload_file(local.artifact_uri, *split_s3_uri(job.artifact_uri))
        s3.upload_file(local.lineage.data_uri, *split_s3_uri(job.lineage.data_uri))
        version = backend.register(job_name=job.name, approval_status="PendingManualApproval")
        backend.clients = dataclasses.replace(backend.clients, sagemaker=KeepsApprovalStatus(backend.clients.sagemaker))
        yield backend, version


def test_the_report_goes_to_the_data_lake_and_its_uri_onto_the_package(registered: tuple[object, ModelVersion], tmp_path: Path) -> None:
    backend, version = registered
    assert isinstance(backend, _world().SageMakerBackend)
    uri = publish_report(backend, version=version.version)

    bucket = backend.outputs.datalake_bucket
    assert uri == f"s3://{bucket}/reports/{version.group}/{version.version:06d}/index.html"
    package = backend.clients.sagemaker.describe_model_package(ModelPackageName=version.arn)
    assert report_uri(package) == uri
    assert package["ModelApprovalStatus"] == "PendingManualApproval"  # recording the URI decided nothing
    assert backend.registry.get(version.version).metrics == version.metrics  # the lineage properties survive
    s3 = backend.clients.s3
    for key in (split_s3_uri(uri)[1], candidate_key(version.group)):
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ContentType"] == "text/html; charset=utf-8"
        page = parse(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())
        assert version.metrics  # moto's training job reports its own metric; whatever it is, it is shown
        for name, value in version.metrics.items():
            assert page.rows[f"metric-{name}"][1] == f"{value:.4f}"
        assert page.rows["class-setosa"][3] == "50"  # scored on the real 150-row training data
    png = tmp_path / "confusion.png"
    s3.download_file(bucket, split_s3_uri(uri)[1].replace("index.html", "confusion.png"), str(png))
    with Image.open(png) as picture:
        picture.load()
        assert picture.format == "PNG"


def test_a_version_without_metrics_is_refused_before_anything_is_written(registered: tuple[object, ModelVersion]) -> None:
    backend, version = registered
    assert isinstance(backend, _world().SageMakerBackend)
    package = backend.clients.sagemaker.describe_model_package(ModelPackageName=version.arn)
    bare = {k: v for k, v in package["CustomerMetadataProperties"].items() if not k.startswith("metric.")}
    backend.clients.sagemaker.update_model_package(
        ModelPackageArn=version.arn, ModelApprovalStatus="PendingManualApproval", CustomerMetadataProperties=bare
    )
    with pytest.raises(UserInputError, match=f"model version {version.version} has no metrics"):
        publish_report(backend, version=version.version)
    listed = backend.clients.s3.list_objects_v2(Bucket=backend.outputs.datalake_bucket, Prefix="reports/")
    assert listed.get("KeyCount", 0) == 0


def test_a_package_with_no_room_for_the_report_is_refused_before_anything_is_written(registered: tuple[object, ModelVersion]) -> None:
    backend, version = registered
    assert isinstance(backend, _world().SageMakerBackend)
    sm = backend.clients.sagemaker
    package = sm.describe_model_package(ModelPackageName=version.arn)
    full = {**package["CustomerMetadataProperties"]}
    full.update({f"extra.{i}": "x" for i in range(50 - len(full))})
    sm.update_model_package(ModelPackageArn=version.arn, ModelApprovalStatus="PendingManualApproval", CustomerMetadataProperties=full)
    with pytest.raises(UserInputError, match=f"model version {version.version} already has 50 CustomerMetadataProperties"):
        publish_report(backend, version=version.version)
    listed = backend.clients.s3.list_objects_v2(Bucket=backend.outputs.datalake_bucket, Prefix="reports/")
    assert listed.get("KeyCount", 0) == 0
    assert report_uri(sm.describe_model_package(ModelPackageName=version.arn)) == ""


def test_the_report_of_the_version_already_serving_says_there_is_nothing_to_compare(registered: tuple[object, ModelVersion]) -> None:
    backend, version = registered
    assert isinstance(backend, _world().SageMakerBackend)
    backend.deploy_endpoint(  # an explicit version deploys while still pending approval
        endpoint_name=backend.config.endpoint_name, version=version.version
    )
    uri = publish_report(backend, version=version.version)
    page = parse(backend.clients.s3.get_object(Bucket=backend.outputs.datalake_bucket, Key=split_s3_uri(uri)[1])["Body"].read().decode())
    assert page.ids["compare-self"] == f"Version {version.version} is the version serving now; there is nothing to compare it with."
    assert "compare-none" not in page.ids and "compare-accuracy" not in page.rows
