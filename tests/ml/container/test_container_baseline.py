"""The baseline `train` writes next to the model, in Model Monitor's statistics/constraints format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from container_helpers import make_tree, run_train

# Known statistics: feature 0 is 1..10 (mean 5.5, sum 55, population std sqrt(8.25)); feature 1
# has a negative value; labels are 6 "a" and 4 "b".
ROWS = [f"{'a' if i <= 6 else 'b'},{i}.0,{(-1.0 if i == 3 else i * 0.5)}" for i in range(1, 11)]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_tree(tmp_path_factory.mktemp("baseline"), training="\n".join(ROWS) + "\n")
    result = run_train(root)
    assert result.returncode == 0, result.stderr
    return root / "model" / "baseline"


def test_statistics_follow_model_monitor_schema_with_known_values(baseline: Path) -> None:
    stats = json.loads((baseline / "statistics.json").read_text())
    assert stats["version"] == 0.0 and stats["dataset"] == {"item_count": 10}
    first, second = stats["features"]
    assert (first["name"], second["name"], first["inferred_type"]) == ("_c0", "_c1", "Fractional")
    numbers = first["numerical_statistics"]
    assert numbers["common"] == {"num_present": 10, "num_missing": 0}
    assert (numbers["mean"], numbers["sum"], numbers["min"], numbers["max"]) == (5.5, 55.0, 1.0, 10.0)
    assert numbers["std_dev"] == pytest.approx(np.sqrt(8.25))
    kll = numbers["distribution"]["kll"]
    assert len(kll["buckets"]) == 10 and sum(b["count"] for b in kll["buckets"]) == 10
    assert kll["buckets"][0] == {"lower_bound": 1.0, "upper_bound": pytest.approx(1.9), "count": 1.0}
    assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048.0}
    assert kll["sketch"]["data"] == [[float(i) for i in range(1, 11)]]


def test_constraints_and_labels(baseline: Path) -> None:
    constraints = json.loads((baseline / "constraints.json").read_text())
    first, second = constraints["features"]
    assert first == {"name": "_c0", "inferred_type": "Fractional", "completeness": 1.0, "num_constraints": {"is_non_negative": True}}
    assert second["num_constraints"] == {"is_non_negative": False}
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_method"] == "Robust"
    labels = json.loads((baseline / "labels.json").read_text())
    assert labels == {"item_count": 10, "classes": {"a": 6, "b": 4}}
