"""CodeBuild project timeouts come from the waits in config, within CodeBuild's limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.config import load_config
from ml.errors import ConfigError
from ml.names import CODEBUILD_TIMEOUT_MINUTES, TRANSFORM_WAIT_SECONDS

ROOT = Path(__file__).resolve().parents[2]


def test_train_timeout_follows_the_spot_wait_only_when_spot_is_on() -> None:
    on = load_config(
        ROOT / "cdktf.json", overrides={"training_use_spot": True, "training_max_runtime_seconds": 3600, "training_max_wait_seconds": 36000}
    )
    off = load_config(
        ROOT / "cdktf.json",
        overrides={"training_use_spot": False, "training_max_runtime_seconds": 3600, "training_max_wait_seconds": 36000},
    )
    assert on.project_timeout_minutes("train") == (36000 + 1800) // 60 + 20
    assert off.project_timeout_minutes("train") == (3600 + 1800) // 60 + 20


def test_deploy_timeout_covers_a_transform_and_a_long_update() -> None:
    short = load_config(
        ROOT / "cdktf.json", overrides={"bluegreen_traffic": "ALL_AT_ONCE", "bluegreen_wait_seconds": 0, "bluegreen_baking_seconds": 0}
    )
    assert short.project_timeout_minutes("deploy") * 60 >= TRANSFORM_WAIT_SECONDS
    slow = load_config(
        ROOT / "cdktf.json",
        overrides={
            "bluegreen_traffic": "LINEAR",
            "hosting_instance_count": 10,  # a 10% step must be a whole instance
            "autoscaling_enabled": False,  # a fixed fleet: these tests size waits, not scaling
            "bluegreen_step_percent": 10,
            "bluegreen_wait_seconds": 1800,
            "bluegreen_baking_seconds": 3600,
        },
    )
    assert slow.bluegreen_shift_count == 10
    assert slow.project_timeout_minutes("deploy") * 60 >= 3600 + slow.bluegreen_execution_seconds + 1200


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"training_use_spot": False, "training_max_runtime_seconds": 432000}, "training_max_runtime_seconds"),
        (
            {"training_use_spot": True, "training_max_runtime_seconds": 3600, "training_max_wait_seconds": 200000},
            "training_max_wait_seconds",
        ),
    ],
)
def test_a_wait_beyond_codebuild_limit_is_refused_naming_the_key(overrides: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(ROOT / "cdktf.json", overrides=overrides)
    assert key in str(caught.value) and str(CODEBUILD_TIMEOUT_MINUTES[1]) in str(caught.value)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"training_use_spot": False},
        {
            "bluegreen_traffic": "LINEAR",
            "hosting_instance_count": 5,
            "autoscaling_enabled": False,
            "bluegreen_step_percent": 20,
            "bluegreen_wait_seconds": 600,
            "bluegreen_baking_seconds": 900,
        },
        {"bluegreen_traffic": "CANARY", "hosting_instance_count": 10, "bluegreen_step_percent": 10, "autoscaling_enabled": False},
    ],
)
def test_the_backend_waits_are_the_ones_the_projects_are_sized_for(overrides: dict[str, object]) -> None:
    # One home for the numbers: CodeBuild timeouts (modules/) and the backend's deadlines agree.
    from ml.backends.base import BlueGreenPolicy
    from ml.backends.sagemaker import bluegreen, hosting, training, transform
    from ml.names import BLUEGREEN_PROVISION_SECONDS, ENDPOINT_SETTLE_SECONDS

    config = load_config(ROOT / "cdktf.json", overrides=overrides)
    assert training.training_deadline(config).seconds == config.training_wait_seconds
    assert transform.TRANSFORM_DEADLINE.seconds == TRANSFORM_WAIT_SECONDS
    assert hosting.CREATE_DEADLINE.seconds == ENDPOINT_SETTLE_SECONDS
    assert bluegreen.execution_timeout(BlueGreenPolicy.for_aws(config)) == config.bluegreen_execution_seconds
    assert bluegreen.PROVISION_SECONDS == BLUEGREEN_PROVISION_SECONDS
