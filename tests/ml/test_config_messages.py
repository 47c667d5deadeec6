"""Every configuration error word for word, every boundary both ways, every derived value exactly.

A user reads these messages to fix cdktf.json, so each one is pinned whole (test_config.py checks
that they name the key; here, that they say the right thing).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ml.config import CONFIG_KEYS, LOG_RETENTION_DAYS, ProjectConfig, config_from_mapping, load_config
from ml.errors import ConfigError
from ml.names import VARIANT_NAME, local_state_path, outputs_variable

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def context() -> dict[str, Any]:
    return dict(json.loads((ROOT / "cdktf.json").read_text())["context"])


def _problem(context: dict[str, Any], **changes: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping({**context, **changes})
    return f"{caught.value.key}: {caught.value.problem}"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"region": 1}, "region: expected a string (an AWS region such as us-east-1), got int 1"),
        ({"region": "mars"}, "region: 'mars' is not valid; expected an AWS region such as us-east-1"),
        ({"source_provider": "git"}, "source_provider: 'git' is not one of codecommit, codeconnections"),
        ({"training_use_spot": 1}, "training_use_spot: expected true or false, got 1"),
        ({"hosting_instance_count": 1.5}, "hosting_instance_count: expected a whole number from 1 to 100, got 1.5"),
        ({"hosting_instance_count": 101}, "hosting_instance_count: expected a whole number from 1 to 100, got 101"),
        ({"monitor_drift_psi": True}, "monitor_drift_psi: expected a number from 0.01 to 10, got True"),
        ({"monitor_drift_psi": "0.2"}, "monitor_drift_psi: expected a number from 0.01 to 10, got '0.2'"),
        ({"monitor_min_rows": 0}, "monitor_min_rows: expected a whole number from 1 to 1e+07, got 0"),
        ({"tags": ["a"]}, "tags: expected an object of string keys to string values, got ['a']"),
        ({"tags": {"bad key!": "v"}}, "tags: entry 'bad key!': 'v' must map a name to a string (SageMaker passes strings)"),
        ({"tags": {"k": 1}}, "tags: entry 'k': 1 must map a name to a string (SageMaker passes strings)"),
        ({"tags": {"k": "a,b"}}, "tags: entry 'k': value 'a,b' may hold only up to 256 letters, digits, spaces and _ . : / = + - @"),
        ({"hyperparameters": {"Max": "1"}}, "hyperparameters: entry 'Max': '1' must map a name to a string (SageMaker passes strings)"),
        ({"log_retention_days": 2}, f"log_retention_days: 2 is not a CloudWatch retention period; use one of {LOG_RETENTION_DAYS}"),
        ({"local_state_dir": ""}, "local_state_dir: expected a directory path relative to the project, got ''"),
        ({"local_state_dir": 3}, "local_state_dir: expected a directory path relative to the project, got 3"),
        ({"local_state_dir": "a/../b"}, "local_state_dir: expected a directory path relative to the project, got 'a/../b'"),
        (
            {"training_use_spot": True, "training_max_runtime_seconds": 3601, "training_max_wait_seconds": 3600},
            "training_max_wait_seconds: must be at least training_max_runtime_seconds (3601) when spot training is on",
        ),
        (
            {"source_provider": "codeconnections", "github_owner": "org"},
            "codeconnections_arn: source_provider 'codeconnections' needs codeconnections_arn and github_owner",
        ),
        (
            {"source_provider": "codeconnections", "codeconnections_arn": "arn:aws:codeconnections:us-east-1:123456789012:connection/a"},
            "codeconnections_arn: source_provider 'codeconnections' needs codeconnections_arn and github_owner",
        ),
        (
            {"state_backend": "s3", "state_bucket": ""},
            "state_bucket: is required when state_backend is 's3'; name the bucket that holds Terraform state",
        ),
        (
            {"transform_max_concurrent": 64, "transform_max_payload_mb": 2},
            "transform_max_concurrent: transform_max_concurrent × transform_max_payload_mb is 64 × 2 = 128 MB; "
            "SageMaker allows at most 100 MB in flight; lower one of them",
        ),
        (
            {"training_use_spot": False, "training_max_runtime_seconds": 432000},
            "training_max_runtime_seconds: makes the train CodeBuild project wait 7250 minutes, over CodeBuild's limit of 2160 (36 h); "
            "lower it (with bluegreen_baking_seconds and the step count for deploy)",
        ),
    ],
)
def test_each_problem_in_full(context: dict[str, Any], changes: dict[str, Any], expected: str) -> None:
    assert _problem(context, **changes) == expected


def test_a_deployable_config_needs_its_approver_in_full(context: dict[str, Any]) -> None:
    """Checked before synthesis and by preflight, not at load: local mode needs no approver (issue 19)."""
    loaded = config_from_mapping({**context, "deploy_approval_email": "", "deploy_approval_required": True})
    with pytest.raises(ConfigError) as caught:
        loaded.require_deployable()
    assert f"{caught.value.key}: {caught.value.problem}" == (
        "deploy_approval_email: is required while deploy_approval_required is true: set the approver's address in "
        "cdktf.json (they confirm the SNS subscription by email), or set deploy_approval_required to false"
    )


def test_the_error_text_names_the_file_key(context: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"^cdktf.json context key 'region': 'mars' is not valid"):
        config_from_mapping({**context, "region": "mars"})


def test_boundaries_are_inclusive(context: dict[str, Any]) -> None:
    for value in (1, 100):
        assert config_from_mapping({**context, "capture_sampling_percent": value}).capture_sampling_percent == value
    assert config_from_mapping({**context, "monitor_drift_psi": 10}).monitor_drift_psi == 10  # an int is a number
    assert config_from_mapping({**context, "monitor_drift_psi": 0.01}).monitor_drift_psi == 0.01
    assert config_from_mapping({**context, "codeconnections_arn": ""}).codeconnections_arn == ""  # empty is allowed where said
    spot = {"training_use_spot": True, "training_max_runtime_seconds": 3600, "training_max_wait_seconds": 3600}
    assert config_from_mapping({**context, **spot}).training_max_wait_seconds == 3600  # equal waits are enough
    for days in (LOG_RETENTION_DAYS[0], LOG_RETENTION_DAYS[-1]):
        assert config_from_mapping({**context, "log_retention_days": days}).log_retention_days == days


def test_unknown_and_missing_keys(context: dict[str, Any]) -> None:
    assert _problem(context, zzz_not_a_key=1) == f"zzz_not_a_key: unknown key; known keys are listed in README.md ({len(CONFIG_KEYS)} keys)"
    assert _problem(context, regio="us-east-1", zone="a") == "regio: unknown key; did you mean 'region'?"  # the first, sorted
    del context["capture_prefix"]
    del context["region"]
    assert _problem(context).startswith("region: is missing; add it to the context block of cdktf.json (see README.md for the default)")


def _config(context: dict[str, Any], **changes: Any) -> ProjectConfig:
    return config_from_mapping({**context, **changes})


def test_derived_waits_and_names(context: dict[str, Any]) -> None:
    config = _config(context, training_use_spot=True, training_max_runtime_seconds=3600, training_max_wait_seconds=7200)
    assert config.training_wait_seconds == 7200 + 1800
    assert _config(context, training_use_spot=False, training_max_wait_seconds=7200).training_wait_seconds == 3600 + 1800
    assert (
        _config(context, training_use_spot=True, training_max_runtime_seconds=7200, training_max_wait_seconds=7200).training_wait_seconds
        == 9000
    )
    canary = _config(
        context, bluegreen_traffic="CANARY", bluegreen_step_percent=50, bluegreen_wait_seconds=300, bluegreen_baking_seconds=600
    )
    assert canary.bluegreen_shift_count == 2
    assert canary.bluegreen_execution_seconds == 1200 + 300 * 2 + 600
    assert canary.update_wait_seconds == 2400 + 1200
    assert canary.deploy_wait_seconds == 3600 + 3600  # the settle wait plus the update: over a transform's 7200
    assert canary.project_timeout_minutes("deploy") == 7200 // 60 + 20
    assert canary.project_timeout_minutes("build") == 60
    assert canary.project_timeout_minutes("train") == (7200 + 1800) // 60 + 20
    fast = _config(context, bluegreen_traffic="ALL_AT_ONCE", bluegreen_wait_seconds=0, bluegreen_baking_seconds=0)
    assert (fast.bluegreen_shift_count, fast.bluegreen_execution_seconds) == (1, 1200)
    assert fast.deploy_wait_seconds == max(3600 + 2400, 7200)
    linear = _config(context, bluegreen_traffic="LINEAR", bluegreen_step_percent=50, bluegreen_wait_seconds=0, bluegreen_baking_seconds=0)
    assert linear.bluegreen_shift_count == 2
    odd = _config(context, bluegreen_traffic="LINEAR", bluegreen_step_percent=34, hosting_instance_count=3, autoscaling_enabled=False)
    assert odd.bluegreen_shift_count == 3  # 34%, 68%, then 100%
    long = _config(context, bluegreen_baking_seconds=3600, bluegreen_wait_seconds=3600, bluegreen_traffic="CANARY")
    assert long.bluegreen_execution_seconds == 1200 + 3600 * 2 + 3600
    assert long.update_wait_seconds == long.bluegreen_execution_seconds + 1200
    capped = _config(context, bluegreen_traffic="ALL_AT_ONCE", bluegreen_wait_seconds=0, bluegreen_baking_seconds=0)
    assert capped.bluegreen_execution_seconds >= 600
    assert config.endpoint_name == "scikit-byo-endpoint" and config.monitor_project == "scikit-byo-monitor"
    assert VARIANT_NAME == "AllTraffic"
    assert local_state_path("BuildPipelineStack") == "terraform.BuildPipelineStack.tfstate"
    assert config.remote_state_key("BuildPipelineStack") == "sagemaker-byoc/BuildPipelineStack.tfstate"
    assert outputs_variable("TrainPipelineStack") == "BYOC_OUTPUTS_TRAINPIPELINESTACK"


def test_the_all_at_once_step_and_a_full_step_make_one_shift(context: dict[str, Any]) -> None:
    assert _config(context, bluegreen_traffic="ALL_AT_ONCE", bluegreen_step_percent=50).bluegreen_shift_count == 1
    full = _config(context, bluegreen_traffic="CANARY", bluegreen_step_percent=50, hosting_instance_count=2)
    assert full.bluegreen_shift_count == 2


def test_notification_emails_are_those_set(context: dict[str, Any]) -> None:
    config = _config(context, build_notifications_email="b@example.com", deploy_notifications_email="d@example.com")
    assert config.notification_emails == {"build": "b@example.com", "deploy": "d@example.com"}
    assert _config(context).notification_emails == {}


def test_the_clis_context_adds_only_known_keys(tmp_path: Path, context: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cdktf.json").write_text(json.dumps({"context": context}))
    monkeypatch.setenv("CDKTF_CONTEXT_JSON", "[1, 2]")  # not an object: ignored
    assert load_config(tmp_path / "cdktf.json").region == context["region"]
    monkeypatch.setenv("CDKTF_CONTEXT_JSON", "")
    assert load_config(tmp_path / "cdktf.json", overrides={"region": "eu-west-1"}).region == "eu-west-1"
    monkeypatch.setenv("CDKTF_CONTEXT_JSON", json.dumps({"region": "eu-west-2"}))
    assert load_config(tmp_path / "cdktf.json", overrides={"region": "eu-west-1"}).region == "eu-west-1"  # overrides win
    monkeypatch.setenv("CDKTF_CONTEXT_JSON", "{")
    with pytest.raises(ConfigError, match=r"^cdktf.json context key 'CDKTF_CONTEXT_JSON': is not valid JSON \("):
        load_config(tmp_path / "cdktf.json")


def test_file_problems_in_full(tmp_path: Path) -> None:
    path = tmp_path / "cdktf.json"
    with pytest.raises(
        ConfigError, match=rf"^cdktf.json context key 'context': {path} not found; run from the project root or pass its path$"
    ):
        load_config(path)
    path.write_text("[")
    with pytest.raises(ConfigError, match=rf"^cdktf.json context key 'context': {path} is not valid JSON: "):
        load_config(path)
    path.write_text('{"context": []}')
    with pytest.raises(ConfigError, match=rf"^cdktf.json context key 'context': {path} has no context object$"):
        load_config(path)


def test_a_project_timeout_may_reach_codebuilds_limit_but_not_pass_it(context: dict[str, Any]) -> None:
    # train: ceil((runtime + 1800 s) / 60) + 20 minutes of set-up; CodeBuild allows 2160.
    at_limit = _config(context, training_use_spot=False, training_max_runtime_seconds=126600)
    assert at_limit.project_timeout_minutes("train") == 2160
    assert _problem(context, training_use_spot=False, training_max_runtime_seconds=126601).startswith(
        "training_max_runtime_seconds: makes the train CodeBuild project wait 2161 minutes"
    )
    spot = {"training_use_spot": True, "training_max_runtime_seconds": 3600, "training_max_wait_seconds": 126601}
    assert _problem(context, **spot).startswith("training_max_wait_seconds: makes the train CodeBuild project wait 2161 minutes")
    slow = {"bluegreen_traffic": "CANARY", "bluegreen_wait_seconds": 3600, "bluegreen_baking_seconds": 3600, "bluegreen_step_percent": 50}
    assert config_from_mapping({**context, **slow}).project_timeout_minutes("deploy") < 2160


def test_the_default_file_is_cdktf_json_in_the_working_folder(
    tmp_path: Path, context: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cdktf.json").write_text(json.dumps({"context": {**context, "region": "ap-south-1"}}), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_config().region == "ap-south-1"
