"""Configuration: one source (cdktf.json's context), validated once, errors name the key."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ml.config import CONFIG_KEYS, CONTEXT_ENV, ProjectConfig, config_from_mapping, load_config
from ml.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def context() -> dict[str, Any]:
    return dict(json.loads((ROOT / "cdktf.json").read_text())["context"])


def test_shipped_cdktf_json_is_valid_and_complete(context: dict[str, Any]) -> None:
    config = load_config(ROOT / "cdktf.json")
    assert isinstance(config, ProjectConfig)
    assert set(context) == set(CONFIG_KEYS)
    assert config.endpoint_name == f"{config.project_name}-endpoint"


def test_config_is_frozen(context: dict[str, Any]) -> None:
    config = config_from_mapping(context)
    with pytest.raises(AttributeError):
        config.region = "eu-west-1"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("deploy_approval_email", "not-an-email", "email address"),
        ("region", "us-east", "AWS region"),
        ("region", "US-EAST-1", "AWS region"),
        ("ecr_repo", "Upper_Case", "ECR repository"),
        ("project_name", "x", "3-32 lowercase"),
        ("training_use_spot", "yes", "true or false"),
        ("hosting_instance_count", 0, "whole number from 1"),
        ("hosting_instance_count", True, "whole number"),
        ("training_instance_type", "c5.xlarge", "ml.m5.large"),
        ("bluegreen_traffic", "SOMETIMES", "ALL_AT_ONCE, CANARY, LINEAR"),
        ("log_retention_days", 10, "retention period"),
        ("state_bucket", "Bad_Bucket", "S3 bucket name"),
        ("state_bucket", "192.168.0.1", "S3 bucket name"),
        ("hyperparameters", {"max_depth": 3}, "must map a name to a string"),
        ("tags", {"team": "ml, data"}, "value 'ml, data' may hold only"),
        ("transform_input_filter", "[1:]", "JSONPath"),
        ("model_approval_status", "Rejected", "PendingManualApproval, Approved"),
        ("local_state_dir", "/abs/path", "relative"),
        ("local_state_dir", "../outside", "relative"),
        ("capture_enabled", "on", "true or false"),
        ("capture_sampling_percent", 0, "whole number from 1 to 100"),
        ("capture_sampling_percent", 101, "whole number from 1 to 100"),
        ("capture_prefix", "/datacapture", "S3 key prefix"),
        ("capture_prefix", "data//capture", "S3 key prefix"),
        ("capture_prefix", "datacapture/", "S3 key prefix"),
        ("monitor_window_hours", 0, "whole number from 1 to 720"),
        ("monitor_schedule", "every day", "EventBridge schedule such as rate(1 day)"),
        ("monitor_schedule", "rate(1 days)", "EventBridge schedule"),
        ("monitor_schedule", "cron(0 6 * * *)", "EventBridge schedule"),
        ("monitor_drift_psi", 0, "number from 0.01 to 10"),
        ("monitor_missing_percent", 101, "number from 0 to 100"),
        ("monitor_range_percent", "5", "number from 0 to 100"),
        ("monitor_class_psi", -1, "number from 0.01 to 10"),
        ("transform_instance_count", 0, "whole number from 1 to 100"),
        ("transform_instance_count", 101, "whole number from 1 to 100"),
        ("training_volume_size_gb", 0, "whole number from 1 to 16384"),
        ("training_volume_size_gb", 16385, "whole number from 1 to 16384"),
        ("training_volume_size_gb", 10.5, "whole number"),
        ("transform_split_objects", -1, "whole number from 0 to 10000, got -1, or null for 4 × transform_instance_count"),
        ("transform_split_objects", "4", "or null for 4"),
        ("transform_split_objects", 10001, "from 0 to 10000"),
    ],
)
def test_malformed_value_names_key_and_form(context: dict[str, Any], key: str, value: Any, expected: str) -> None:
    context[key] = value
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(context)
    assert caught.value.key == key
    assert key in str(caught.value)
    assert expected in str(caught.value)


def test_approval_email_required_when_approval_is_on(context: dict[str, Any]) -> None:
    context["deploy_approval_email"] = ""
    loaded = config_from_mapping(context)  # local mode needs no approver
    with pytest.raises(ConfigError, match="deploy_approval_email.*required") as caught:
        loaded.require_deployable()
    assert caught.value.key == "deploy_approval_email"
    context["deploy_approval_required"] = False
    config_from_mapping(context).require_deployable()


def test_the_shipped_configuration_names_no_example_approver() -> None:
    # An example.com default subscribed nobody: approvals would wait for an email never sent.
    shipped = json.loads((ROOT / "cdktf.json").read_text(encoding="utf-8"))["context"]
    assert shipped["deploy_approval_email"] == ""
    assert shipped["deploy_approval_required"] is True


def test_spot_wait_must_cover_runtime(context: dict[str, Any]) -> None:
    context.update(training_max_runtime_seconds=7200, training_max_wait_seconds=3600)
    with pytest.raises(ConfigError, match="training_max_wait_seconds"):
        config_from_mapping(context)
    context["training_use_spot"] = False
    assert config_from_mapping(context).training_max_wait_seconds == 3600


def test_s3_state_backend_needs_a_bucket(context: dict[str, Any]) -> None:
    context["state_backend"] = "s3"
    with pytest.raises(ConfigError, match="state_bucket"):
        config_from_mapping(context)
    context["state_bucket"] = "team-terraform-state"
    assert config_from_mapping(context).remote_state_key("TrainPipelineStack") == "sagemaker-byoc/TrainPipelineStack.tfstate"


def test_codeconnections_needs_connection_and_owner(context: dict[str, Any]) -> None:
    context["source_provider"] = "codeconnections"
    with pytest.raises(ConfigError, match="codeconnections_arn"):
        config_from_mapping(context)


def test_unknown_key_suggests_the_close_one(context: dict[str, Any]) -> None:
    context["deploy_aproval_email"] = "a@example.com"
    with pytest.raises(ConfigError, match="did you mean 'deploy_approval_email'"):
        config_from_mapping(context)


def test_missing_key_is_named(context: dict[str, Any]) -> None:
    del context["region"]
    with pytest.raises(ConfigError, match="'region'.*missing"):
        config_from_mapping(context)


def test_cli_context_env_overrides_file(tmp_path: Path, context: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cdktf.json").write_text(json.dumps({"context": context}))
    monkeypatch.setenv(CONTEXT_ENV, json.dumps({"region": "eu-west-1", "cdktfRelativeModules": []}))
    assert load_config(tmp_path / "cdktf.json").region == "eu-west-1"
    monkeypatch.setenv(CONTEXT_ENV, "{not json")
    with pytest.raises(ConfigError, match=CONTEXT_ENV):
        load_config(tmp_path / "cdktf.json")


def test_missing_or_broken_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "cdktf.json")
    (tmp_path / "cdktf.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(tmp_path / "cdktf.json")
    (tmp_path / "cdktf.json").write_text("{}")
    with pytest.raises(ConfigError, match="no context"):
        load_config(tmp_path / "cdktf.json")


@pytest.mark.parametrize(
    ("traffic", "step", "count", "key", "expected"),
    [
        # One instance cannot be split: CANARY and LINEAR need two.
        ("CANARY", 25, 1, "bluegreen_traffic", "CANARY needs at least 2 instances"),
        ("LINEAR", 50, 1, "bluegreen_traffic", "use ALL_AT_ONCE or raise hosting_instance_count"),
        # A canary is at most half the fleet and at least one instance.
        ("CANARY", 60, 4, "bluegreen_step_percent", "must be 25-50"),
        ("CANARY", 20, 4, "bluegreen_step_percent", "must be 25-50"),
        ("CANARY", 25, 2, "bluegreen_step_percent", "hosting_instance_count=2 it must be 50-50"),
        # A linear step is 10-50%.
        ("LINEAR", 5, 20, "bluegreen_step_percent", "must be 10-50"),
        ("LINEAR", 51, 20, "bluegreen_step_percent", "linear step is 10-50%"),
    ],
)
def test_traffic_sizes_sagemaker_refuses_name_key_and_range(  # noqa: PLR0917 - parametrized
    context: dict[str, Any], traffic: str, step: int, count: int, key: str, expected: str
) -> None:
    context.update(bluegreen_traffic=traffic, bluegreen_step_percent=step, hosting_instance_count=count, autoscaling_enabled=False)
    with pytest.raises(ConfigError, match=expected) as caught:
        config_from_mapping(context)
    assert caught.value.key == key


@pytest.mark.parametrize(
    ("traffic", "step", "count"),
    [("ALL_AT_ONCE", 100, 1), ("ALL_AT_ONCE", 25, 1), ("CANARY", 50, 2), ("CANARY", 34, 3), ("LINEAR", 10, 10), ("LINEAR", 50, 2)],
)
def test_traffic_sizes_sagemaker_accepts(context: dict[str, Any], traffic: str, step: int, count: int) -> None:
    context.update(bluegreen_traffic=traffic, bluegreen_step_percent=step, hosting_instance_count=count, autoscaling_enabled=False)
    assert config_from_mapping(context).bluegreen_step_percent == step


@pytest.mark.parametrize(
    ("changes", "key", "expected"),
    [
        ({"autoscaling_min_instances": 5, "autoscaling_max_instances": 4}, "autoscaling_min_instances", "above autoscaling_max_instances"),
        (
            {"hosting_instance_count": 5},
            "hosting_instance_count",
            "between autoscaling_min_instances (2) and autoscaling_max_instances (4)",
        ),
        ({"autoscaling_min_instances": 3}, "hosting_instance_count", "between autoscaling_min_instances (3)"),
        # Scaled in to one instance, a CANARY update could not split the fleet.
        ({"autoscaling_min_instances": 1}, "bluegreen_traffic", "CANARY needs at least 2 instances"),
        ({"autoscaling_target_invocations": 0}, "autoscaling_target_invocations", "whole number from 1"),
        ({"autoscaling_scale_in_cooldown_seconds": -1}, "autoscaling_scale_in_cooldown_seconds", "whole number from 0"),
    ],
)
def test_autoscaling_sizes_are_consistent(context: dict[str, Any], changes: dict[str, Any], key: str, expected: str) -> None:
    context.update({"bluegreen_traffic": "CANARY", "bluegreen_step_percent": 50, "hosting_instance_count": 2, **changes})
    with pytest.raises(ConfigError, match=re.escape(expected)) as caught:
        config_from_mapping(context)
    assert caught.value.key == key


def test_autoscaling_off_skips_the_size_relations(context: dict[str, Any]) -> None:
    context.update(autoscaling_enabled=False, autoscaling_min_instances=5, autoscaling_max_instances=4)
    assert config_from_mapping(context).autoscaling_enabled is False


def test_transform_concurrency_times_payload_is_at_most_100_mb(context: dict[str, Any]) -> None:
    context.update(transform_max_concurrent=20, transform_max_payload_mb=6)
    with pytest.raises(ConfigError, match=r"transform_max_payload_mb is 20 × 6 = 120 MB.*at most 100") as caught:
        config_from_mapping(context)
    assert caught.value.key == "transform_max_concurrent"
    context.update(transform_max_concurrent=4, transform_max_payload_mb=25)
    assert config_from_mapping(context).transform_max_payload_mb == 25


def test_split_objects_default_to_four_per_instance_and_must_cover_the_instances(context: dict[str, Any]) -> None:
    context.update(transform_instance_count=3, transform_split_objects=None)
    assert config_from_mapping(context).split_objects == 12
    context["transform_split_objects"] = 2
    with pytest.raises(ConfigError, match=r"is 2, fewer than transform_instance_count \(3\).*1 instance\(s\) would get no part") as caught:
        config_from_mapping(context)
    assert caught.value.key == "transform_split_objects"
    for fine in (0, 1, 3, 40):  # 0 and 1: the input as it is; otherwise at least one part per instance
        context["transform_split_objects"] = fine
        assert config_from_mapping(context).split_objects == fine


def test_model_package_group_must_be_lowercase(context: dict[str, Any]) -> None:
    context["model_package_group"] = "Scikit-BYO"
    with pytest.raises(ConfigError, match="lowercase.*model-package ARNs") as caught:
        config_from_mapping(context)
    assert caught.value.key == "model_package_group"
    context["model_package_group"] = "scikit-byo-2"
    assert config_from_mapping(context).model_package_group == "scikit-byo-2"


def test_capture_expiry_is_a_day_count_that_outlives_the_monitor_window(context: dict[str, Any]) -> None:
    for bad in (0, -1, 3651, 1.5, "30"):
        context["capture_expiry_days"] = bad
        with pytest.raises(ConfigError, match="capture_expiry_days"):
            config_from_mapping(context)
    context.update(capture_expiry_days=1, monitor_window_hours=48)
    with pytest.raises(ConfigError, match="monitor_window_hours.*capture_expiry_days") as caught:
        config_from_mapping(context)
    assert caught.value.key == "monitor_window_hours"
    context["monitor_window_hours"] = 24
    assert config_from_mapping(context).capture_expiry_days == 1
