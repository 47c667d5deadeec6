"""Training: the exact CreateTrainingJob request, idempotent names, and every way a job ends."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from sagemaker_fakes import FakeClock
from sagemaker_setup import TEST_DATALAKE, TEST_GROUP

from ml.backends.sagemaker.backend import SageMakerBackend
from ml.backends.sagemaker.images import image_from_detail
from ml.backends.sagemaker.training import METRIC_DEFINITIONS
from ml.errors import JobFailedError, NotFoundError, TimeoutExpiredError, UserInputError


def _training(sm: Any) -> Any:
    return sm.real.real  # EndpointFake wraps TransformStatusFake, which wraps TrainingStatusFake


def test_request_is_spot_with_checkpoints_and_digest_pinned_image(backend: SageMakerBackend, clients: Any, sm: Any) -> None:
    validation = f"s3://{TEST_DATALAKE}/iris/validation/iris.csv"
    clients.s3.put_object(Bucket=TEST_DATALAKE, Key="iris/validation/iris.csv", Body=b"setosa,5.0,3.4,1.5,0.2\n")
    job = backend.train(hyperparameters={"max_depth": "3"}, validation=validation)

    [request] = _training(sm).created
    assert request["EnableManagedSpotTraining"] is True
    stopping = request["StoppingCondition"]
    assert stopping == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert stopping["MaxWaitTimeInSeconds"] >= stopping["MaxRuntimeInSeconds"]
    assert request["CheckpointConfig"] == {"S3Uri": f"s3://{TEST_DATALAKE}/checkpoints/{job.name}/", "LocalPath": "/opt/ml/checkpoints"}
    image = request["AlgorithmSpecification"]["TrainingImage"]
    assert re.fullmatch(r".+/sagemaker-scikit-byo@sha256:[0-9a-f]{64}", image)
    assert request["HyperParameters"] == {"max_leaf_nodes": "5", "max_depth": "3", "random_state": "0"}
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]}
    assert channels == {"training": f"s3://{TEST_DATALAKE}/iris/input/iris.csv", "validation": validation}
    version = clients.s3.head_object(Bucket=TEST_DATALAKE, Key="iris/input/iris.csv")["VersionId"]
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert f"training={version}" in tags["byoc:data-version"]
    assert tags["byoc:git-commit"] == "abc1234def56"
    assert job.status == "Completed"
    assert job.lineage.image == image
    assert job.lineage.git_commit == "abc1234def56"


def test_metric_regexes_match_the_container_lines() -> None:
    lines = {"train:accuracy": "train:accuracy=0.9800", "validation:accuracy": "validation:accuracy=0.9667"}
    for definition in METRIC_DEFINITIONS:
        match = re.search(definition["Regex"], f"INFO {lines[definition['Name']]}\n")
        assert match is not None
        assert float(match.group(1)) in (0.98, 0.9667)


def test_spot_off_sends_no_max_wait(backend: SageMakerBackend, config: Any, sm: Any) -> None:
    from dataclasses import replace

    backend.config = replace(config, training_use_spot=False)
    backend.train()
    [request] = _training(sm).created
    assert "EnableManagedSpotTraining" not in request
    assert "CheckpointConfig" not in request
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}


def test_rerun_after_success_reuses_the_job(backend: SageMakerBackend, sm: Any) -> None:
    first = backend.train()
    second = backend.train()
    assert second.name == first.name
    assert len(_training(sm).created) == 1


def test_failed_job_raises_with_reason_and_rerun_starts_a_new_attempt(backend: SageMakerBackend, sm: Any, clock: FakeClock) -> None:
    reason = "AlgorithmError: ValueError: could not convert string to float: 'sepal'"
    original = _training(sm).create_training_job

    def create_then_script(**request: Any) -> Any:
        reply = original(**request)
        _training(sm).script(request["TrainingJobName"], [
            {"TrainingJobStatus": "InProgress", "SecondaryStatus": "Starting"},
            {"TrainingJobStatus": "InProgress", "SecondaryStatus": "Training"},
            {"TrainingJobStatus": "Failed", "SecondaryStatus": "Failed", "FailureReason": reason},
        ])  # fmt: skip
        return reply

    _training(sm).create_training_job = create_then_script
    with pytest.raises(JobFailedError, match="could not convert string to float") as failure:
        backend.train()
    assert "invoke train" in str(failure.value)
    assert clock.now > 0  # it polled, with the injected clock
    first = _training(sm).created[0]["TrainingJobName"]

    _training(sm).create_training_job = original
    job = backend.train()
    assert job.name == f"{first}-a2"
    assert job.status == "Completed"


def test_spot_interruption_stops_the_job_and_says_what_to_change(backend: SageMakerBackend, sm: Any) -> None:
    original = _training(sm).create_training_job

    def create_then_stop(**request: Any) -> Any:
        reply = original(**request)
        _training(sm).script(request["TrainingJobName"], [
            {"TrainingJobStatus": "InProgress", "SecondaryStatus": "Training"},
            {"TrainingJobStatus": "Stopping", "SecondaryStatus": "Interrupted"},
            {"TrainingJobStatus": "Stopped", "SecondaryStatus": "Interrupted", "FailureReason": "Spot capacity reclaimed"},
        ])  # fmt: skip
        return reply

    _training(sm).create_training_job = create_then_stop
    with pytest.raises(JobFailedError, match="was stopped") as stopped:
        backend.train()
    assert "Interrupted" in str(stopped.value)
    assert "training_max_wait_seconds" in str(stopped.value)


def test_wait_gives_up_at_the_deadline_without_real_sleeping(backend: SageMakerBackend, sm: Any, clock: FakeClock) -> None:
    original = _training(sm).create_training_job

    def create_then_hang(**request: Any) -> Any:
        reply = original(**request)
        _training(sm).script(request["TrainingJobName"], [{"TrainingJobStatus": "InProgress", "SecondaryStatus": "Training"}])
        return reply

    _training(sm).create_training_job = create_then_hang
    with pytest.raises(TimeoutExpiredError, match=r"within 9000s .*'InProgress'"):
        backend.train()
    assert clock.now == pytest.approx(7200 + 1800)  # MaxWait plus the provisioning margin


def test_train_without_a_pushed_image_says_to_build(config: Any, outputs: Any, clients: Any, clock: FakeClock, tmp_path: Any) -> None:
    fresh = SageMakerBackend(config=config, root=tmp_path, outputs=outputs, clients=clients, clock=clock)
    with pytest.raises(NotFoundError, match="invoke build-image --backend sagemaker"):
        fresh.train()


TEST_PIPELINE_DIGEST = "sha256:" + "7" * 64
TEST_COMMIT = "feedc0ffee12" + "0" * 28  # a full 40-hex commit, as build-image tags images
TEST_REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def _image_source(directory: Path, uri: str, tags: list[str]) -> Path:
    """What the train pipeline's ECR source action hands CodeBuild."""
    directory.mkdir()
    detail = {
        "ImageSizeInBytes": "52428800",
        "ImageDigest": uri.rsplit("@", 1)[-1],
        "Version": "1.0",
        "ImagePushedAt": "Mon Jan 05 10:00:00 UTC 2026",
        "RegistryId": "000000000000",
        "RepositoryName": "sagemaker-scikit-byo",
        "ImageURI": uri,
        "ImageTags": tags,
    }
    (directory / "imageDetail.json").write_text(json.dumps(detail), encoding="utf-8")
    return directory


