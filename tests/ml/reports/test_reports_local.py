"""A local report holds what it claims: numbers checked against scikit-learn on independent predictions."""

from __future__ import annotations

import dataclasses
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from report_html import parse
from sklearn.metrics import accuracy_score, confusion_matrix, precision_score, recall_score

from byoc import artifact
from ml.backends.local.artifacts import pack_model, unpack_model
from ml.backends.local.backend import LocalBackend
from ml.backends.records import ModelVersion
from ml.errors import UserInputError
from ml.reports.local import report_folder, write_local_report

Trained = tuple[LocalBackend, ModelVersion, ModelVersion]


def _truth_and_predictions(version: ModelVersion, data: Path, tmp_path: Path) -> tuple[list[str], list[str]]:
    """Predictions the test makes itself: the canonical skops estimator, not the serving predictor."""
    model_dir = tmp_path / f"independent-v{version.version}"
    unpack_model(Path(version.artifact_uri), expected_sha256=version.artifact_sha256, into=model_dir)
    rows = np.loadtxt(data, delimiter=",", dtype=str)
    estimator = artifact.load_estimator(model_dir)
    return rows[:, 0].tolist(), [str(p) for p in estimator.predict(rows[:, 1:].astype(float))]


def _data(version: ModelVersion) -> Path:
    return Path(version.lineage.data_uri)


def test_metrics_and_per_class_scores_match_sklearn(trained: Trained, tmp_path: Path) -> None:
    backend, serving, candidate = trained
    files = write_local_report(state=backend.layout.state, candidate=candidate, serving=serving)
    truth, predicted = _truth_and_predictions(candidate, _data(candidate), tmp_path)
    page = parse(files.index.read_text(encoding="utf-8"))

    assert page.rows["metric-report-accuracy"][1] == f"{accuracy_score(truth, predicted):.4f}"
    assert page.rows["metric-train:accuracy"][1] == f"{candidate.metrics['train:accuracy']:.4f}"
    labels = sorted(set(truth))
    precision = precision_score(truth, predicted, labels=labels, average=None, zero_division=0)
    recall = recall_score(truth, predicted, labels=labels, average=None, zero_division=0)
    for label, p, r in zip(labels, precision, recall, strict=True):
        assert page.rows[f"class-{label}"] == [label, f"{p:.4f}", f"{r:.4f}", str(truth.count(label))]
    # A depth-1 tree cannot tell three classes apart: the table must show a class it never predicts.
    assert min(recall) == 0.0
    scores = json.loads(files.scores.read_text(encoding="utf-8"))
    assert scores["confusion"] == confusion_matrix(truth, predicted, labels=labels).tolist()


def test_confusion_image_decodes_and_is_linked(trained: Trained) -> None:
    backend, serving, candidate = trained
    files = write_local_report(state=backend.layout.state, candidate=candidate, serving=serving)
    page = parse(files.index.read_text(encoding="utf-8"))
    assert [files.folder / src for src in page.images] == list(files.images)
    for image in files.images:
        with Image.open(image) as picture:
            picture.load()  # decodes every pixel; a truncated PNG raises here
            assert picture.format == "PNG" and min(picture.size) >= 300


def test_comparison_shows_candidate_and_serving_numbers(trained: Trained, tmp_path: Path) -> None:
    backend, serving, candidate = trained
    page = parse(write_local_report(state=backend.layout.state, candidate=candidate, serving=serving).index.read_text(encoding="utf-8"))
    mine = accuracy_score(*_truth_and_predictions(candidate, _data(candidate), tmp_path))
    theirs = accuracy_score(*_truth_and_predictions(serving, _data(candidate), tmp_path))
    assert mine != theirs
    assert page.rows["compare-accuracy"] == ["accuracy", f"{mine:.4f}", f"{theirs:.4f}"]
    trained_numbers = [f"{v.metrics['train:accuracy']:.4f}" for v in (candidate, serving)]
    assert page.rows["compare-train:accuracy"][1:] == trained_numbers

    alone = parse(write_local_report(state=backend.layout.state, candidate=serving, serving=None).index.read_text(encoding="utf-8"))
    assert "compare-accuracy" not in alone.rows and "No version is serving" in alone.ids["compare-none"]


def test_lineage_and_baseline_summary(trained: Trained, tmp_path: Path) -> None:
    backend, serving, candidate = trained
    text = write_local_report(state=backend.layout.state, candidate=candidate, serving=serving).index.read_text(encoding="utf-8")
    for fact in (candidate.lineage.data_version, candidate.lineage.image, candidate.training_job, candidate.artifact_sha256):
        assert fact and fact in text
    assert "<td>hyperparameter max_depth</td><td>1</td>" in text
    model_dir = tmp_path / "model"
    unpack_model(Path(candidate.artifact_uri), expected_sha256=candidate.artifact_sha256, into=model_dir)
    statistics = json.loads((model_dir / "baseline" / "statistics.json").read_text(encoding="utf-8"))
    for feature in statistics["features"]:
        numbers = feature["numerical_statistics"]
        assert f"<td>{feature['name']}</td><td>150</td><td>0</td><td>{numbers['mean']:.4f}</td>" in text
    assert "<td>setosa</td><td>50</td>" in text


def test_report_folder_is_replaced_whole_and_leaves_no_staging(trained: Trained) -> None:
    backend, serving, candidate = trained
    first = write_local_report(state=backend.layout.state, candidate=candidate, serving=serving)
    (first.folder / "stale.txt").write_text("from an older report\n", encoding="utf-8")
    again = write_local_report(state=backend.layout.state, candidate=candidate, serving=None)
    assert again.folder == first.folder == report_folder(state=backend.layout.state, version=candidate)
    assert sorted(p.name for p in again.folder.iterdir()) == ["confusion.png", "index.html", "scores.json"]
    assert [p.name for p in again.folder.parent.iterdir() if p.name.startswith(".")] == []


def test_a_version_without_baseline_gets_a_report_that_names_the_missing_files(trained: Trained, tmp_path: Path) -> None:
    _backend, _serving, candidate = trained
    model_dir = tmp_path / "model"
    unpack_model(Path(candidate.artifact_uri), expected_sha256=candidate.artifact_sha256, into=model_dir)
    for name in ("statistics.json", "labels.json"):
        (model_dir / "baseline" / name).unlink()
    archive = tmp_path / "model.tar.gz"
    old = dataclasses.replace(candidate, artifact_uri=str(archive), artifact_sha256=pack_model(model_dir, archive))
    with tarfile.open(archive) as tar:
        assert "baseline/constraints.json" in tar.getnames()

    page = parse(write_local_report(state=tmp_path / "state", candidate=old, serving=None).index.read_text(encoding="utf-8"))
    assert "statistics.json, labels.json" in page.ids["baseline-missing"]
    assert "metric-report-accuracy" in page.rows  # the metrics are still there to read


def test_a_version_without_metrics_or_data_is_refused_with_the_fix(trained: Trained, tmp_path: Path) -> None:
    _backend, _serving, candidate = trained
    with pytest.raises(UserInputError, match=r"model version 2 has no metrics; retrain it with `invoke train`"):
        write_local_report(state=tmp_path, candidate=dataclasses.replace(candidate, metrics={}), serving=None)
    with pytest.raises(UserInputError, match=r"evaluation data .*nowhere.csv not found"):
        write_local_report(state=tmp_path, candidate=candidate, serving=None, data=tmp_path / "nowhere.csv")
    assert not (tmp_path / "reports").exists()
