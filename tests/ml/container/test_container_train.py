"""``train`` run for real from the checkout: success, metrics, artifact, and every failure path."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from container_helpers import iris_csv_lines, make_tree, run_train

IRIS = "\n".join(iris_csv_lines()) + "\n"
METRIC_LINE = re.compile(r"^(train|validation):accuracy=([0-9]+\.[0-9]{4})$", re.MULTILINE)


def test_training_writes_artifact_metrics_and_metric_lines(tmp_path: Path) -> None:
    lines = iris_csv_lines()
    root = make_tree(
        tmp_path,
        training="\n".join(lines[::2]) + "\n",
        validation="\n".join(lines[1::2]) + "\n",
        hyperparameters={"max_leaf_nodes": "5", "max_depth": "4", "random_state": "7"},
    )
    result = run_train(root)
    assert result.returncode == 0, result.stderr
    printed = dict(METRIC_LINE.findall(result.stdout))
    assert set(printed) == {"train", "validation"}
    metrics = json.loads((root / "output" / "data" / "metrics.json").read_text())
    assert metrics["train:accuracy"] == pytest.approx(float(printed["train"]), abs=1e-4)
    assert 0.9 <= metrics["validation:accuracy"] <= 1.0
    manifest = json.loads((root / "model" / "manifest.json").read_text())
    assert manifest["n_features"] == 4
    assert manifest["classes"] == ["setosa", "versicolor", "virginica"]
    assert set(manifest["files"]) == {"model.skops", "tree.npz"}
    assert not (root / "output" / "failure").exists()


def test_hyperparameters_change_the_model(tmp_path: Path) -> None:
    small = run_train(make_tree(tmp_path / "a", training=IRIS, hyperparameters={"max_leaf_nodes": "2"}))
    large = run_train(make_tree(tmp_path / "b", training=IRIS, hyperparameters={"max_leaf_nodes": "10"}))
    assert small.returncode == large.returncode == 0
    # Two leaves can separate only two of the three classes.
    assert float(dict(METRIC_LINE.findall(small.stdout))["train"]) < 0.7 < float(dict(METRIC_LINE.findall(large.stdout))["train"])


def test_platform_hyperparameters_are_ignored(tmp_path: Path) -> None:
    root = make_tree(tmp_path, training=IRIS, hyperparameters={"_tuning_objective_metric": "validation:accuracy", "max_depth": "3"})
    assert run_train(root).returncode == 0


def test_numeric_labels_are_kept_as_numbers(tmp_path: Path) -> None:
    numeric = "\n".join(f"{i % 2},{i}.0,{i % 7}.5" for i in range(40)) + "\n"
    root = make_tree(tmp_path, training=numeric)
    assert run_train(root).returncode == 0
    assert json.loads((root / "model" / "manifest.json").read_text())["classes"] == [0, 1]


FAILURES = {
    "missing training channel": ({"training": None}, "training"),
    "empty training file": ({"training": ""}, "only empty files"),
    "unknown hyperparameter": ({"hyperparameters": {"max_leafs": "3"}}, "unknown hyperparameter 'max_leafs'"),
    "non-numeric hyperparameter": ({"hyperparameters": {"max_depth": "deep"}}, "max_depth='deep'"),
    "out-of-range hyperparameter": ({"hyperparameters": {"max_leaf_nodes": "1"}}, "max_leaf_nodes='1'"),
    "non-numeric feature": ({"training": "setosa,5.1,abc,1.4,0.2\nvirginica,6.7,3.0,5.2,2.3\n"}, "column 3 is 'abc'"),
    "non-numeric label among numeric labels": ({"training": "0,5.1,3.5\n1,6.7,3.0\nthree,1.0,2.0\n"}, "label 'three' is not numeric"),
    "empty label": ({"training": ",5.1,3.5\n1,6.7,3.0\n"}, "label (column 1) is empty"),
    "ragged rows": ({"training": "a,1,2,3\nb,1,2\n"}, "2 features, but earlier rows have 3"),
    "NaN feature": ({"training": "a,1,nan\nb,1,2\n"}, "not a finite number"),
    "single class": ({"training": "a,1,2\na,3,4\n"}, "single class"),
}


@pytest.mark.parametrize(("layout", "reason"), FAILURES.values(), ids=FAILURES.keys())
def test_failures_write_output_failure_and_exit_non_zero(tmp_path: Path, layout: dict[str, object], reason: str) -> None:
    tree: dict[str, object] = {"training": IRIS, "hyperparameters": {}} | layout
    root = make_tree(tmp_path, **tree)  # type: ignore[arg-type]
    result = run_train(root)
    assert result.returncode != 0
    failure = (root / "output" / "failure").read_text(encoding="utf-8")
    assert reason in failure
    assert failure.startswith("UserError: ")
    assert not (root / "model" / "manifest.json").exists()
    assert METRIC_LINE.search(result.stdout) is None


def test_empty_channel_directory_fails(tmp_path: Path) -> None:
    root = make_tree(tmp_path, training=IRIS)
    (root / "input" / "data" / "training" / "data.csv").unlink()
    result = run_train(root)
    assert result.returncode != 0
    assert "has no files" in (root / "output" / "failure").read_text()


def test_pipe_mode_in_input_data_config_fails(tmp_path: Path) -> None:
    root = make_tree(tmp_path, training=IRIS)
    config = {"training": {"ContentType": "text/csv", "TrainingInputMode": "Pipe"}}
    (root / "input" / "config" / "inputdataconfig.json").write_text(json.dumps(config))
    assert run_train(root).returncode != 0
    assert "Pipe mode" in (root / "output" / "failure").read_text()


def test_malformed_hyperparameters_json_fails(tmp_path: Path) -> None:
    root = make_tree(tmp_path, training=IRIS)
    (root / "input" / "config" / "hyperparameters.json").write_text("{not json")
    assert run_train(root).returncode != 0
    assert "hyperparameters.json is not valid JSON" in (root / "output" / "failure").read_text()
