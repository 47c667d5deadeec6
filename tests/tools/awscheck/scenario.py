"""Drive the real SageMaker backend through every task, in-process, recording each AWS call.

moto holds the AWS state; the scripted fakes of tests/ml/backends/sagemaker stand in for what
moto lacks (training statuses, UpdateEndpoint). The names come from the synthesized stacks, so
the recorded calls name exactly the resources the policies were written for.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from ml.backends.local.backend import LocalBackend
from ml.backends.local.programs import ProcessPrograms
from ml.backends.records import TrainingJob
from ml.backends.sagemaker import deployments
from ml.backends.sagemaker.backend import SageMakerBackend
from ml.backends.sagemaker.capture import hour_prefix
from ml.backends.sagemaker.clients import make_clients
from ml.config import ProjectConfig, load_config
from ml.errors import JobFailedError
from ml.monitor.html import write_html
from ml.monitor.publish import publish_report as publish_monitor_report
from ml.monitor.run import monitor
from ml.monitor.served import ServedBaselines
from ml.monitor.sources import S3Capture
from ml.monitor.verdict import Thresholds
from ml.monitor.window import Window
from ml.names import SOURCE_VERSION_ENV, TRANSFORM_OUTPUT_PREFIX, TRANSFORM_SPLITS_PREFIX
from ml.reports.aws import publish_report
from ml.tfstate import StackOutputs
from tools.awscheck.calls import CallRecorder
from tools.awscheck.onbehalf import push_calls

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ml" / "backends" / "sagemaker"))
from sagemaker_fakes import EndpointFake, FakeClock, TrainingStatusFake, TransformStatusFake
from transform_outputs import BAD

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ml" / "monitor"))
from monitor_fixtures import capture_line

REPO = Path(__file__).resolve().parents[3]
TRAIN_KEY = "iris/input/iris.csv"
CSV = b"setosa,5.1,3.5,1.4,0.2\nversicolor,7.0,3.2,4.7,1.4\n"
BAD_KEY = "iris/input/bad.csv"  # a transform input with a record the model refuses: the failure path
COMMIT_SHA = "0123456789ab" + "cd" * 14  # what CodeBuild puts in CODEBUILD_RESOLVED_SOURCE_VERSION
COMMIT = COMMIT_SHA  # the image tag build-image derives from it


@contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


TRAINING_LOGS = "/aws/sagemaker/TrainingJobs"


def stack_outputs(outputs: dict[str, Any]) -> StackOutputs:
    known = {f.name for f in fields(StackOutputs)}
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in outputs.items() if k in known}
    return StackOutputs(**values)


class LoggingTrainingFake(TrainingStatusFake):
    """A job's log stream appears when it starts, as SageMaker's does, so the backend follows it."""

    def __init__(self, real: Any, logs: Any) -> None:
        super().__init__(real)
        self.logs = logs

    def create_training_job(self, **request: Any) -> Any:
        made = super().create_training_job(**request)
        stream = f"{request['TrainingJobName']}/algo-1-1700000000"
        self.logs.create_log_stream(logGroupName=TRAINING_LOGS, logStreamName=stream)
        self.logs.put_log_events(logGroupName=TRAINING_LOGS, logStreamName=stream, logEvents=[{"timestamp": 1, "message": "fit"}])
        return made


class RecordedEndpointFake(EndpointFake):
    """UpdateEndpoint never reaches botocore here (moto lacks it), so the fake records it."""

    def __init__(self, real: Any, recorder: CallRecorder) -> None:
        super().__init__(real)
        self.recorder = recorder

    def update_endpoint(self, **request: Any) -> dict[str, Any]:
        self.recorder.record("sagemaker", "UpdateEndpoint", request)
        return super().update_endpoint(**request)


def prepare(outputs: StackOutputs, region: str, *, schedule_rule: str) -> None:
    """What `cdktf deploy` would have made: the buckets, the repository, the model group, the
    monitor's schedule (disabled, as the deploy stack creates it)."""
    s3 = boto3.client("s3", region_name=region)
    for bucket in (outputs.datalake_bucket, outputs.artifact_bucket):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=outputs.datalake_bucket, Key=TRAIN_KEY, Body=CSV)
    s3.put_object(Bucket=outputs.datalake_bucket, Key=BAD_KEY, Body=CSV + b"setosa,5.1," + BAD + b",1.4,0.2\n")
    boto3.client("ecr", region_name=region).create_repository(repositoryName=outputs.ecr_repository_name)
    boto3.client("logs", region_name=region).create_log_group(logGroupName=TRAINING_LOGS)
    boto3.client("sagemaker", region_name=region).create_model_package_group(ModelPackageGroupName=outputs.model_package_group)
    boto3.client("events", region_name=region).put_rule(Name=schedule_rule, ScheduleExpression="rate(1 day)", State="DISABLED")