def test_pipeline_image_detail_comes_before_the_last_push(
    backend: SageMakerBackend, outputs: Any, sm: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"{outputs.ecr_repository_url}@{TEST_PIPELINE_DIGEST}"
    monkeypatch.setenv("CODEBUILD_SRC_DIR_image", str(_image_source(tmp_path / "image", uri, ["latest", TEST_COMMIT])))
    job = backend.train()
    [request] = _training(sm).created
    assert request["AlgorithmSpecification"]["TrainingImage"] == uri
    assert {t["Key"]: t["Value"] for t in request["Tags"]}["byoc:git-commit"] == TEST_COMMIT
    assert job.lineage.image == uri


@pytest.mark.parametrize(
    "tags",
    [
        [f"registered-{TEST_GROUP}-v1", TEST_COMMIT, "latest"],
        ["latest", f"registered-{TEST_GROUP}-v12", f"registered-{TEST_GROUP}-v3", TEST_COMMIT],
        [TEST_COMMIT, f"registered-{TEST_GROUP}-v1"],
    ],
)
def test_lineage_takes_the_commit_tag_whatever_the_order_of_image_tags(tags: list[str], tmp_path: Path) -> None:
    # ECR gives no order for imageTags; once a version pinned the image it carries a
    # registered-<group>-vN tag, which must never be recorded as the commit.
    source = _image_source(tmp_path / "image", f"{TEST_REGISTRY}/repo@{TEST_PIPELINE_DIGEST}", tags)
    assert image_from_detail(source / "imageDetail.json").tag == TEST_COMMIT


def test_no_commit_tag_is_recorded_as_none_rather_than_guessed(tmp_path: Path) -> None:
    source = _image_source(tmp_path / "image", f"{TEST_REGISTRY}/repo@{TEST_PIPELINE_DIGEST}", ["latest", "registered-g-v1"])
    assert image_from_detail(source / "imageDetail.json").tag == ""


def test_tag_only_pipeline_image_is_refused(
    backend: SageMakerBackend, outputs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"{outputs.ecr_repository_url}:latest"
    monkeypatch.setenv("CODEBUILD_SRC_DIR_image", str(_image_source(tmp_path / "image", uri, ["latest"])))
    with pytest.raises(UserInputError, match="not digest-pinned"):
        backend.train()


def test_missing_image_detail_says_what_is_wrong(backend: SageMakerBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEBUILD_SRC_DIR_image", str(tmp_path / "nowhere"))
    with pytest.raises(UserInputError, match="imageDetail.json does not exist"):
        backend.train()


def test_explicit_image_wins_and_must_be_pinned(
    backend: SageMakerBackend, outputs: Any, sm: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "CODEBUILD_SRC_DIR_image", str(_image_source(tmp_path / "image", f"{outputs.ecr_repository_url}@sha256:{'1' * 64}", []))
    )
    explicit = f"{outputs.ecr_repository_url}@{TEST_PIPELINE_DIGEST}"
    backend.train(image=explicit)
    [request] = _training(sm).created
    assert request["AlgorithmSpecification"]["TrainingImage"] == explicit
    with pytest.raises(UserInputError, match="not digest-pinned"):
        backend.train(image=f"{outputs.ecr_repository_url}:abc1234def56")


def test_training_reads_the_data_lake_object_and_records_its_version(backend: SageMakerBackend, clients: Any, sm: Any) -> None:
    # The train pipeline's S3 source is not handed to CodeBuild (a bare CSV is not a zip): the
    # job reads the data lake object itself and lineage records the object version it read.
    backend.train()
    [request] = _training(sm).created
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]}
    assert channels == {"training": f"s3://{TEST_DATALAKE}/iris/input/iris.csv"}
    version = clients.s3.head_object(Bucket=TEST_DATALAKE, Key="iris/input/iris.csv")["VersionId"]
    assert f"training={version}" in {t["Key"]: t["Value"] for t in request["Tags"]}["byoc:data-version"]


def test_logs_are_streamed_to_the_sink(backend: SageMakerBackend, clients: Any) -> None:
    first = backend.train()
    group = "/aws/sagemaker/TrainingJobs"
    clients.logs.create_log_group(logGroupName=group)
    clients.logs.create_log_stream(logGroupName=group, logStreamName=f"{first.name}/algo-1-0")
    clients.logs.put_log_events(
        logGroupName=group,
        logStreamName=f"{first.name}/algo-1-0",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "train:accuracy=0.9800"}],
    )
    lines: list[str] = []
    backend.train(on_log=lines.append)
    assert any("train:accuracy=0.9800" in line for line in lines)
    assert any("reusing" in line for line in lines)


