"""The server-side SageMaker fakes: status sequences, UpdateEndpoint, injected failures."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from rehearsal_fake import Fake

from tools.rehearsal.faults import REASONS

REPO = Path(__file__).resolve().parents[3]
ROLE = "arn:aws:iam::123456789012:role/sm"
IMAGE = "127.0.0.1:5000/repo@sha256:" + "a" * 64
METRICS = [{"Name": "train:accuracy", "Regex": r"train:accuracy=([0-9]+(?:\.[0-9]+)?)"}]


def start_training(fake: Fake, name: str = "job-1", *, data: bool = True) -> Any:
    s3, sm = fake.client("s3"), fake.client("sagemaker")
    s3.create_bucket(Bucket="lake-bucket")
    s3.put_object(Bucket="lake-bucket", Key="data/train/iris.csv", Body=(REPO / "data" / "iris.csv").read_bytes())
    channel = {
        "ChannelName": "training" if data else "validation",  # no training channel: the program fails
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://lake-bucket/data/train/iris.csv"}},
        "ContentType": "text/csv",
    }
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File", "MetricDefinitions": METRICS},
        RoleArn=ROLE,
        HyperParameters={"max_depth": "3", "random_state": "0"},
        InputDataConfig=[channel],
        OutputDataConfig={"S3OutputPath": "s3://lake-bucket/models/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    return sm


def test_training_is_in_progress_then_completed_with_a_real_artifact_and_parsed_metrics(fake: Fake) -> None:
    sm = start_training(fake)
    first = sm.describe_training_job(TrainingJobName="job-1")
    assert first["TrainingJobStatus"] == "InProgress"
    assert "ModelArtifacts" not in first
    done = sm.describe_training_job(TrainingJobName="job-1")
    assert done["TrainingJobStatus"] == "Completed"
    # The container's train ran on the channel: its own log line gives the metric.
    [(metric, value)] = [(m["MetricName"], m["Value"]) for m in done["FinalMetricDataList"]]
    assert metric == "train:accuracy" and 0.9 < value <= 1.0
    uri = done["ModelArtifacts"]["S3ModelArtifacts"]
    body = fake.client("s3").get_object(Bucket="lake-bucket", Key=uri.removeprefix("s3://lake-bucket/"))["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        names = tar.getnames()
    assert any(n.endswith(".json") for n in names) and len(names) > 1, names  # the packed model directory
    assert sm.describe_training_job(TrainingJobName="job-1")["TrainingJobStatus"] == "Completed"  # settled repeats


def test_a_training_program_that_fails_ends_the_job_failed_with_its_reason(fake: Fake) -> None:
    sm = start_training(fake, data=False)
    sm.describe_training_job(TrainingJobName="job-1")
    final = sm.describe_training_job(TrainingJobName="job-1")
    assert final["TrainingJobStatus"] == "Failed"
    assert "declares no 'training' channel" in final["FailureReason"]
    assert "ModelArtifacts" not in final


def test_injected_training_failure_reports_failed_with_its_reason_and_no_artifact(fake: Fake) -> None:
    fake.front.set_fault("training-failed")
    sm = start_training(fake)
    sm.describe_training_job(TrainingJobName="job-1")
    final = sm.describe_training_job(TrainingJobName="job-1")
    assert final["TrainingJobStatus"] == "Failed"
    assert final["FailureReason"] == REASONS["training-failed"]
    assert "ModelArtifacts" not in final


def test_stop_training_job_moves_through_stopping_to_stopped(fake: Fake) -> None:
    sm = start_training(fake)
    sm.stop_training_job(TrainingJobName="job-1")
    assert sm.describe_training_job(TrainingJobName="job-1")["TrainingJobStatus"] == "Stopping"
    assert sm.describe_training_job(TrainingJobName="job-1")["TrainingJobStatus"] == "Stopped"
    with pytest.raises(ClientError, match="only an InProgress job"):
        sm.stop_training_job(TrainingJobName="job-1")


def once_visible(call: Any, **request: Any) -> Any:
    """A Create/UpdateEndpoint naming a new config: the fake misses the config once, as AWS may."""
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        call(**request)
    return call(**request)


def make_endpoint(fake: Fake, *configs: str) -> Any:
    sm = fake.client("sagemaker")
    sm.create_model(ModelName="m", PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=ROLE)
    for config in configs:
        sm.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}],
        )
    once_visible(sm.create_endpoint, EndpointName="ep", EndpointConfigName=configs[0])
    return sm


def test_a_new_config_is_described_at_once_but_missed_by_the_next_create(fake: Fake) -> None:
    # CreateEndpoint reference: its config lookup is an eventually consistent read; a config not
    # there yet "causes a validation error"; DescribeEndpointConfig first is the advice.
    sm = fake.client("sagemaker")
    sm.create_model(ModelName="m", PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=ROLE)
    variant = {"VariantName": "AllTraffic", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    sm.create_endpoint_config(EndpointConfigName="cfg-v1", ProductionVariants=[variant])
    assert sm.describe_endpoint_config(EndpointConfigName="cfg-v1")["EndpointConfigName"] == "cfg-v1"
    with pytest.raises(ClientError) as missed:
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-v1")
    assert missed.value.response["Error"]["Code"] == "ValidationException"
    assert "Could not find endpoint configuration" in missed.value.response["Error"]["Message"]
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-v1")  # a moment later it is there
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Creating"


def statuses(sm: Any, count: int) -> list[tuple[str, str]]:
    return [(d["EndpointStatus"], d["EndpointConfigName"]) for d in (sm.describe_endpoint(EndpointName="ep") for _ in range(count))]


def test_endpoint_creation_then_a_blue_green_update(fake: Fake) -> None:
    sm = make_endpoint(fake, "cfg-v1", "cfg-v2")
    assert statuses(sm, 2) == [("Creating", "cfg-v1"), ("InService", "cfg-v1")]
    once_visible(sm.update_endpoint, EndpointName="ep", EndpointConfigName="cfg-v2")
    assert statuses(sm, 3) == [("Updating", "cfg-v1"), ("InService", "cfg-v2"), ("InService", "cfg-v2")]


def test_update_refuses_a_missing_config_and_a_busy_endpoint(fake: Fake) -> None:
    sm = make_endpoint(fake, "cfg-v1", "cfg-v2")
    with pytest.raises(ClientError, match="its status is Creating"):
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-v2")
    statuses(sm, 1)
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-missing")


def test_injected_endpoint_failure(fake: Fake) -> None:
    fake.front.set_fault("endpoint-failed")
    sm = make_endpoint(fake, "cfg-v1")
    sm.describe_endpoint(EndpointName="ep")
    final = sm.describe_endpoint(EndpointName="ep")
    assert final["EndpointStatus"] == "Failed"
    assert final["FailureReason"] == REASONS["endpoint-failed"]


def test_injected_rollback_needs_alarms_and_keeps_the_old_config(fake: Fake) -> None:
    sm = make_endpoint(fake, "cfg-v1", "cfg-v2")
    statuses(sm, 2)
    fake.front.set_fault("update-rolled-back")
    alarms = {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "ep-5xx"}]}}
    once_visible(sm.update_endpoint, EndpointName="ep", EndpointConfigName="cfg-v2", DeploymentConfig=alarms)
    assert statuses(sm, 3) == [("Updating", "cfg-v1"), ("RollingBack", "cfg-v1"), ("InService", "cfg-v1")]
    assert "Alarm ep-5xx went to ALARM" in sm.describe_endpoint(EndpointName="ep")["FailureReason"]
    # Without alarms nothing can roll the update back.
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-v2")
    assert statuses(sm, 2)[-1] == ("InService", "cfg-v2")


def trained_model(fake: Fake) -> Any:
    """A model whose artifact the fake's training really wrote (the container's own train)."""
    sm = start_training(fake)
    sm.describe_training_job(TrainingJobName="job-1")
    artifact = sm.describe_training_job(TrainingJobName="job-1")["ModelArtifacts"]["S3ModelArtifacts"]
    sm.create_model(ModelName="m", PrimaryContainer={"Image": IMAGE, "ModelDataUrl": artifact}, ExecutionRoleArn=ROLE)
    return sm


def start_transform(sm: Any, name: str, *, instances: int = 2) -> list[str]:
    sm.create_transform_job(
        TransformJobName=name,
        ModelName="m",
        MaxConcurrentTransforms=2,
        MaxPayloadInMB=1,
        BatchStrategy="MultiRecord",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://lake-bucket/parts/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://lake-bucket/out/{name}/", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": instances},
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$"},
    )
    return [sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"] for _ in range(2)]


def put_parts(fake: Fake, *, bad: int | None = None) -> list[bytes]:
    rows = (REPO / "data" / "iris.csv").read_bytes().splitlines(keepends=True)
    parts = [b"".join(rows[k * 30 : (k + 1) * 30]) for k in range(5)]
    if bad is not None:
        parts[bad] = parts[bad].replace(b"5.", b"not-a-number,", 1)
    for k, body in enumerate(parts):
        fake.client("s3").put_object(Bucket="lake-bucket", Key=f"parts/part-{k + 1:05d}.csv", Body=body)
    return parts


def test_transform_runs_the_model_on_each_instance_and_writes_an_out_per_object(fake: Fake) -> None:
    sm = trained_model(fake)
    parts = put_parts(fake)
    assert start_transform(sm, "t-1") == ["InProgress", "Completed"]
    _, _, jobs = fake.front.route("SageMaker.CreateTransformJob") or ("", "", None)
    # SageMaker's mapping: objects by key, in contiguous runs, one run per instance.
    keys = [f"parts/part-{k:05d}.csv" for k in range(1, 6)]
    assert jobs.transform_instances["t-1"] == (tuple(keys[:3]), tuple(keys[3:]))
    correct = 0
    for k, body in enumerate(parts):
        out = fake.client("s3").get_object(Bucket="lake-bucket", Key=f"out/t-1/part-{k + 1:05d}.csv.out")["Body"].read()
        lines = out.splitlines()
        assert len(lines) == 30 and all(line.startswith(row + b",") for line, row in zip(lines, body.splitlines(), strict=True))
        correct += sum(line.split(b",")[0] == line.split(b",")[-1] for line in lines)  # the label against the prediction
    assert correct / 150 > 0.9  # a real model answered


def test_a_refused_record_fails_its_object_and_the_job_while_the_others_get_their_output(fake: Fake) -> None:
    sm = trained_model(fake)
    put_parts(fake, bad=2)
    assert start_transform(sm, "t-2") == ["InProgress", "Failed"]
    reason = sm.describe_transform_job(TransformJobName="t-2")["FailureReason"]
    assert reason.startswith("ClientError: 1 of 5 input objects could not be transformed")
    listed = fake.client("s3").list_objects_v2(Bucket="lake-bucket", Prefix="out/t-2/")
    assert sorted(item["Key"].rsplit("/", 1)[-1] for item in listed["Contents"]) == [
        "part-00001.csv.out", "part-00002.csv.out", "part-00004.csv.out", "part-00005.csv.out"
    ]  # fmt: skip
    logs = fake.client("logs")
    events = logs.filter_log_events(
        logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix="t-2/", filterPattern='"part-00003.csv"'
    )
    [line] = [e["message"] for e in events["events"]]
    assert line.startswith("s3://lake-bucket/parts/part-00003.csv: ") and "was rejected by the model server: HTTP 400" in line


def test_injected_transform_failure(fake: Fake) -> None:
    sm = trained_model(fake)
    put_parts(fake)
    fake.front.set_fault("transform-failed")
    assert start_transform(sm, "t-3") == ["InProgress", "Failed"]
    assert sm.describe_transform_job(TransformJobName="t-3")["FailureReason"] == REASONS["transform-failed"]


def test_approving_a_version_keeps_its_metadata_properties(fake: Fake) -> None:
    sm = fake.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="grp")
    arn = sm.create_model_package(
        ModelPackageGroupName="grp",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties={"training_job": "job-1", "metric.accuracy": "0.97", "gone": "x"},
    )["ModelPackageArn"]
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", CustomerMetadataPropertiesToRemove=["gone"])
    described = sm.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["CustomerMetadataProperties"] == {"training_job": "job-1", "metric.accuracy": "0.97"}
