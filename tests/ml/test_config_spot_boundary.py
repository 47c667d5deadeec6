"""Spot training's MaxWaitTimeInSeconds may equal MaxRuntimeInSeconds (AWS allows it), never be less."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.config import load_config
from ml.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_max_wait_equal_to_max_runtime_is_accepted() -> None:
    config = load_config(REPO / "cdktf.json", overrides={"training_max_runtime_seconds": 3600, "training_max_wait_seconds": 3600})
    assert config.training_max_wait_seconds == config.training_max_runtime_seconds == 3600


def test_max_wait_below_max_runtime_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"training_max_wait_seconds.*at least training_max_runtime_seconds \(3600\)"):
        load_config(REPO / "cdktf.json", overrides={"training_max_runtime_seconds": 3600, "training_max_wait_seconds": 3599})
