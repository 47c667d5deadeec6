"""In-process checks of the pieces the live tests cannot reach cheaply: artifact refusals, negotiation, env."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skops.io
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from byoc import artifact, codec
from byoc.decision_tree import TREE_FILE, DecisionTree, export_arrays
from byoc.environment import Environment
from byoc.errors import ArtifactError, RequestError, UserError

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    iris = load_iris()
    tree = DecisionTree()
    model = tree.fit(iris.data, iris.target, {h.name: h.default for h in tree.hyperparameters})
    model_dir = tmp_path_factory.mktemp("base") / "model"
    artifact.save(model_dir=model_dir, algorithm=tree, model=model)
    return model_dir


def test_round_trip_predicts_like_sklearn(saved: Path) -> None:
    loaded = artifact.load(saved)
    estimator = artifact.load_estimator(saved)
    features = load_iris().data
    assert list(loaded.predictor.predict(features)) == list(estimator.predict(features))
    assert loaded.classes == [0, 1, 2]


@pytest.mark.parametrize("labels", ["numbers", "names"])
def test_numpy_tree_is_bit_identical_to_sklearn(labels: str) -> None:
    # A deep tree, and random rows around and far outside the data, cast to float32 as sklearn does.
    rng = np.random.default_rng(7)
    features = rng.normal(size=(3000, 6)) * rng.uniform(0.01, 1000, size=6)
    target = (features[:, 0] * features[:, 1] > 0).astype(int) + (features[:, 2] > features[:, 3]).astype(int)
    classes = np.array(["lo", "mid", "hi"])[target] if labels == "names" else target
    tree = DecisionTree()
    model = tree.fit(features, classes, {h.name: h.default for h in tree.hyperparameters})
    predictor = tree.predictor(model)
    probes = rng.normal(size=(200_000, 6)) * rng.uniform(0.01, 1000, size=6) * 3
    # Rows exactly at (and one float32 step around) every threshold, where a float64 comparison would differ.
    at = model.tree_.threshold[model.tree_.feature >= 0].astype(np.float32)
    edges = np.concatenate([at, np.nextafter(at, np.float32(np.inf)), np.nextafter(at, np.float32(-np.inf))]).astype(np.float64)
    probes = np.vstack([probes, np.repeat(edges[:, None], 6, axis=1)])
    for rows in (features, probes, probes[:1], probes[:3], probes[:7]):
        assert np.array_equal(predictor.predict(rows), model.predict(rows))
        assert np.array_equal(predictor.leaves(rows), model.tree_.apply(rows.astype(np.float32)))
    assert predictor.depth == model.get_depth() > 10


def test_untrusted_type_is_refused_even_with_a_matching_checksum(saved: Path, tmp_path: Path) -> None:
    # serve never parses model.skops (it only checks its SHA-256); skops loading, and this refusal, live in load_estimator.
    iris = load_iris()
    (tmp_path / TREE_FILE).write_bytes((saved / TREE_FILE).read_bytes())
    skops.io.dump(LogisticRegression(max_iter=200).fit(iris.data, iris.target), tmp_path / artifact.MODEL_FILE)
    manifest = json.loads((saved / artifact.MANIFEST).read_text())
    manifest["files"][artifact.MODEL_FILE] = artifact.sha256_of(tmp_path / artifact.MODEL_FILE)
    (tmp_path / artifact.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="holds a sklearn.linear_model._logistic.LogisticRegression, not a decision-tree model"):
        artifact.load_estimator(tmp_path)


def test_file_that_would_run_code_is_refused(saved: Path, tmp_path: Path) -> None:
    (tmp_path / TREE_FILE).write_bytes((saved / TREE_FILE).read_bytes())
    skops.io.dump({"payload": os.system}, tmp_path / artifact.MODEL_FILE)
    manifest = json.loads((saved / artifact.MANIFEST).read_text())
    manifest["files"][artifact.MODEL_FILE] = artifact.sha256_of(tmp_path / artifact.MODEL_FILE)
    (tmp_path / artifact.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"UntrustedTypesFoundException.*posix\.system"):
        artifact.load_estimator(tmp_path)


def _with_tree(saved: Path, tmp_path: Path, arrays: dict[str, np.ndarray]) -> None:
    """A copy of ``saved`` whose tree.npz holds ``arrays``, with the manifest's checksum updated to match."""
    (tmp_path / artifact.MODEL_FILE).write_bytes((saved / artifact.MODEL_FILE).read_bytes())
    with (tmp_path / TREE_FILE).open("wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]
    manifest = json.loads((saved / artifact.MANIFEST).read_text())
    manifest["files"][TREE_FILE] = artifact.sha256_of(tmp_path / TREE_FILE)
    (tmp_path / artifact.MANIFEST).write_text(json.dumps(manifest))


def _iris_arrays() -> dict[str, np.ndarray]:
    iris = load_iris()
    tree = DecisionTree()
    return export_arrays(tree.fit(iris.data, iris.target, {h.name: h.default for h in tree.hyperparameters}))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"classes": np.array([os.system], dtype=object)}, "could not be read safely: ValueError: Object arrays cannot be loaded"),
        ({"children_left": None}, "lacks children_left"),
        ({"children_left": "cycle"}, "children do not form a tree"),
        ({"feature": "out of range"}, "splits on a feature outside 0..3"),
        ({"leaf_class": "out of range"}, "maps a leaf to a class outside"),
        ({"n_features": np.asarray(5)}, "has 5 features and classes [0, 1, 2], manifest says 4"),
        ({"threshold": "float32"}, "unexpected dtypes"),
    ],
)
def test_malformed_tree_is_refused_even_with_a_matching_checksum(
    saved: Path, tmp_path: Path, change: dict[str, object], message: str
) -> None:
    arrays = _iris_arrays()
    for name, value in change.items():
        if value is None:
            del arrays[name]
        elif value == "cycle":
            arrays[name] = arrays[name].copy()
            arrays[name][1] = 0  # node 1's left child is the root: the walk would never end
            arrays["children_right"] = arrays["children_right"].copy()
            arrays["children_right"][1] = 0
        elif value == "out of range":
            arrays[name] = np.where(arrays[name] >= 0, arrays[name] + 10, arrays[name]) if name == "feature" else arrays[name] + 3
        elif value == "float32":
            arrays[name] = arrays[name].astype(np.int64)
        else:
            arrays[name] = value  # type: ignore[assignment]
    _with_tree(saved, tmp_path, arrays)
    with pytest.raises(ArtifactError, match=re.escape(message)):
        artifact.load(tmp_path)


