"""CreateTrainingJob with a digest-pinned image, managed spot and checkpoints; wait with logs.

boto3, not the sagemaker SDK's Estimator: the request must be exact (spot limits, checkpoint
path, metric regexes, tags carrying lineage) and reviewable, and the Estimator would also upload
source code and add its own hyperparameters, which a bring-your-own container does not want.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from ml.backends.base import LogSink
from ml.backends.records import ImageRecord, Lineage, TrainingJob
from ml.backends.sagemaker import naming
from ml.backends.sagemaker.aws_errors import aws_call, is_not_found
from ml.backends.sagemaker.logs import TRAINING_LOG_GROUP, LogTailer
from ml.backends.sagemaker.s3data import data_size, volume_problem
from ml.backends.sagemaker.waiting import Clock, Deadline, wait_for
from ml.config import ProjectConfig
from ml.errors import JobFailedError, UserInputError
from ml.gitrev import split_commit_tag
from ml.names import TRAINING_DATA_KEY
from ml.tfstate import StackOutputs

# The container prints `train:accuracy=0.9800` and `validation:accuracy=0.9667`.
METRIC_DEFINITIONS = (
    {"Name": "train:accuracy", "Regex": r"train:accuracy=([0-9]+(?:\.[0-9]+)?)"},
    {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9]+(?:\.[0-9]+)?)"},
)
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
DEFAULT_TRAIN_KEY = TRAINING_DATA_KEY
TAG_COMMIT = "byoc:git-commit"
TAG_DATA_VERSION = "byoc:data-version"
TAG_PROJECT = "byoc:project"
_ACTIVE = ("InProgress", "Stopping")


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise UserInputError(f"{uri!r} is not an s3://BUCKET/KEY URI; the sagemaker backend reads S3 (upload a local file first)")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def data_version(s3: Any, uri: str) -> str:
    """The S3 object version of a data file (or ``etag:...`` when the bucket is unversioned).

    SageMaker channels cannot pin an object version, so recording it is how lineage stays exact.
    """
    bucket, key = split_s3_uri(uri)
    if key.endswith("/"):
        return "prefix"
    with aws_call(service="s3", action=f"reading the version of {uri}"):
        head = s3.head_object(Bucket=bucket, Key=key)
    version = head.get("VersionId")
    if version and version != "null":
        return str(version)
    return "etag:" + str(head.get("ETag", "")).strip('"')


def data_versions_tag(versions: Mapping[str, str]) -> str:
    """``training=<version> validation=<version>``: tag values forbid quotes and braces."""
    return " ".join(f"{channel}={version}" for channel, version in sorted(versions.items()))[:256]


def _channel(name: str, uri: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}},
        "ContentType": "text/csv",
        "InputMode": "File",
    }


def training_request(
    *,
    config: ProjectConfig,
    outputs: StackOutputs,
    image: ImageRecord,
    job_name: str,
    hyperparameters: Mapping[str, str],
    train_uri: str,
    validation_uri: str | None,
    tags: Mapping[str, str],
) -> dict[str, Any]:
    """The exact CreateTrainingJob request."""
    stopping: dict[str, int] = {"MaxRuntimeInSeconds": config.training_max_runtime_seconds}
    request: dict[str, Any] = {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": {
            "TrainingImage": image.uri,
            "TrainingInputMode": "File",
            "MetricDefinitions": [dict(m) for m in METRIC_DEFINITIONS],
        },
        "RoleArn": outputs.sagemaker_role_arn,
        "HyperParameters": dict(hyperparameters),
        "InputDataConfig": [_channel("training", train_uri)] + ([_channel("validation", validation_uri)] if validation_uri else []),
        "OutputDataConfig": {"S3OutputPath": f"s3://{outputs.datalake_bucket}/models/"},
        "ResourceConfig": {
            "InstanceType": config.training_instance_type,
            "InstanceCount": 1,
            "VolumeSizeInGB": config.training_volume_size_gb,
        },
        "StoppingCondition": stopping,
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
    }
    if config.training_use_spot:
        # Spot waits for capacity inside MaxWait, so MaxWait must cover the whole runtime too.
        stopping["MaxWaitTimeInSeconds"] = max(config.training_max_wait_seconds, config.training_max_runtime_seconds)
        request["EnableManagedSpotTraining"] = True
        request["CheckpointConfig"] = {
            "S3Uri": f"s3://{outputs.datalake_bucket}/checkpoints/{job_name}/",
            "LocalPath": CHECKPOINT_LOCAL_PATH,
        }
    return request


def training_deadline(config: ProjectConfig) -> Deadline:
    """As long as the job's own limits allow, plus provisioning and upload."""
    # One home with the train CodeBuild project's timeout, which is sized from the same number.
    return Deadline(seconds=config.training_wait_seconds, poll_seconds=30.0)


