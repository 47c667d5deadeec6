"""Registry and endpoints: newest approved version, digest-pinned models, blue/green guardrails."""

from __future__ import annotations

from typing import Any

import pytest
from sagemaker_fakes import record_calls
from sagemaker_setup import TEST_ALARMS, TEST_DATALAKE, TEST_GROUP, TEST_SCHEDULE

from ml.backends.sagemaker.backend import SageMakerBackend
from ml.backends.sagemaker.hosting import CONFIG_VISIBLE_SECONDS
from ml.errors import DeployRolledBackError, JobFailedError, NotFoundError, TimeoutExpiredError
from ml.names import new_fleet_alarm_names


def _versions(backend: SageMakerBackend, count: int) -> list[int]:
    made = []
    for depth in range(count):
        job = backend.train(hyperparameters={"max_depth": str(depth + 2)})
        made.append(backend.register(job_name=job.name).version)
    return made


def test_register_records_lineage_and_configured_status_once(backend: SageMakerBackend, clients: Any) -> None:
    calls = record_calls(clients.sagemaker, "CreateModelPackage")
    job = backend.train()
    version = backend.register(job_name=job.name)
    again = backend.register(job_name=job.name)
    assert again.version == version.version == 1
    [request] = calls
    assert request["ModelPackageGroupName"] == TEST_GROUP
    assert request["ModelApprovalStatus"] == "PendingManualApproval"
    props = request["CustomerMetadataProperties"]
    assert props["training_job"] == job.name
    assert props["git_commit"] == "abc1234def56"
    assert "@sha256:" in props["image"]
    assert props["data_version"].startswith("training=")
    assert request["InferenceSpecification"]["Containers"][0]["Image"] == job.lineage.image


def test_deploy_picks_the_newest_approved_version(backend: SageMakerBackend, clients: Any) -> None:
    listed = record_calls(clients.sagemaker, "ListModelPackages")
    v1, v2, v3 = _versions(backend, 3)
    backend.approve(version=v1, note="first")
    backend.approve(version=v2, note="better")
    assert [v.version for v in backend.list_versions()] == [v3, v2, v1]
    assert listed[-1]["SortOrder"] == "Descending"
    assert listed[-1]["SortBy"] == "CreationTime"
    endpoint = backend.deploy_endpoint(endpoint_name="scikit-byo-endpoint")
    assert endpoint.status == "InService"
    assert endpoint.version == v2  # v3 is still pending; v1 is older


def test_deploy_with_nothing_approved_says_how_to_approve(backend: SageMakerBackend) -> None:
    _versions(backend, 1)
    with pytest.raises(NotFoundError, match="invoke approve 1"):
        backend.deploy_endpoint(endpoint_name="scikit-byo-endpoint")


def test_endpoint_uses_digest_image_one_variant_and_is_idempotent(backend: SageMakerBackend, clients: Any, sm: Any) -> None:
    models = record_calls(clients.sagemaker, "CreateModel")
    configs = record_calls(clients.sagemaker, "CreateEndpointConfig")
    [v1] = _versions(backend, 1)
    backend.approve(version=v1)
    first = backend.deploy_endpoint(endpoint_name="scikit-byo-endpoint")
    second = backend.deploy_endpoint(endpoint_name="scikit-byo-endpoint")
    assert first.config_name == second.config_name
    assert len(models) == 1 and len(configs) == 1 and sm.updates == []
    assert "@sha256:" in models[0]["PrimaryContainer"]["Image"]
    assert models[0]["ExecutionRoleArn"].endswith(":role/byoc-sagemaker")
    [variant] = configs[0]["ProductionVariants"]
    assert variant["VariantName"] == "AllTraffic"
    assert variant["InstanceType"] == "ml.t2.medium"
    # describe reports SageMaker's instance counts, as the local backend reports its own.
    [shown] = backend.describe_endpoint(endpoint_name="scikit-byo-endpoint").variants
    assert (shown.current_instance_count, shown.desired_instance_count) == (variant["InitialInstanceCount"],) * 2


def _two_deployed(backend: SageMakerBackend) -> tuple[int, int, str]:
    v1, v2 = _versions(backend, 2)
    backend.approve(version=v1)
    first = backend.deploy_endpoint(endpoint_name="scikit-byo-endpoint")
    backend.approve(version=v2)
    return v1, v2, first.config_name