@pytest.mark.parametrize(("damage", "message"), [("append", "SHA-256 is"), ("remove", "listed in the manifest but missing")])
def test_tampered_or_missing_tree_file_is_refused(saved: Path, tmp_path: Path, damage: str, message: str) -> None:
    for name in (artifact.MODEL_FILE, TREE_FILE, artifact.MANIFEST):
        (tmp_path / name).write_bytes((saved / name).read_bytes())
    if damage == "append":
        with (tmp_path / TREE_FILE).open("ab") as handle:
            handle.write(b"tampered")
    else:
        (tmp_path / TREE_FILE).unlink()
    with pytest.raises(ArtifactError, match=message):
        artifact.load(tmp_path)


def test_serving_imports_neither_sklearn_scipy_nor_skops(saved: Path) -> None:
    # What a serve worker does: create_app loads the model and predicts.
    script = (
        "import sys\n"
        "from byoc.app import create_app; from byoc.environment import Environment\n"
        f"app = create_app(Environment.from_environ({{'SAGEMAKER_BASE_DIR': {str(saved.parent)!r}}}))\n"
        "import numpy as np; assert app._predictor is not None; print(app._predictor.predict(np.ones((3, 4))))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy', 'skops', 'pandas'}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "ml/container")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"format_version": 2}, "format_version 2 is not supported"),
        ({"n_features": 5}, "manifest says 5"),
        ({"classes": ["a", "b", "c"]}, "manifest says 4 and"),
        ({"files": {"../model.skops": "0"}}, "no model.skops checksum"),
        ({"files": {"model.skops": "0", "../etc": "0"}}, "invalid file name"),
        ({"files": {"model.skops": "0"}}, "no tree.npz checksum"),
        ({"algorithm": "xgboost"}, "'xgboost' is not one this container serves"),
    ],
)
def test_manifest_mismatches_are_refused(saved: Path, tmp_path: Path, edit: dict[str, object], message: str) -> None:
    for name in (artifact.MODEL_FILE, TREE_FILE):
        (tmp_path / name).write_bytes((saved / name).read_bytes())
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
    assert {"numpy", "scipy", "scikit-learn", "skops", "granian", "click"} <= set(pinned)
    assert "gunicorn" not in pinned  # the benchmark's comparison builds its own environment
    assert {name: lock[name]["version"] for name in pinned} == pinned


def test_container_code_imports_only_its_own_package_and_pinned_libraries() -> None:
    allowed = {"byoc", "numpy", "sklearn", "skops", "__future__"}
    stdlib = {"argparse", "collections", "contextlib", "csv", "dataclasses", "hashlib", "importlib", "json", "logging", "math"}
    stdlib |= {"os", "pathlib", "platform", "pwd", "sys", "threading", "time", "typing", "warnings"}
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
