"""Rendering and the tasks' small parsers."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.backends.records import Lineage, ModelVersion, TrainingJob
from ml.data import write_iris_csv
from ml.errors import UserInputError
from ml.report import parse_pairs, render, render_versions, sample_request


def test_render_lists_every_field() -> None:
    text = render(TrainingJob(name="job-1", status="Completed", metrics={"validation:accuracy": 0.97}))
    assert text.splitlines()[0] == "[TrainingJob]"
    assert "job-1" in text
    assert '{"validation:accuracy": 0.97}' in text


def test_versions_table_is_newest_first() -> None:
    versions = [
        ModelVersion(group="g", version=1, approval_status="Approved", artifact_uri="a", metrics={"acc": 0.9}),
        ModelVersion(group="g", version=2, approval_status="PendingManualApproval", artifact_uri="b"),
    ]
    lines = render_versions(versions).splitlines()
    assert lines[1].startswith("2 ") and lines[2].startswith("1 ")
    assert "acc=0.9000" in lines[2]
    assert "invoke train" in render_versions([])


def test_versions_table_shows_algorithm_data_version_and_which_serves() -> None:
    digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    versions = [
        ModelVersion(
            group="g", version=1, approval_status="Approved", artifact_uri="a",
            lineage=Lineage(data_version=digest, hyperparameters={"max_depth": "3"}),
        ),
        ModelVersion(
            group="g", version=2, approval_status="Approved", artifact_uri="b",
            lineage=Lineage(data_version="training=3HL4kqtJlcpXroDTDmJ.v7 validation=null", hyperparameters={"algorithm": "random-forest"}),
        ),
    ]  # fmt: skip
    header, second, first = render_versions(versions, serving=1).splitlines()
    assert header.split() == ["version", "approval", "algorithm", "data", "version", "metrics", "training", "job", "created"]
    assert first.startswith("1 *serving ") and "decision-tree (default)" in first and " 9f86d081884c " in first
    assert second.startswith("2 ") and "*serving" not in second
    assert "random-forest" in second and "training=3HL4kqtJlcpX validation=null" in second
    assert "*serving" not in render_versions(versions)  # nothing serves: no marker


def test_pairs_parse_and_reject_malformed() -> None:
    assert parse_pairs(["max_depth=4", " a = b "], what="--hyperparameter") == {"max_depth": "4", "a": "b"}
    with pytest.raises(UserInputError, match="--hyperparameter 'max_depth' must look like NAME=VALUE"):
        parse_pairs(["max_depth"], what="--hyperparameter")


def test_sample_request_spans_all_classes(tmp_path: Path) -> None:
    data = tmp_path / "iris.csv"
    assert write_iris_csv(data) == 150
    body, labels = sample_request(data, rows=6)
    assert set(labels) == {"setosa", "versicolor", "virginica"}
    rows = body.decode().splitlines()
    assert len(rows) == 6 and all(len(row.split(",")) == 4 for row in rows)
    with pytest.raises(UserInputError, match="invoke data"):
        sample_request(tmp_path / "missing.csv", rows=1)
    with pytest.raises(UserInputError, match="at least 1"):
        sample_request(data, rows=0)


def test_iris_csv_has_label_first_and_no_header(tmp_path: Path) -> None:
    data = tmp_path / "d" / "iris.csv"
    write_iris_csv(data)
    first = data.read_text().splitlines()[0].split(",")
    assert first[0] == "setosa" and [float(x) for x in first[1:]] == [5.1, 3.5, 1.4, 0.2]
    assert not list(data.parent.glob(".iris.csv.*")), "the temporary file must be renamed away"
