"""Data capture on the SageMaker backend: the exact DataCaptureConfig, and capture turned off."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from sagemaker_fakes import record_calls
from sagemaker_setup import TEST_DATALAKE, TEST_DATALAKE_KEY

from ml.backends.sagemaker.backend import SageMakerBackend
from ml.backends.sagemaker.capture import hour_prefix
from ml.backends.sagemaker.hosting import Hosting

ENDPOINT = "scikit-byo-endpoint"
EXPECTED_CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": f"s3://{TEST_DATALAKE}/datacapture",
    "KmsKeyId": TEST_DATALAKE_KEY,
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
}


def _approved(backend: SageMakerBackend) -> int:
    version = backend.register(job_name=backend.train().name).version
    backend.approve(version=version)
    return version


def test_every_endpoint_config_captures_into_the_data_lake(backend: SageMakerBackend, clients: Any) -> None:
    configs = record_calls(clients.sagemaker, "CreateEndpointConfig")
    _approved(backend)
    endpoint = backend.deploy_endpoint(endpoint_name=ENDPOINT)
    _approved(backend)
    backend.update_endpoint(endpoint_name=ENDPOINT)
    assert len(configs) == 2
    for request in configs:
        assert request["DataCaptureConfig"] == EXPECTED_CAPTURE
    # moto keeps what it was given: SageMaker would report the same block back.
    described = clients.sagemaker.describe_endpoint_config(EndpointConfigName=endpoint.config_name)
    assert described["DataCaptureConfig"]["DestinationS3Uri"] == EXPECTED_CAPTURE["DestinationS3Uri"]


def test_capture_off_sends_no_block_and_names_a_different_config(backend: SageMakerBackend, clients: Any, sm: Any) -> None:
    configs = record_calls(clients.sagemaker, "CreateEndpointConfig")
    version = backend.register(job_name=backend.train().name)
    model = backend.hosting.ensure_model(endpoint_name=ENDPOINT, version=version)
    with_capture = backend.hosting.ensure_config(endpoint_name=ENDPOINT, version=version, model_name=model)
    off = dataclasses.replace(backend.config, capture_enabled=False)
    hosting = Hosting(sagemaker=sm, config=off, outputs=backend.outputs, clock=backend.clock)
    without = hosting.ensure_config(endpoint_name=ENDPOINT, version=version, model_name=model)
    assert without != with_capture
    assert "DataCaptureConfig" in configs[0] and "DataCaptureConfig" not in configs[1]


def test_hour_prefix_is_sagemakers_layout() -> None:
    hour = datetime(2026, 3, 7, 9, 41, tzinfo=UTC)
    assert hour_prefix(capture_prefix="datacapture", endpoint=ENDPOINT, variant="AllTraffic", hour=hour) == (
        "datacapture/scikit-byo-endpoint/AllTraffic/2026/03/07/09/"
    )
