"""In-process checks of the pieces the live tests cannot reach cheaply: artifact refusals, negotiation, env."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import skops.io
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from byoc import artifact, codec
from byoc.decision_tree import DecisionTree
from byoc.environment import Environment
from byoc.errors import ArtifactError, RequestError, UserError

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    iris = load_iris()
    tree = DecisionTree()
    model = tree.fit(iris.data, iris.target, {h.name: h.default for h in tree.hyperparameters})
    model_dir = tmp_path_factory.mktemp("model")
    artifact.save(model_dir=model_dir, algorithm=tree, model=model)
    return model_dir


def test_round_trip_predicts_like_sklearn(saved: Path) -> None:
    loaded = artifact.load(saved)
    features = load_iris().data
    assert list(loaded.algorithm.predictor(loaded.model).predict(features)) == list(loaded.model.predict(features))
    assert loaded.classes == [0, 1, 2]


def test_untrusted_type_is_refused_even_with_a_matching_checksum(saved: Path, tmp_path: Path) -> None:
    iris = load_iris()
    skops.io.dump(LogisticRegression(max_iter=200).fit(iris.data, iris.target), tmp_path / artifact.MODEL_FILE)
    manifest = json.loads((saved / artifact.MANIFEST).read_text())
    manifest["files"][artifact.MODEL_FILE] = artifact.sha256_of(tmp_path / artifact.MODEL_FILE)
    (tmp_path / artifact.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="holds a sklearn.linear_model._logistic.LogisticRegression, not a decision-tree model"):
        artifact.load(tmp_path)


def test_file_that_would_run_code_is_refused(saved: Path, tmp_path: Path) -> None:
    skops.io.dump({"payload": os.system}, tmp_path / artifact.MODEL_FILE)
    manifest = json.loads((saved / artifact.MANIFEST).read_text())
    manifest["files"][artifact.MODEL_FILE] = artifact.sha256_of(tmp_path / artifact.MODEL_FILE)
    (tmp_path / artifact.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"UntrustedTypesFoundException.*posix\.system"):
        artifact.load(tmp_path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"format_version": 2}, "format_version 2 is not supported"),
        ({"n_features": 5}, "manifest says 5"),
        ({"classes": ["a", "b", "c"]}, "manifest says 4 and"),
        ({"files": {"../model.skops": "0"}}, "no model.skops checksum"),
        ({"files": {"model.skops": "0", "../etc": "0"}}, "invalid file name"),
        ({"algorithm": "xgboost"}, "'xgboost' is not one this container serves"),
    ],
)
def test_manifest_mismatches_are_refused(saved: Path, tmp_path: Path, edit: dict[str, object], message: str) -> None:
    (tmp_path / artifact.MODEL_FILE).write_bytes((saved / artifact.MODEL_FILE).read_bytes())
    manifest = json.loads((saved / artifact.MANIFEST).read_text()) | edit
    (tmp_path / artifact.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=re.escape(message)):
        artifact.load(tmp_path)


@pytest.mark.parametrize(
    ("accept", "content_type", "expected"),
    [(None, codec.CSV, codec.CSV), ("application/*", codec.CSV, codec.JSON), ("text/csv;q=0.1, application/json", codec.CSV, codec.JSON)],
)
def test_negotiate(accept: str | None, content_type: str, expected: str) -> None:
    assert codec.negotiate(accept, content_type) == expected


def test_negotiate_refuses_q_zero() -> None:
    with pytest.raises(RequestError) as caught:
        codec.negotiate("text/csv;q=0", codec.CSV)
    assert caught.value.status == 406


def test_csv_fast_path_shape_and_crlf() -> None:
    features = codec.decode_csv(b"1,2,3,4\r\n5,6,7,8\r\n", 4)
    assert features.shape == (2, 4)
    assert features.dtype == np.float64


def test_environment_is_read_at_call_time_and_validated(tmp_path: Path) -> None:
    env = Environment.from_environ({"SAGEMAKER_BASE_DIR": str(tmp_path), "MODEL_SERVER_WORKERS": "3", "SAGEMAKER_BIND_TO_PORT": "9000"})
    assert (env.model_dir, env.workers, env.port, env.max_payload_bytes) == (tmp_path / "model", 3, 9000, 6 * 1024 * 1024)
    assert Environment.from_environ({}).base_dir == Path("/opt/ml")
    with pytest.raises(UserError, match="MODEL_SERVER_WORKERS must be a positive whole number, got 'many'"):
        Environment.from_environ({"MODEL_SERVER_WORKERS": "many"})


def test_container_requirements_match_pipfile_lock() -> None:
    lock = json.loads((REPO / "Pipfile.lock").read_text())["default"]
    pinned = dict(re.findall(r"^([a-z][a-z0-9-]*)(==\S+) \\$", (REPO / "ml/container/requirements.txt").read_text(), re.MULTILINE))
    assert {"numpy", "scipy", "scikit-learn", "skops", "gunicorn"} <= set(pinned)
    assert {name: lock[name]["version"] for name in pinned} == pinned


def test_container_code_imports_only_its_own_package_and_pinned_libraries() -> None:
    allowed = {"byoc", "numpy", "sklearn", "skops", "gunicorn", "__future__"}
    stdlib = {"argparse", "collections", "contextlib", "csv", "dataclasses", "hashlib", "importlib", "json", "logging", "math"}
    stdlib |= {"os", "pathlib", "platform", "pwd", "sys", "typing", "warnings"}
    for source in (REPO / "ml/container/byoc").glob("*.py"):
        for module in re.findall(r"^(?:from|import) ([\w.]+)", source.read_text(), re.MULTILINE):
            assert module.split(".")[0] in allowed | stdlib, f"{source.name} imports {module}"


def test_csv_lines_split_on_newline_only() -> None:
    # A vertical tab inside a line must not create an extra row (batch transform splits on \n).
    with pytest.raises(RequestError) as caught:
        codec.decode_csv(b"1,2,3,4\x0b5,6,7,8\n", 4)
    assert caught.value.status == 400


def test_large_csv_bodies_parse_exactly_like_float_and_fail_with_the_same_messages() -> None:
    # Bodies past codec's vector threshold take the byte-level parser; it must agree with float()
    # bit for bit and leave every refusal (and its wording) to the careful path.
    cells = ["5.1", "-0.25", "7", ".5", "3.", "-0", "123456789.012345", "1e3", "0.1"]
    lines = [",".join(cells[(i + j) % len(cells)] for j in range(4)) for i in range(2000)]
    features = codec.decode_csv(("\n".join(lines) + "\n\n").encode(), 4)
    expected = np.array([[float(cell) for cell in line.split(",")] for line in lines])
    assert features.tobytes() == expected.tobytes()
    plain = "\n".join(line.replace("1e3", "1000") for line in lines).encode()
    assert codec.decode_csv(plain, 4).tobytes() == expected.tobytes()
    bad_cases = {
        500: ("1,2,x,4", "line 501 column 3: 'x' is not a number"),
        700: ("1,2,3", "ragged rows: line 701 has 3 values while line 1 has 4; expected 4 features"),
        900: ("1,2,nan,4", "line 901 column 3: 'nan' is not allowed; send finite numbers (no NaN or infinity)"),
        1200: ("", "line 1201 is empty; send one row of 4 numbers per line"),
    }
    for index, (line, message) in bad_cases.items():
        broken = list(lines)
        broken[index] = line
        with pytest.raises(RequestError, match=re.escape(message)):
            codec.decode_csv("\n".join(broken).encode(), 4)
