"""Data capture: what every endpoint config asks SageMaker to record, and where it lands.

SageMaker writes captured requests and responses as JSON Lines under
``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/`` (Model Monitor guide, "Capture data
from real-time endpoint"). Content types listed in ``CaptureContentTypeHeader`` are kept as
text; any other body is base64-encoded, which a monitor would have to decode, so the two
types the container serves (``text/csv``, ``application/json``) are listed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ml.config import ProjectConfig
from ml.tfstate import StackOutputs

CSV_CONTENT_TYPES = ("text/csv",)
JSON_CONTENT_TYPES = ("application/json",)
CAPTURE_MODES = ("Input", "Output")


def destination_uri(config: ProjectConfig, bucket: str) -> str:
    return f"s3://{bucket}/{config.capture_prefix}"


def hour_prefix(*, capture_prefix: str, endpoint: str, variant: str, hour: datetime) -> str:
    """The key prefix of one hour of captured data (UTC), as SageMaker lays it out."""
    return f"{capture_prefix}/{endpoint}/{variant}/{hour:%Y/%m/%d/%H}/"


def data_capture_config(config: ProjectConfig, outputs: StackOutputs) -> dict[str, Any] | None:
    """``DataCaptureConfig`` for CreateEndpointConfig, or None when capture is off.

    Off means no block at all rather than ``EnableCapture: false``: the block would still need a
    destination, and its absence keeps a capture-less config identical to the ones made before.
    """
    if not config.capture_enabled:
        return None
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": config.capture_sampling_percent,
        "DestinationS3Uri": destination_uri(config, outputs.datalake_bucket),
        # The data lake's own key: the bucket's default encryption uses it too, so one grant covers both.
        "KmsKeyId": outputs.datalake_key_arn,
        "CaptureOptions": [{"CaptureMode": mode} for mode in CAPTURE_MODES],
        "CaptureContentTypeHeader": {"CsvContentTypes": list(CSV_CONTENT_TYPES), "JsonContentTypes": list(JSON_CONTENT_TYPES)},
    }
