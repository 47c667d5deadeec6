"""A blue/green step moves whole instances, as on SageMaker: a smaller one is refused before anything starts."""

from __future__ import annotations

import pytest
from local_helpers import make_config

from ml.backends.base import BlueGreenPolicy
from ml.backends.local.bluegreen import step_problem
from ml.config import ConfigError


def _canary(step: int) -> BlueGreenPolicy:
    return BlueGreenPolicy(traffic="CANARY", step_percent=step, wait_seconds=1, baking_seconds=1, error_rate_percent=1, p99_latency_ms=100)


def test_a_canary_of_a_third_of_three_instances_is_less_than_one_and_refused() -> None:
    problem = step_problem(_canary(33), 3)
    assert problem is not None
    assert "bluegreen_step_percent is 33" in problem and "must be 34-50" in problem and "at least one whole instance" in problem
    assert step_problem(_canary(34), 3) is None
    assert step_problem(_canary(25), 4) is None and step_problem(_canary(24), 4) is not None


def test_the_configured_step_is_checked_when_the_configuration_loads() -> None:
    with pytest.raises(ConfigError, match=r"bluegreen_step_percent.*is 33.*34-50.*whole instance"):
        make_config(hosting_instance_count=3, bluegreen_traffic="CANARY", bluegreen_step_percent=33, autoscaling_enabled=False)
    assert make_config(hosting_instance_count=3, bluegreen_traffic="CANARY", bluegreen_step_percent=34, autoscaling_enabled=False)