def record_from_description(job: Mapping[str, Any], tags: Mapping[str, str]) -> TrainingJob:
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job.get("InputDataConfig", [])}
    hyperparameters = {str(k): str(v) for k, v in (job.get("HyperParameters") or {}).items()}
    revision = split_commit_tag(tags.get(TAG_COMMIT, ""))
    return TrainingJob(
        name=job["TrainingJobName"],
        status=job["TrainingJobStatus"],
        created_at=str(job.get("CreationTime", "")),
        ended_at=str(job.get("TrainingEndTime", "")),
        hyperparameters=hyperparameters,
        metrics={m["MetricName"]: float(m["Value"]) for m in job.get("FinalMetricDataList", [])},
        artifact_uri=str(job.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")),
        failure_reason=str(job.get("FailureReason", "")),
        lineage=Lineage(
            git_commit=revision.commit,
            git_dirty=revision.dirty,
            data_uri=channels.get("training", ""),
            data_version=tags.get(TAG_DATA_VERSION, ""),
            image=job.get("AlgorithmSpecification", {}).get("TrainingImage", ""),
            hyperparameters=hyperparameters,
        ),
    )


def failure_message(job: Mapping[str, Any], *, spot: bool) -> str:
    name, status = job["TrainingJobName"], job["TrainingJobStatus"]
    reason = job.get("FailureReason") or "no reason given"
    secondary = job.get("SecondaryStatus", "")
    logs = f"logs: CloudWatch {TRAINING_LOG_GROUP}, streams {name}/*"
    if status == "Failed":
        return f"training job {name} failed: {reason} ({logs}); fix the cause and re-run `invoke train` (it starts a new attempt)"
    cause = f"secondary status {secondary}" if secondary else "no secondary status"
    hint = "re-run `invoke train` to start a new attempt"
    if spot and secondary in ("Interrupted", "MaxWaitTimeExceeded"):
        hint += ", or raise training_max_wait_seconds / set training_use_spot to false in cdktf.json (spot capacity was short)"
    return f"training job {name} was stopped before completing ({cause}; {reason}); {hint}"


class Trainer:
    """Starts or resumes the job for one build and waits for it."""

    def __init__(self, *, sagemaker: Any, s3: Any, logs: Any, config: ProjectConfig, outputs: StackOutputs, clock: Clock) -> None:
        self._sm, self._s3, self._logs = sagemaker, s3, logs
        self._config, self._outputs, self._clock = config, outputs, clock

    def _describe(self, name: str) -> dict[str, Any] | None:
        with aws_call(service="sagemaker", action=f"describing training job {name}"):
            try:
                return dict(self._sm.describe_training_job(TrainingJobName=name))
            except ClientError as err:
                if is_not_found(err):
                    return None
                raise

    def tags(self, job: Mapping[str, Any]) -> dict[str, str]:
        with aws_call(service="sagemaker", action=f"reading tags of {job['TrainingJobName']}"):
            found = self._sm.list_tags(ResourceArn=job["TrainingJobArn"]).get("Tags", [])
        return {t["Key"]: t["Value"] for t in found}

    def run(
        self,
        *,
        image: ImageRecord,
        hyperparameters: Mapping[str, str],
        train_uri: str,
        validation_uri: str | None,
        base_name: str | None,
        on_log: LogSink | None,
    ) -> TrainingJob:
        uris = [train_uri, *([validation_uri] if validation_uri else [])]
        problem = volume_problem(
            data_bytes=sum(data_size(self._s3, bucket=b, key=k) for b, k in map(split_s3_uri, uris)),
            volume_gb=self._config.training_volume_size_gb,
            uris=uris,
        )
        if problem:  # refused before the job exists: it would fail on AWS after provisioning
            raise UserInputError(problem)
        versions = {"training": data_version(self._s3, train_uri)}
        if validation_uri:
            versions["validation"] = data_version(self._s3, validation_uri)
        commit = image.tag or "nocommit"
        resources = [self._config.training_instance_type, self._config.training_volume_size_gb]
        inputs = [image.uri, train_uri, validation_uri, versions, dict(hyperparameters), resources]
        base = base_name or naming.training_job_base(project=self._config.project_name, commit=commit, inputs=inputs)
        job = self._find_or_start(
            base,
            image=image,
            hyperparameters=hyperparameters,
            train_uri=train_uri,
            validation_uri=validation_uri,
            versions=versions,
            commit=commit,
            on_log=on_log,
        )
        return self._wait(job, on_log)

    def _find_or_start(
        self,
        base: str,
        *,
        image: ImageRecord,
        hyperparameters: Mapping[str, str],
        train_uri: str,
        validation_uri: str | None,
        versions: Mapping[str, str],
        commit: str,
        on_log: LogSink | None,
    ) -> dict[str, Any]:
        attempt = 1
        while True:
            name = naming.attempt_name(base, attempt)
            existing = self._describe(name)
            if existing is None:
                break
            status = existing["TrainingJobStatus"]
            if status == "Completed" or status in _ACTIVE:
                if on_log:
                    on_log(f"training job {name} already exists ({status}); reusing it")
                return existing
            attempt += 1  # Failed or Stopped: names cannot be reused, so this is a new attempt
        tags = {TAG_PROJECT: self._config.project_name, TAG_COMMIT: commit[:128], TAG_DATA_VERSION: data_versions_tag(versions)}
        tags.update({k: v for k, v in self._config.tags.items() if not k.startswith("aws:")})
        request = training_request(
            config=self._config,
            outputs=self._outputs,
            image=image,
            job_name=name,
            hyperparameters=hyperparameters,
            train_uri=train_uri,
            validation_uri=validation_uri,
            tags=tags,
        )
        with aws_call(service="sagemaker", action=f"starting training job {name}"):
            self._sm.create_training_job(**request)
        if on_log:
            on_log(f"started training job {name} (image {image.uri})")
        described = self._describe(name)
        assert described is not None, "a job that was just created must be describable"
        return described

    def _wait(self, job: dict[str, Any], on_log: LogSink | None) -> TrainingJob:
        name = job["TrainingJobName"]
        tailer = LogTailer(logs_client=self._logs, group=TRAINING_LOG_GROUP, job_name=name, sink=on_log)
        seen: list[tuple[str, str]] = []

        def progress(described: dict[str, Any]) -> None:
            tailer.poll()
            state = (described["TrainingJobStatus"], described.get("SecondaryStatus", ""))
            if on_log and (not seen or seen[-1] != state):
                on_log(f"training job {name}: {state[0]} / {state[1] or '-'}")
            seen.append(state)

        def describe() -> dict[str, Any]:
            described = self._describe(name)
            if described is None:
                raise JobFailedError(f"training job {name} disappeared while waiting for it")
            return described

        final = wait_for(
            describe,
            settled=lambda d: d["TrainingJobStatus"] not in _ACTIVE,
            status_of=lambda d: str(d["TrainingJobStatus"]),
            deadline=training_deadline(self._config),
            clock=self._clock,
            what=f"training job {name}",
            on_poll=progress,
        )
        if final["TrainingJobStatus"] != "Completed":
            raise JobFailedError(failure_message(final, spot=bool(final.get("EnableManagedSpotTraining"))))
        return record_from_description(final, self.tags(final))
