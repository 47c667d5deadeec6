"""``serve`` run for real from the checkout: health, predictions, and the bad-input battery."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import skops.io
from container_helpers import Server, iris_csv_lines, request
from sklearn.datasets import load_iris

ROW = b"5.1,3.5,1.4,0.2\n"


def _model_predictions(trained_dir: Path, features: np.ndarray) -> list[str]:
    trusted = ["sklearn.tree._classes.DecisionTreeClassifier", "sklearn.tree._tree.Tree"]
    model = skops.io.load(trained_dir / "model" / "model.skops", trusted=trusted)
    return [str(x) for x in model.predict(features)]


def test_ping_is_healthy_with_a_valid_model(session_server: Server) -> None:
    response = request(f"{session_server.url}/ping")
    assert response.status == 200


def test_csv_predictions_match_the_model_one_line_per_row_in_order(session_server: Server, trained_dir: Path) -> None:
    features = load_iris().data
    body = "\n".join(",".join(f"{x:.1f}" for x in row) for row in features).encode() + b"\n"
    response = session_server.invoke(body, "text/csv", "text/csv")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv"
    lines = response.body.decode().splitlines()
    assert lines == _model_predictions(trained_dir, np.round(features, 1))
    assert len(set(lines)) == 3


def test_json_in_json_out(session_server: Server, trained_dir: Path) -> None:
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    response = session_server.invoke(json.dumps({"instances": rows}).encode(), "application/json", "application/json")
    assert response.status == 200
    assert json.loads(response.body) == {"predictions": _model_predictions(trained_dir, np.array(rows))}


@pytest.mark.parametrize(
    ("content_type", "accept", "expected_type"),
    [
        ("text/csv", None, "text/csv"),
        ("text/csv; charset=utf-8", "*/*", "text/csv"),
        ("text/csv", "application/json", "application/json"),
        ("text/csv", "text/html;q=0.9, application/json;q=0.5", "application/json"),
        ("application/json", None, "application/json"),
        ("application/json", "text/csv", "text/csv"),
    ],
)
def test_accept_negotiation(session_server: Server, content_type: str, accept: str | None, expected_type: str) -> None:
    body = ROW if content_type.startswith("text/csv") else b"[5.1, 3.5, 1.4, 0.2]"
    response = session_server.invoke(body, content_type, accept)
    assert response.status == 200
    assert response.headers["Content-Type"] == expected_type
    assert b"setosa" in response.body


def test_execution_parameters_for_batch_transform(session_server: Server) -> None:
    response = request(f"{session_server.url}/execution-parameters")
    assert response.status == 200
    assert json.loads(response.body) == {"MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}


BAD_INPUT = {
    "unsupported content type": (b"5.1,3.5,1.4,0.2", "text/plain", None, 415, "unsupported content type"),
    "no content type": (b"5.1,3.5,1.4,0.2", "", None, 415, "unsupported content type"),
    "unacceptable accept": (ROW, "text/csv", "image/png", 406, "cannot answer"),
    "empty csv": (b"", "text/csv", None, 400, "empty body"),
    "blank lines only": (b"\n\n", "text/csv", None, 400, "empty body"),
    "too few features": (b"5.1,3.5,1.4\n", "text/csv", None, 400, "expected 4 features, got 3"),
    "too many features": (b"5.1,3.5,1.4,0.2,9\n", "text/csv", None, 400, "expected 4 features, got 5"),
    "ragged rows": (b"5.1,3.5,1.4,0.2\n5.1,3.5\n", "text/csv", None, 400, "ragged rows: line 2 has 2 values"),
    "non-numeric": (b"5.1,abc,1.4,0.2\n", "text/csv", None, 400, "line 1 column 2: 'abc' is not a number"),
    "header row": (b"a,b,c,d\n5.1,3.5,1.4,0.2\n", "text/csv", None, 400, "'a' is not a number"),
    "NaN": (b"5.1,nan,1.4,0.2\n", "text/csv", None, 400, "no NaN or infinity"),
    "infinity": (b"5.1,inf,1.4,0.2\n", "text/csv", None, 400, "no NaN or infinity"),
    "missing value": (b"5.1,,1.4,0.2\n", "text/csv", None, 400, "column 2: '' is not a number"),
    "empty line between rows": (b"5.1,3.5,1.4,0.2\n\n5.1,3.5,1.4,0.2\n", "text/csv", None, 400, "line 2 is empty"),
    "not utf-8": (b"\xff\xfe5.1,3.5,1.4,0.2\n", "text/csv", None, 400, "not UTF-8"),
    "malformed json": (b"[5.1, 3.5,", "application/json", None, 400, "malformed JSON"),
    "empty json": (b"", "application/json", None, 400, "empty body"),
    "json wrong feature count": (b"[[5.1, 3.5]]", "application/json", None, 400, "expected 4 features, got 2"),
    "json string value": (b'[[5.1, "x", 1.4, 0.2]]', "application/json", None, 400, "'x' is not a number"),
    "json boolean value": (b"[[5.1, true, 1.4, 0.2]]", "application/json", None, 400, "'True' is not a number"),
    "json NaN": (b"[[5.1, NaN, 1.4, 0.2]]", "application/json", None, 400, "NaN or infinity"),
    "json huge number": (b"[[5.1, 1e999, 1.4, 0.2]]", "application/json", None, 400, "NaN or infinity"),
    "json huge integer": (b"[[5.1, " + b"9" * 400 + b", 1.4, 0.2]]", "application/json", None, 400, "too large"),
    "json object without instances": (b'{"rows": []}', "application/json", None, 400, '"instances"'),
    "json deep nesting": (b"[" * 100_000 + b"]" * 100_000, "application/json", None, 400, "malformed JSON"),
    "json ragged": (b"[[5.1, 3.5, 1.4, 0.2], [1.0]]", "application/json", None, 400, "got 1 (row 2)"),
}


@pytest.mark.parametrize("case", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_gets_exact_4xx_with_a_message(session_server: Server, case: tuple[bytes, str, str | None, int, str]) -> None:
    body, content_type, accept, status, message = case
    response = session_server.invoke(body, content_type, accept)
    assert response.status == status
    assert message in response.body.decode()
    assert session_server.alive()


def test_body_over_the_limit_is_413(session_server: Server) -> None:
    body = ROW * (6 * 1024 * 1024 // len(ROW) + 1)
    response = session_server.invoke(body, "text/csv")
    assert response.status == 413
    assert "larger than 6291456 bytes" in response.body.decode()
    assert request(f"{session_server.url}/ping").status == 200


def test_limit_comes_from_the_environment(trained_dir: Path, start_server: Callable[..., Server]) -> None:
    server = start_server(trained_dir, SAGEMAKER_MAX_PAYLOAD_IN_MB="1")
    assert server.invoke(ROW * (1024 * 1024 // len(ROW) + 1)).status == 413
    assert server.invoke(ROW * 1000).status == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nope", 404), ("POST", "/ping", 405), ("GET", "/invocations", 405), ("DELETE", "/execution-parameters", 405)],
)
def test_unknown_routes_and_methods(session_server: Server, method: str, path: str, status: int) -> None:
    assert request(f"{session_server.url}{path}", method=method).status == status


def _copy_model(trained_dir: Path, tmp_path: Path) -> Path:
    shutil.copytree(trained_dir / "model", tmp_path / "model")
    return tmp_path


def test_tampered_model_file_makes_ping_unhealthy(trained_dir: Path, tmp_path: Path, start_server: Callable[..., Server]) -> None:
    root = _copy_model(trained_dir, tmp_path)
    with (root / "model" / "model.skops").open("ab") as handle:
        handle.write(b"tampered")
    server = start_server(root)
    ping = request(f"{server.url}/ping")
    assert ping.status == 503
    assert "SHA-256" in ping.body.decode()
    assert server.invoke(ROW).status == 503
    log = next(tmp_path.parent.glob(f"{tmp_path.name}/serve-*.log")).read_text()
    assert "model refused, /ping will report unhealthy" in log


def test_manifest_from_other_library_versions_makes_ping_unhealthy(
    trained_dir: Path, tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    root = _copy_model(trained_dir, tmp_path)
    manifest_path = root / "model" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["libraries"]["scikit-learn"] = "0.24.2"
    manifest_path.write_text(json.dumps(manifest))
    ping = request(f"{start_server(root).url}/ping")
    assert ping.status == 503
    assert "scikit-learn '0.24.2'" in ping.body.decode()


def test_missing_model_makes_ping_unhealthy(tmp_path: Path, start_server: Callable[..., Server]) -> None:
    ping = request(f"{start_server(tmp_path).url}/ping")
    assert ping.status == 503
    assert "manifest.json is missing" in ping.body.decode()


def test_iris_helper_matches_the_data_module_format() -> None:
    # The sample data is label-first with class names; the tests' copy must agree.
    assert iris_csv_lines()[0] == "setosa,5.1,3.5,1.4,0.2"