def make_backend(*, config: ProjectConfig, outputs: StackOutputs, root: Path, recorder: CallRecorder) -> tuple[SageMakerBackend, Any]:
    made = make_clients(boto3.Session(region_name=config.region), retry_mode="standard", max_attempts=1)
    for client in (made.sagemaker, made.runtime, made.s3, made.ecr, made.logs, made.autoscaling, made.cloudwatch, made.events):
        recorder.attach(client)
    plain_logs = boto3.client("logs", region_name=config.region)  # SageMaker's own writes: not our code's calls
    trained = LoggingTrainingFake(made.sagemaker, plain_logs)
    transforms = TransformStatusFake(trained, s3=boto3.client("s3", region_name=config.region), logs=plain_logs)
    sm = RecordedEndpointFake(transforms, recorder)
    wired = dataclasses.replace(made, sagemaker=sm)
    plain_ecr = boto3.client("ecr", region_name=config.region)  # the registry's side of a push: not our code's calls

    def runner(argv: Sequence[str], stdin: str | None) -> str:
        if "push" in argv:
            tag = argv[-1].rsplit(":", 1)[1]
            recorder.calls.extend(push_calls(recorder.current_task, outputs.ecr_repository_name))
            layer = {"digest": "sha256:" + "0" * 64, "size": 1}  # moto derives the digest from the layers
            manifest = json.dumps(
                {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "layers": [layer]}
            )
            pushed = plain_ecr.put_image(repositoryName=outputs.ecr_repository_name, imageManifest=manifest, imageTag=tag)
            if "--digestfile" in argv:  # what podman writes: the digest the registry returned
                Path(argv[argv.index("--digestfile") + 1]).write_text(pushed["image"]["imageId"]["imageDigest"], encoding="utf-8")
        return ""

    backend = SageMakerBackend(
        config=config, root=root, outputs=outputs, clients=wired, clock=FakeClock(), builder="podman", runner=runner, on_log=lambda _: None
    )
    return backend, sm


def run_monitor(backend: SageMakerBackend, outputs: StackOutputs, version: int) -> None:
    """invoke monitor --backend sagemaker, on one hour SageMaker captured, with the backend's clients."""
    plain = boto3.client("s3", region_name=backend.config.region)  # the setup is not the monitor's calls
    # The served version's model.tar.gz is the real one _report uploaded: its baseline/ is training's own.
    # A record answered after the endpoint's deploy settled: its history names the version that answered.
    at = datetime.now(UTC) + timedelta(seconds=1)
    hour = at.replace(minute=0, second=0, microsecond=0)
    key = hour_prefix(capture_prefix=backend.config.capture_prefix, endpoint=outputs.endpoint_name, variant="AllTraffic", hour=hour)
    line = capture_line(rows=["5.1,3.5,1.4,0.2"], predictions=["setosa"], at=at)
    plain.put_object(Bucket=outputs.datalake_bucket, Key=f"{key}part-0.jsonl", Body=(line + "\n").encode())
    source = S3Capture(client=backend.clients.s3, bucket=outputs.datalake_bucket, prefix=backend.config.capture_prefix)
    history = functools.partial(deployments.history_of, backend.clients.sagemaker, outputs.endpoint_name)
    found = ServedBaselines(backend=backend, endpoint=outputs.endpoint_name, s3_client=backend.clients.s3, deployments=history)
    window = Window(since=hour, until=at + timedelta(hours=1))
    report = monitor(
        source=source, endpoint=outputs.endpoint_name, window=window, attribution=found, thresholds=Thresholds.from_config(backend.config)
    )
    assert report.variants[0].version == version and report.variants[0].rows == 1
    html = write_html(report, Path(tempfile.mkdtemp(prefix="monitor-report-")) / "monitor.html")
    publish_monitor_report(s3_client=backend.clients.s3, bucket=outputs.datalake_bucket, endpoint=outputs.endpoint_name, html=html)


def real_artifact(root: Path) -> Path:
    """A model.tar.gz the container's own train program wrote: `invoke report` loads and scores it."""
    shutil.copytree(REPO / "data", root / "data", ignore=shutil.ignore_patterns("*.out"))
    local = LocalBackend(config=load_config(REPO / "cdktf.json"), root=root, programs=ProcessPrograms(code=REPO / "ml" / "container"))
    return Path(local.train(hyperparameters={}, data=str(root / "data" / "iris.csv")).artifact_uri)