def test_update_is_blue_green_with_same_variant_and_alarm_rollback(backend: SageMakerBackend, clients: Any, sm: Any) -> None:
    configs = record_calls(clients.sagemaker, "CreateEndpointConfig")
    _v1, v2, old_config = _two_deployed(backend)
    endpoint = backend.update_endpoint(endpoint_name="scikit-byo-endpoint")
    [update] = sm.updates
    assert update["EndpointConfigName"] == endpoint.config_name != old_config
    assert [c["ProductionVariants"][0]["VariantName"] for c in configs] == ["AllTraffic", "AllTraffic"]
    policy = update["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 300,
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50},
    }
    assert policy["TerminationWaitInSeconds"] == 600
    assert 600 <= policy["MaximumExecutionTimeoutInSeconds"] <= 28800
    new_fleet = new_fleet_alarm_names("scikit-byo-endpoint")
    assert update["DeploymentConfig"]["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": n} for n in new_fleet]}
    assert endpoint.status == "InService" and endpoint.version == v2


def test_the_rollback_alarms_watch_only_the_new_fleet(backend: SageMakerBackend, clients: Any, sm: Any) -> None:
    # "Auto-Rollback Configuration and Monitoring": an alarm the old fleet can trip stops the
    # deployment; an alarm with the EndpointConfigName of the new config watches the new fleet only.
    _two_deployed(backend)
    endpoint = backend.update_endpoint(endpoint_name="scikit-byo-endpoint")
    [update] = sm.updates
    named = [a["AlarmName"] for a in update["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]]
    assert not set(named) & set(TEST_ALARMS)  # the stack's whole-endpoint alarms watch both fleets
    alarms = clients.cloudwatch.describe_alarms(AlarmNames=named)["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in alarms) == sorted(named)
    for alarm in alarms:
        stats = [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m] or [alarm]
        for metric in stats:
            assert {d["Name"]: d["Value"] for d in metric["Dimensions"]} == {
                "EndpointName": "scikit-byo-endpoint",
                "VariantName": "AllTraffic",
                "EndpointConfigName": endpoint.config_name,
            }
    assert backend.teardown(endpoint_name="scikit-byo-endpoint")
    assert clients.cloudwatch.describe_alarms(AlarmNames=named)["MetricAlarms"] == []  # teardown removes them


def test_an_update_says_what_sagemaker_does_as_it_polls(backend: SageMakerBackend) -> None:
    v1, v2, _old = _two_deployed(backend)
    lines: list[str] = []
    backend.on_log = lines.append
    backend.update_endpoint(endpoint_name="scikit-byo-endpoint")
    said = [line for line in lines if not line.startswith(("created ", "autoscaling "))]
    assert said[0].startswith(f"blue/green update of scikit-byo-endpoint from version {v1} to {v2}: CANARY (50%, 100%)")
    assert said[1:] == [
        "endpoint scikit-byo-endpoint: Updating",
        f"blue fleet (version {v1}): serving; weight 1 -> 1, instances 2 -> 2",
        f"green fleet (version {v2}): Creating (Creating the new fleet); weight 0 -> 1, instances 0 -> 2",
        f"green fleet (version {v2}): ActivatingTraffic (ActivatingTraffic the new fleet); weight 0.5 -> 1, instances 2 -> 2",
        f"green fleet (version {v2}): Baking (Baking the new fleet); weight 1 -> 1, instances 2 -> 2",
        "endpoint scikit-byo-endpoint: InService",
        f"retired blue (version {v1}); version {v2} serves all traffic",
    ], lines


def test_rolled_back_update_fails_loudly(backend: SageMakerBackend, sm: Any) -> None:
    v1, _v2, old_config = _two_deployed(backend)
    sm.outcome = "rollback"
    lines: list[str] = []
    backend.on_log = lines.append
    with pytest.raises(DeployRolledBackError, match="rolled back") as rolled:
        backend.update_endpoint(endpoint_name="scikit-byo-endpoint")
    assert "endpoint scikit-byo-endpoint: RollingBack" in lines
    assert lines[-2:] == [
        f"rolling back to version {v1}: Alarm scikit-byo-endpoint-5xx in ALARM during baking; rolled back",
        f"rolled back: version {v1} serves all traffic; green (version {_v2}) stopped",
    ]
    assert old_config in str(rolled.value)
    assert f"model version {v1}" in str(rolled.value)
    assert backend.describe_endpoint(endpoint_name="scikit-byo-endpoint").version == v1


def test_failed_update_is_a_job_failure(backend: SageMakerBackend, sm: Any) -> None:
    _two_deployed(backend)
    sm.outcome = "failed"
    with pytest.raises(JobFailedError, match="ended Failed.*Image could not be pulled"):
        backend.update_endpoint(endpoint_name="scikit-byo-endpoint")


def test_update_that_never_settles_times_out(backend: SageMakerBackend, sm: Any, clock: Any) -> None:
    _two_deployed(backend)
    sm.outcome = "stuck"
    with pytest.raises(TimeoutExpiredError, match="blue/green update of endpoint scikit-byo-endpoint.*'Updating'"):
        backend.update_endpoint(endpoint_name="scikit-byo-endpoint")
    assert clock.now > 600


def test_rollback_returns_to_the_previous_version_without_alarm_rollback(backend: SageMakerBackend, sm: Any) -> None:
    v1, v2, old_config = _two_deployed(backend)
    backend.update_endpoint(endpoint_name="scikit-byo-endpoint")
    back = backend.rollback(endpoint_name="scikit-byo-endpoint")
    assert back.version == v1 and back.config_name == old_config  # the same config is reused
    last = sm.updates[-1]
    assert last["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    assert "AutoRollbackConfiguration" not in last["DeploymentConfig"]
    forward = backend.rollback(endpoint_name="scikit-byo-endpoint", to_version=v2)
    assert forward.version == v2


def _describes_before_update(sm: Any, clients: Any) -> list[int]:
    """How many DescribeEndpoint calls preceded each UpdateEndpoint, counted from now."""
    describes = record_calls(clients.sagemaker, "DescribeEndpoint")
    # New configs visible at once: a retried UpdateEndpoint (the config lag, pinned by
    # test_create_and_update_wait_for_the_new_config_to_be_visible) would count twice.
    sm.config_lag = 0
    seen: list[int] = []
    update = sm.update_endpoint

    def counting(**request: Any) -> Any:
        seen.append(len(describes))
        return update(**request)

    sm.update_endpoint = counting
    return seen


@pytest.mark.parametrize("verb", ["deploy_endpoint", "update_endpoint", "rollback"])
def test_a_verb_on_an_existing_endpoint_reads_it_once_before_acting(backend: SageMakerBackend, clients: Any, sm: Any, verb: str) -> None:
    _v1, v2, _ = _two_deployed(backend)
    if verb == "rollback":
        backend.update_endpoint(endpoint_name="scikit-byo-endpoint", version=v2)
    seen = _describes_before_update(sm, clients)
    getattr(backend, verb)(endpoint_name="scikit-byo-endpoint")
    assert seen == [1]  # one settled read: it was InService, so nothing to wait for


def test_an_endpoint_still_updating_is_waited_for_then_updated(backend: SageMakerBackend, clients: Any, sm: Any) -> None:
    _two_deployed(backend)
    sm.script("scikit-byo-endpoint", ["Updating", "Updating", "InService"])
    seen = _describes_before_update(sm, clients)
    moved = backend.deploy_endpoint(endpoint_name="scikit-byo-endpoint")
    assert seen == [3] and moved.status == "InService"  # the read, then polls only while it moved


def test_transform_request(backend: SageMakerBackend, clients: Any) -> None:
    calls = record_calls(clients.sagemaker, "CreateTransformJob")
    [v1] = _versions(backend, 1)
    backend.approve(version=v1)
    job = backend.transform()
    again = backend.transform()
    assert again.name == job.name and len(calls) == 1
    [request] = calls
    assert request["BatchStrategy"] == "MultiRecord"
    assert request["TransformInput"]["SplitType"] == "Line"
    assert request["DataProcessing"] == {"InputFilter": "$[1:]", "OutputFilter": "$", "JoinSource": "Input"}
    assert request["TransformResources"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1}
    # The one input object was split (default: 4 parts per instance; its two records make two).
    assert request["TransformInput"]["DataSource"]["S3DataSource"] == {
        "S3DataType": "S3Prefix",
        "S3Uri": f"s3://{TEST_DATALAKE}/transform-splits/{job.name}/input/",
    }
    assert job.output_uri == f"s3://{TEST_DATALAKE}/iris/output/{job.name}/"  # where the joined output is
    assert (job.status, job.split_parts, job.instance_count) == ("Completed", 2, 1)


def test_teardown_deletes_only_what_the_endpoint_owns(backend: SageMakerBackend, clients: Any, outputs: Any) -> None:
    [v1] = _versions(backend, 1)
    backend.approve(version=v1)
    backend.deploy_endpoint(endpoint_name="scikit-byo-endpoint")
    clients.sagemaker.create_model(
        ModelName="scikit-byo-endpoint-someone-else",
        ExecutionRoleArn=outputs.sagemaker_role_arn,
        PrimaryContainer={"Image": "example.invalid/other@sha256:" + "0" * 64},
    )
    deleted = backend.teardown()
    # Autoscaling goes first: SageMaker's guide deregisters the variant before deleting the endpoint.
    assert deleted[:2] == ["scalable-target/endpoint/scikit-byo-endpoint/variant/AllTraffic", "endpoint/scikit-byo-endpoint"]
    assert sum(d.startswith("endpoint-config/") for d in deleted) == 1
    assert sum(d.startswith("model/") for d in deleted) == 1
    remaining = [m["ModelName"] for m in clients.sagemaker.list_models()["Models"]]
    assert remaining == ["scikit-byo-endpoint-someone-else"]
    assert backend.teardown() == []


def test_create_and_update_wait_for_the_new_config_to_be_visible(backend: SageMakerBackend, sm: Any, clock: Any) -> None:
    # CreateEndpoint reference: the config lookup is eventually consistent and "retry logic is
    # recommended". The fake hides each new config from the next 3 Create/UpdateEndpoint calls.
    sm.config_lag = 3
    v1, v2 = _versions(backend, 2)
    backend.approve(version=v1)
    slept = len(clock.sleeps)
    assert backend.deploy_endpoint(endpoint_name="scikit-byo-endpoint").status == "InService"
    assert clock.sleeps[slept : slept + 3] == [1.0, 2.0, 4.0]  # backoff, then the create went through
    backend.approve(version=v2)
    assert backend.update_endpoint(endpoint_name="scikit-byo-endpoint").version == v2


def test_a_config_that_never_becomes_visible_fails_within_the_bound(backend: SageMakerBackend, sm: Any, clock: Any) -> None:
    sm.config_lag = 10_000
    backend.approve(version=_versions(backend, 1)[0])
    start = clock.now
    with pytest.raises(TimeoutExpiredError, match="creating endpoint"):
        backend.deploy_endpoint(endpoint_name="scikit-byo-endpoint")
    assert clock.now - start <= CONFIG_VISIBLE_SECONDS


def test_the_monitor_schedule_runs_only_while_the_endpoint_exists(backend: SageMakerBackend, clients: Any) -> None:
    # Created disabled by the stack; a deploy turns it on, teardown off: no failing daily build.
    def state() -> str:
        return str(clients.events.describe_rule(Name=TEST_SCHEDULE)["State"])

    backend.approve(version=_versions(backend, 1)[0])
    assert state() == "DISABLED"
    backend.deploy_endpoint(endpoint_name="scikit-byo-endpoint")
    assert state() == "ENABLED"
    gone = backend.teardown(endpoint_name="scikit-byo-endpoint")
    assert state() == "DISABLED"
    assert f"schedule/{TEST_SCHEDULE} (disabled)" in gone
    assert "endpoint/scikit-byo-endpoint" in gone
    assert any(g.startswith("scalable-target/") for g in gone)


def test_teardown_without_a_deployed_schedule_still_tears_down(backend: SageMakerBackend, clients: Any) -> None:
    clients.events.delete_rule(Name=TEST_SCHEDULE)
    backend.approve(version=_versions(backend, 1)[0])
    backend.deploy_endpoint(endpoint_name="scikit-byo-endpoint")
    assert "endpoint/scikit-byo-endpoint" in backend.teardown(endpoint_name="scikit-byo-endpoint")