def test_the_training_volume_is_the_configured_size(backend: SageMakerBackend, config: Any, sm: Any) -> None:
    from dataclasses import replace

    backend.config = replace(config, training_volume_size_gb=50)
    backend.train()
    [request] = _training(sm).created
    assert request["ResourceConfig"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 50}


def test_data_larger_than_the_volume_is_refused_before_the_job_naming_both_sizes(
    backend: SageMakerBackend, config: Any, sm: Any, clients: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    real_head = clients.s3.head_object

    def three_gib(**kwargs: Any) -> Any:  # what S3 says of a 3 GiB object (too big to put into moto here)
        return {**real_head(**kwargs), "ContentLength": 3 << 30}

    monkeypatch.setattr(clients.s3, "head_object", three_gib)
    backend.config = replace(config, training_volume_size_gb=2)
    with pytest.raises(UserInputError, match=r"is 3\.00 GB, larger than the training volume of 2 GB .*at least 4") as caught:
        backend.train()
    assert f"s3://{TEST_DATALAKE}/iris/input/iris.csv" in str(caught.value)
    assert _training(sm).created == []  # refused before any job was started
    backend.config = replace(config, training_volume_size_gb=4)
    backend.train()
    assert len(_training(sm).created) == 1


def test_a_prefix_is_sized_by_every_object_under_it(clients: Any) -> None:
    from ml.backends.sagemaker.s3data import data_size

    for k, body in enumerate([b"a" * 10, b"b" * 20, b"c" * 30]):
        clients.s3.put_object(Bucket=TEST_DATALAKE, Key=f"iris/parts/p{k}.csv", Body=body)
    clients.s3.put_object(Bucket=TEST_DATALAKE, Key="iris/partsx.csv", Body=b"x" * 1000)  # beside the prefix, not under it
    assert data_size(clients.s3, bucket=TEST_DATALAKE, key="iris/parts/") == 60
    assert data_size(clients.s3, bucket=TEST_DATALAKE, key="iris/partsx.csv") == 1000