def _report(backend: SageMakerBackend, recorder: CallRecorder, *, version: int, job: TrainingJob, artifact: Path) -> None:
    # Where SageMaker would have put the job's model (moto's jobs write none); not a task's call.
    bucket, key = job.artifact_uri.removeprefix("s3://").split("/", 1)
    boto3.client("s3", region_name=backend.config.region).upload_file(str(artifact), bucket, key)
    with recorder.task("report"):
        publish_report(backend, version=version)


def _transform(backend: SageMakerBackend, recorder: CallRecorder, outputs: StackOutputs, version: int) -> None:
    """The default transform splits the one input object, runs one job over the parts and joins
    their outputs; a second input with a bad record fails a part, whose data log is read."""
    done = backend.transform(version=version)
    assert done.split_parts == 2, "the scenario must cover the split, the job over the parts and the join"
    with pytest.raises(JobFailedError, match="part-00003.csv"):
        backend.transform(version=version, data=f"s3://{outputs.datalake_bucket}/{BAD_KEY}")
    # Calls the transform's convergence and teardown fixes make (issue 9, items 11-13).
    recorder.record("sagemaker", "DescribeTransformJob", {"TransformJobName": done.name})
    recorder.record("sagemaker", "StopTransformJob", {"TransformJobName": done.name})
    # A split or join that fails half-way aborts its multipart upload, in either place it writes.
    for key in (f"{TRANSFORM_SPLITS_PREFIX}/{done.name}/input/part-00001.csv", f"{TRANSFORM_OUTPUT_PREFIX}/{done.name}/iris.csv.out"):
        recorder.record("s3", "AbortMultipartUpload", {"Bucket": outputs.datalake_bucket, "Key": key, "UploadId": "upload-1"})
    # A large split or join uploads in parts (S3 then also wants kms:Decrypt for each part).
    for op in ("CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        recorder.record("s3", op, {"Bucket": outputs.datalake_bucket, "Key": f"{TRANSFORM_OUTPUT_PREFIX}/{done.name}/iris.csv.out"})


def run_every_task(backend: SageMakerBackend, sm: Any, recorder: CallRecorder, outputs: StackOutputs, *, artifact: Path) -> None:
    """The lifecycle as the pipelines and an operator run it, each call under its task's name."""
    endpoint = outputs.endpoint_name
    with recorder.task("build-image"):
        # CodeBuild names the commit (a CODE_ZIP source has no .git); a re-run on the same commit
        # converges (issue 9, item 5): it finds the tag in ECR and re-tags instead of pushing.
        with _environ(SOURCE_VERSION_ENV, COMMIT_SHA):
            image = backend.build_image()
            again = backend.build_image()
        assert again.digest == image.digest
    with recorder.task("train"):
        # A data set under a prefix is sized by listing it before the job (training_volume_size_gb).
        backend.train(image=image.uri, hyperparameters={"max_leaf_nodes": "4"}, data=f"s3://{outputs.datalake_bucket}/iris/input/")
    versions = []
    for _ in range(2):
        with recorder.task("train"):
            job = backend.train(image=image.uri, hyperparameters={"max_leaf_nodes": str(5 + len(versions))})
        with recorder.task("register"):
            versions.append(backend.register(job_name=job.name).version)
        _report(backend, recorder, version=versions[-1], job=job, artifact=artifact)
        with recorder.task("approve"):
            backend.approve(version=versions[-1], status="Approved", note="checked")
        if len(versions) == 1:
            with recorder.task("deploy"):
                backend.deploy_endpoint(endpoint_name=endpoint, version=versions[0])
            with recorder.task("test-endpoint"):
                backend.invoke(endpoint_name=endpoint, body=CSV)
            with recorder.task("monitor"):
                run_monitor(backend, outputs, versions[0])
    with recorder.task("update"):
        backend.deploy_endpoint(endpoint_name=endpoint, version=versions[1])
    with recorder.task("transform"):
        _transform(backend, recorder, outputs, versions[1])
    with recorder.task("rollback"):
        backend.rollback(endpoint_name=endpoint)
    with recorder.task("approve"):
        # A rejected version gives up its image pin; approved again, it pins it again.
        backend.approve(version=versions[1], status="Rejected", note="regressed")
        backend.approve(version=versions[1], status="Approved", note="fixed upstream")
    with recorder.task("teardown"):
        backend.teardown(endpoint_name=endpoint)
        transform_model = f"{backend.config.project_name}-transform-v{versions[1]}"
        arn = f"arn:aws:sagemaker:{backend.config.region}:123456789012:model/{transform_model}"
        recorder.record("sagemaker", "ListTags", {"ResourceArn": arn})
        recorder.record("sagemaker", "DeleteModel", {"ModelName": transform_model})
    with recorder.task("deploy"):
        # A first endpoint that ended Failed is deleted and created again (issue 9, item 11).
        recorder.record("sagemaker", "DeleteEndpoint", {"EndpointName": endpoint})
