"""Batch transform: MultiRecord, line-split CSV, filters from config, output into the data lake."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ml.backends.base import LogSink
from ml.backends.records import TransformJob
from ml.backends.sagemaker import naming
from ml.backends.sagemaker.aws_errors import aws_call, is_not_found
from ml.backends.sagemaker.training import data_version
from ml.backends.sagemaker.waiting import Clock, Deadline, wait_for
from ml.config import ProjectConfig
from ml.errors import JobFailedError
from ml.names import TRANSFORM_WAIT_SECONDS
from ml.tfstate import StackOutputs

# Transform jobs have no time limit of their own; two hours covers iris many times over.
TRANSFORM_DEADLINE = Deadline(seconds=TRANSFORM_WAIT_SECONDS, poll_seconds=30.0)
_ACTIVE = ("InProgress", "Stopping")


def transform_request(
    *, config: ProjectConfig, job_name: str, model_name: str, input_uri: str, output_uri: str, tags: dict[str, str]
) -> dict[str, Any]:
    return {
        "TransformJobName": job_name,
        "ModelName": model_name,
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": config.transform_max_payload_mb,
        "MaxConcurrentTransforms": config.transform_max_concurrent,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": "text/csv",
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": {"S3OutputPath": output_uri, "Accept": "text/csv", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": config.transform_instance_type, "InstanceCount": 1},
        "DataProcessing": {
            "InputFilter": config.transform_input_filter,
            "OutputFilter": config.transform_output_filter,
            "JoinSource": config.transform_join_source,
        },
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
    }


def record(described: dict[str, Any], *, version: int) -> TransformJob:
    return TransformJob(
        name=described["TransformJobName"],
        status=described["TransformJobStatus"],
        version=version,
        input_uri=described["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"],
        output_uri=described["TransformOutput"]["S3OutputPath"],
        created_at=str(described.get("CreationTime", "")),
        ended_at=str(described.get("TransformEndTime", "")),
        failure_reason=str(described.get("FailureReason", "")),
    )


class Transformer:
    def __init__(
        self, *, sagemaker: Any, s3: Any, config: ProjectConfig, outputs: StackOutputs, clock: Clock, on_log: LogSink | None
    ) -> None:
        self._sm, self._s3, self._config, self._outputs, self._clock = sagemaker, s3, config, outputs, clock
        self._log = on_log or (lambda _line: None)

    def _describe(self, name: str) -> dict[str, Any] | None:
        with aws_call(service="sagemaker", action=f"describing transform job {name}"):
            try:
                return dict(self._sm.describe_transform_job(TransformJobName=name))
            except ClientError as err:
                if is_not_found(err):
                    return None
                raise

    def active_models(self) -> set[str]:
        """Models that this project's running transform jobs use; teardown must leave them."""
        prefix = naming.transform_job_prefix(self._config.project_name)
        models: set[str] = set()
        with aws_call(service="sagemaker", action="listing running transform jobs"):
            for status in _ACTIVE:
                pages = self._sm.get_paginator("list_transform_jobs").paginate(StatusEquals=status, NameContains=prefix)
                for page in pages:
                    for summary in page.get("TransformJobSummaries", []):
                        described = self._describe(summary["TransformJobName"])
                        if described is not None:
                            models.add(str(described["ModelName"]))
        return models

    def run(self, *, model_name: str, version: int, input_uri: str, output_uri: str | None) -> TransformJob:
        inputs = [model_name, input_uri, data_version(self._s3, input_uri), output_uri, self._config.transform_input_filter,
                  self._config.transform_output_filter, self._config.transform_join_source]  # fmt: skip
        base = naming.transform_job_base(project=self._config.project_name, version=version, inputs=inputs)
        attempt = 1
        while (existing := self._describe(naming.attempt_name(base, attempt))) is not None:
            if existing["TransformJobStatus"] == "Completed" or existing["TransformJobStatus"] in _ACTIVE:
                self._log(f"transform job {existing['TransformJobName']} already exists ({existing['TransformJobStatus']}); reusing it")
                return self._wait(existing["TransformJobName"], version)
            attempt += 1  # Failed or Stopped: a name cannot be reused
        name = naming.attempt_name(base, attempt)
        destination = output_uri or f"s3://{self._outputs.datalake_bucket}/iris/output/{name}/"
        tags = {"byoc:project": self._config.project_name, "byoc:model-version": str(version)}
        request = transform_request(
            config=self._config, job_name=name, model_name=model_name, input_uri=input_uri, output_uri=destination, tags=tags
        )
        with aws_call(service="sagemaker", action=f"starting transform job {name}"):
            self._sm.create_transform_job(**request)
        self._log(f"started transform job {name} -> {destination}")
        return self._wait(name, version)

    def _wait(self, name: str, version: int) -> TransformJob:
        def describe() -> dict[str, Any]:
            described = self._describe(name)
            if described is None:
                raise JobFailedError(f"transform job {name} disappeared while waiting for it")
            return described

        final = wait_for(
            describe,
            settled=lambda d: d["TransformJobStatus"] not in _ACTIVE,
            status_of=lambda d: str(d["TransformJobStatus"]),
            deadline=TRANSFORM_DEADLINE,
            clock=self._clock,
            what=f"transform job {name}",
        )
        if final["TransformJobStatus"] != "Completed":
            raise JobFailedError(
                f"transform job {name} ended {final['TransformJobStatus']}: {final.get('FailureReason') or 'no reason given'} "
                "(logs: CloudWatch /aws/sagemaker/TransformJobs); fix the cause and re-run `invoke deploy --mode transform`"
            )
        return record(final, version=version)
