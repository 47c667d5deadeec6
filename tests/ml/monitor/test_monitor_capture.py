"""Parsing SageMaker capture lines: CSV, JSON and base64 bodies, missing cells, malformed lines."""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime

import pytest

from ml.monitor.capture import CaptureFormatError, parse_line

# A record exactly as SageMaker writes it for a CSV request of two rows (Model Monitor guide).
SAGEMAKER_LINE = (
    '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"5.1,3.5,1.4,0.2\\n6.2,,4.5,1.5",'
    '"encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"setosa\\nversicolor\\n",'
    '"encoding":"CSV"}},"eventMetadata":{"eventId":"a9b1e6e3-0c6f-4c5e-9b2a-1f0c6d7e8f90","inferenceTime":"2026-11-28T05:12:44Z"},'
    '"eventVersion":"0"}'
)


def _record(*, into: tuple[str, str, str], out: tuple[str, str, str]) -> str:
    """A capture line from (data, encoding, content type) of the request and of the answer."""
    (data_in, encoding_in, type_in), (data_out, encoding_out, type_out) = into, out
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {"observedContentType": type_in, "mode": "INPUT", "data": data_in, "encoding": encoding_in},
                "endpointOutput": {"observedContentType": type_out, "mode": "OUTPUT", "data": data_out, "encoding": encoding_out},
            },
            "eventMetadata": {"eventId": "x", "inferenceTime": "2026-11-28T05:00:00.123456Z"},
        }
    )


def test_a_csv_record_gives_rows_predictions_and_its_time() -> None:
    record = parse_line(SAGEMAKER_LINE, where="f:1")
    assert record.time == datetime(2026, 11, 28, 5, 12, 44, tzinfo=UTC)
    assert record.rows[0] == [5.1, 3.5, 1.4, 0.2]
    assert record.rows[1][0] == 6.2 and math.isnan(record.rows[1][1])  # the empty cell is missing
    assert record.predictions == ["setosa", "versicolor"]


def test_json_and_base64_bodies_decode_like_the_container_reads_them() -> None:
    as_json = _record(
        into=('{"instances": [[1, null], [2, 3]]}', "JSON", "application/json"),
        out=('{"predictions": ["a", "b"]}', "JSON", "application/json"),
    )
    record = parse_line(as_json, where="f:1")
    assert record.rows[1] == [2.0, 3.0] and math.isnan(record.rows[0][1])
    assert record.predictions == ["a", "b"]
    one_row = _record(into=("[5.1, 3.5]", "JSON", "application/json"), out=('["a"]', "JSON", "application/json"))
    assert parse_line(one_row, where="f:1").rows == [[5.1, 3.5]]
    encoded = base64.b64encode(b"1,2\n3,4").decode()
    record = parse_line(
        _record(into=(encoded, "BASE64", "text/csv"), out=(base64.b64encode(b"a\nb").decode(), "BASE64", "text/csv")), where="f:1"
    )
    assert record.rows == [[1.0, 2.0], [3.0, 4.0]] and record.predictions == ["a", "b"]


def test_an_error_answer_is_an_error_not_a_predicted_class() -> None:
    record = parse_line(_record(into=("1,2\n3,4", "CSV", "text/csv"), out=("wrong feature count", "CSV", "text/plain")), where="f:1")
    assert len(record.rows) == 2 and record.predictions == [] and record.error
    # One row, one line of error text: the count matches, the content type still says error.
    encoded = base64.b64encode(b"wrong feature count: expected 4, got 3\n").decode()
    one = parse_line(_record(into=("1,2,3", "CSV", "text/csv"), out=(encoded, "BASE64", "text/plain; charset=utf-8")), where="f:1")
    assert (one.predictions, one.error) == ([], True)
    # Whatever bytes a proxy's error page holds, it is not decoded as predictions.
    page = parse_line(_record(into=("1", "CSV", "text/csv"), out=("//79", "BASE64", "text/html")), where="f:1")
    assert page.error


def _with_metadata(line: str, **extra: object) -> str:
    document = json.loads(line)
    document["eventMetadata"].update(extra)
    return json.dumps(document)


def test_the_local_status_and_variant_are_read_and_a_status_of_400_or_more_is_an_error() -> None:
    line = _record(into=("1,2", "CSV", "text/csv"), out=("a", "CSV", "text/csv"))
    assert parse_line(_with_metadata(line, byocStatus=400), where="f:1").error
    assert parse_line(_with_metadata(line, byocStatus=503), where="f:1").error
    fine = parse_line(_with_metadata(line, byocStatus=399, byocVariant="v3-20261128-052000-001"), where="f:1")
    assert (fine.error, fine.predictions, fine.variant) == (False, ["a"], "v3-20261128-052000-001")
    assert parse_line(line, where="f:1").variant == ""  # SageMaker's own records name no variant
    assert not parse_line(_with_metadata(line, byocStatus=True, byocVariant=7), where="f:1").error  # not a status, not a name
    no_output = json.loads(line)
    del no_output["captureData"]["endpointOutput"]
    unanswered = parse_line(json.dumps(no_output), where="f:1")
    assert (unanswered.error, unanswered.predictions) == (False, [])  # input-only capture: unanswered, not an error
    assert parse_line(_with_metadata(json.dumps(no_output), byocStatus=500), where="f:1").error


def test_an_answer_without_one_prediction_per_row_is_an_error() -> None:
    record = parse_line(_record(into=("1,2\n3,4", "CSV", "text/csv"), out=("a", "CSV", "text/csv")), where="f:1")
    assert record.error and record.predictions == []
    json_answer = parse_line(
        _record(into=("[[1, 2], [3, 4]]", "JSON", "application/json"), out=("not json", "JSON", "application/json")), where="f:1"
    )
    assert json_answer.error


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "Expecting property name"),
        ('{"eventMetadata": {}}', "no captureData object"),
        ('{"captureData": {"endpointOutput": {}}}', "captureData.endpointInput is missing"),
        (
            SAGEMAKER_LINE.replace('"inferenceTime":"2026-11-28T05:12:44Z"', '"inferenceTime":"yesterday"'),
            "'yesterday' is not an ISO 8601 time",
        ),
        (SAGEMAKER_LINE.replace('"encoding":"CSV"', '"encoding":"GZIP"', 1), "encoding 'GZIP' is not CSV, JSON or BASE64"),
    ],
)
def test_a_malformed_line_names_its_file_line_and_the_problem(line: str, problem: str) -> None:
    with pytest.raises(CaptureFormatError) as caught:
        parse_line(line, where="capture/part-0.jsonl:7")
    message = str(caught.value)
    assert message.startswith("capture/part-0.jsonl:7: not a SageMaker data capture record")
    assert problem in message
    assert "remove or fix the line" in message


def test_cells_that_are_not_finite_numbers_are_missing() -> None:
    record = parse_line(_record(into=("1,inf,nan\n2, 3 ,x", "CSV", "text/csv"), out=("a\nb", "CSV", "text/csv")), where="f:1")
    assert record.rows[0][0] == 1.0 and all(math.isnan(v) for v in record.rows[0][1:])
    assert record.rows[1][:2] == [2.0, 3.0] and math.isnan(record.rows[1][2])
