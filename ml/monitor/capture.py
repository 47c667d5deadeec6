"""One line of SageMaker's data capture JSON Lines, parsed into feature rows and predictions.

The format (Model Monitor guide, "Capture data"): ``captureData.endpointInput`` and
``captureData.endpointOutput`` each hold ``observedContentType``, ``mode``, ``data`` and
``encoding`` (``CSV`` or ``JSON`` for the content types listed in the capture config, ``BASE64``
otherwise); ``eventMetadata`` holds ``eventId`` and ``inferenceTime``. A request may carry
many rows; the answer holds one prediction per row.

An answer is an *error* when it is not a prediction: the model server answers predictions only
as CSV or JSON and errors as ``text/plain`` (``byoc.app``; SageMaker's front end likewise), so an
answer of any other content type, or one that does not hold one prediction per row, is an error.
Local records also carry the HTTP status (``eventMetadata.byocStatus``) and the variant that
answered (``eventMetadata.byocVariant``), which SageMaker's records do not have.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ml.backends.sagemaker.capture import CSV_CONTENT_TYPES, JSON_CONTENT_TYPES
from ml.errors import UserInputError

PREDICTION_TYPES = (*CSV_CONTENT_TYPES, *JSON_CONTENT_TYPES)  # what the model server answers predictions in
VARIANT_KEY = "byocVariant"  # local capture only: the variant id that answered (the router's X-Byoc-Variant)
STATUS_KEY = "byocStatus"  # local capture only: the HTTP status the client got
MISSING = math.nan  # a value the request did not carry, or carried as something not a number


class CaptureFormatError(UserInputError):
    """A capture line that is not SageMaker's format; the message names the file and line."""


@dataclass(frozen=True, kw_only=True)
class CapturedRecord:
    time: datetime
    rows: list[list[float]]  # one list per input row; MISSING where a cell is empty or not a number
    predictions: list[str]  # one per answered row; empty when the answer was an error or not captured
    error: bool = False  # the endpoint answered with an error, not a prediction per row
    variant: str = ""  # the variant id that answered (local capture); "" when the record does not say


def _kind(block: dict[str, Any], side: str) -> str:
    """The body's media type: JSON when SageMaker kept it as JSON text, else the observed type."""
    encoding = block.get("encoding", "CSV")
    if encoding not in ("CSV", "JSON", "BASE64"):
        raise ValueError(f"captureData.{side}.encoding {encoding!r} is not CSV, JSON or BASE64")
    if encoding == "JSON":
        return "application/json"
    return str(block.get("observedContentType", "")).split(";")[0].strip().lower()


def _text(block: dict[str, Any], side: str) -> tuple[str, str]:
    data, kind = block.get("data"), _kind(block, side)
    if not isinstance(data, str):
        raise ValueError(f"captureData.{side}.data is missing or not a string")
    if block.get("encoding", "CSV") == "BASE64":
        try:
            return base64.b64decode(data, validate=True).decode("utf-8"), kind
        except (binascii.Error, UnicodeDecodeError) as err:
            raise ValueError(f"captureData.{side}.data is not base64 of UTF-8 text ({err})") from None
    return data, kind


def _cell(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        return MISSING
    try:
        number = float(value)
    except (TypeError, ValueError):
        return MISSING
    return number if math.isfinite(number) else MISSING


def _input_rows(text: str, content_type: str) -> list[list[float]]:
    if content_type == "application/json":
        document = json.loads(text)
        if isinstance(document, dict):
            document = document.get("instances", [])
        if not isinstance(document, list):
            raise ValueError("JSON input is neither a list of rows nor an object with an instances list")
        rows = document if document and isinstance(document[0], list) else [document]
        return [[_cell(v) for v in row] if isinstance(row, list) else [MISSING] for row in rows]
    return [_csv_row(line) for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def _csv_row(line: str) -> list[float]:
    cells = line.split(",")
    try:
        # The common case in one pass: every cell a finite number (checking cells one by one
        # took a fifth of the monitor's time); anything else takes the careful path.
        row = [float(c) for c in cells]
    except ValueError:
        return [_cell(c) if c.strip() else MISSING for c in cells]
    return row if all(map(math.isfinite, row)) else [_cell(c) for c in cells]


def _predictions(text: str, content_type: str) -> list[str]:
    if content_type == "application/json":
        try:
            document = json.loads(text)
        except ValueError:
            return []
        values = document.get("predictions", []) if isinstance(document, dict) else document
        return [str(v) for v in values] if isinstance(values, list) else []
    return [line.strip() for line in text.split("\n") if line.strip()]


def _answer(output: Any, rows: int, metadata: Any) -> tuple[list[str], bool]:
    """The predictions of an answer, and whether the answer was an error (see the module's note)."""
    status = metadata.get(STATUS_KEY) if isinstance(metadata, dict) else None
    failed = isinstance(status, int) and not isinstance(status, bool) and status >= 400
    if not isinstance(output, dict):
        return [], failed
    if failed or _kind(output, "endpointOutput") not in PREDICTION_TYPES:
        return [], True  # an error body (text/plain, or whatever a proxy sent) is never decoded as predictions
    predictions = _predictions(*_text(output, "endpointOutput"))
    return (predictions, False) if len(predictions) == rows else ([], True)


def _time(metadata: Any) -> datetime:
    raw = metadata.get("inferenceTime") if isinstance(metadata, dict) else None
    if not isinstance(raw, str):
        raise ValueError("eventMetadata.inferenceTime is missing")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"eventMetadata.inferenceTime {raw!r} is not an ISO 8601 time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def parse_line(line: bytes | str, *, where: str) -> CapturedRecord:
    """Parse one capture line; ``where`` ("file:line") goes into the error of a malformed one."""
    try:
        document = json.loads(line)
        if not isinstance(document, dict) or not isinstance(document.get("captureData"), dict):
            raise ValueError("no captureData object")
        data = document["captureData"]
        if not isinstance(data.get("endpointInput"), dict):
            raise ValueError("captureData.endpointInput is missing")
        metadata = document.get("eventMetadata")
        moment = _time(metadata)
        rows = _input_rows(*_text(data["endpointInput"], "endpointInput"))
        predictions, error = _answer(data.get("endpointOutput"), len(rows), metadata)
        variant = metadata.get(VARIANT_KEY, "") if isinstance(metadata, dict) else ""
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise CaptureFormatError(
            f"{where}: not a SageMaker data capture record ({err}); "
            "each line must be one JSON object with captureData.endpointInput/endpointOutput and eventMetadata.inferenceTime "
            "- remove or fix the line, or point the monitor at a capture prefix"
        ) from None
    return CapturedRecord(time=moment, rows=rows, predictions=predictions, error=error, variant=variant if isinstance(variant, str) else "")
