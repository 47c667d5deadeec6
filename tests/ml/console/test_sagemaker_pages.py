"""The same pages on the SageMaker backend: moto, the contract suite's fakes, and the data lake."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from console_helpers import TEST_SECRET, csrf_of, text_of
from flask.testing import FlaskClient

from ml.console import ConsoleSettings, create_app
from ml.console.services import Services
from ml.console.sources import DataLakeReports
from ml.errors import UserInputError

HERE = Path(__file__).resolve()


def _contract_world() -> ModuleType:
    """tests/ml/backends/contract_world.py: the moto world the backend contract suite runs in."""
    if "contract_world" in sys.modules:
        return sys.modules["contract_world"]
    spec = importlib.util.spec_from_file_location("contract_world", HERE.parents[1] / "backends" / "contract_world.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["contract_world"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Any, FlaskClient]]:
    worlds = _contract_world()
    for contract in worlds.sagemaker_world(tmp_path):
        backend = contract.backend
        for job in contract.jobs:
            backend.register(job_name=job)

        def no_monitor(hours: float, endpoint: str) -> Any:
            raise UserInputError("not in this test")

        services = Services(
            settings=ConsoleSettings(root=tmp_path, config=backend.config, backend="sagemaker", secret_key=TEST_SECRET),
            backend_factory=lambda backend=backend: backend,
            reports_factory=lambda s3=backend.clients.s3: DataLakeReports(s3=s3, bucket=worlds.DATALAKE),
            run_monitor=no_monitor,
        )
        yield backend, create_app(services.settings, service=services).test_client()


def test_versions_and_approval_go_through_the_model_registry(world: tuple[Any, FlaskClient]) -> None:
    backend, client = world
    page = client.get("/versions").get_data(as_text=True)
    assert 'id="version-1"' in page and 'id="version-2"' in page
    token = csrf_of(client, "/versions/1")
    assert client.post("/versions/1/approve", data={"note": "reviewed on AWS", "csrf_token": token}).status_code == 303
    assert next(v for v in backend.list_versions() if v.version == 1).approval_status == "Approved"
    refused = client.post("/versions/1/approve", data={"note": "a\nb", "csrf_token": token})
    assert refused.status_code == 400 and "error: the approval note must be one line" in text_of(refused.get_data(as_text=True))


def test_a_version_report_comes_from_the_data_lake(world: tuple[Any, FlaskClient]) -> None:
    backend, client = world
    assert "invoke report --backend sagemaker --version 1" in client.get("/versions/1").get_data(as_text=True)
    scores = {"version": 1, "data": "s3://lake/iris.csv", "rows": 2, "accuracy": 0.5, "classes": [], "confusion": []}
    backend.clients.s3.put_object(Bucket=_contract_world().DATALAKE, Key="reports/scikit-byo/000001/scores.json", Body=json.dumps(scores))
    assert "accuracy 0.5000" in text_of(client.get("/versions/1").get_data(as_text=True))
    assert client.get("/reports/reports/scikit-byo/000001/scores.json").json == scores
    assert client.get("/reports/datacapture/x/y.json").status_code == 404  # only the report prefixes are read


def test_an_endpoint_not_created_says_so(world: tuple[Any, FlaskClient]) -> None:
    _, client = world
    assert "does not exist; create it with `invoke deploy --mode endpoint`" in text_of(client.get("/endpoints").get_data(as_text=True))


def test_a_missing_permission_is_a_clear_page_not_a_500() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    reports = DataLakeReports(s3=s3, bucket="byoc-lake")
    with Stubber(s3) as stub:
        stub.add_client_error("get_object", service_error_code="AccessDenied", service_message="Access Denied", http_status_code=403)
        services = Services(
            settings=ConsoleSettings(
                root=HERE.parent, config=_contract_world().load_config(HERE.parents[3] / "cdktf.json"), secret_key=TEST_SECRET
            ),
            backend_factory=lambda: None,  # type: ignore[arg-type, return-value]
            reports_factory=lambda: reports,
            run_monitor=lambda hours, endpoint: None,  # type: ignore[arg-type, return-value]
        )
        answer = create_app(services.settings, service=services).test_client().get("/reports/reports/scikit-byo/000001/index.html")
    assert answer.status_code == 403
    assert "access denied; grant `s3:GetObject` to your AWS identity" in text_of(answer.get_data(as_text=True))
