"""Batch transform: MultiRecord, line-split CSV, filters from config, output into the data lake.

The job runs on ``transform_instance_count`` instances. A single input object is first split into
``transform_split_objects`` parts so that every instance gets work, and the parts' outputs are
joined back into the one ``<input>.out`` (:mod:`ml.backends.sagemaker.splitjoin`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from ml.backends.base import LogSink
from ml.backends.records import TransformJob
from ml.backends.sagemaker import naming, splitjoin
from ml.backends.sagemaker.aws_errors import aws_call, is_not_found
from ml.backends.sagemaker.s3data import object_size
from ml.backends.sagemaker.training import data_version, split_s3_uri
from ml.backends.sagemaker.waiting import Clock, Deadline, wait_for
from ml.backends.split.cutter import part_count
from ml.config import ProjectConfig
from ml.errors import JobFailedError
from ml.names import TRANSFORM_LOG_GROUP, TRANSFORM_OUTPUT_PREFIX, TRANSFORM_WAIT_SECONDS
from ml.tfstate import StackOutputs

# Transform jobs have no time limit of their own; two hours covers iris many times over.
TRANSFORM_DEADLINE = Deadline(seconds=TRANSFORM_WAIT_SECONDS, poll_seconds=30.0)
_ACTIVE = ("InProgress", "Stopping")
MAX_PARTS_SHOWN = 3  # failed parts a failure message details (the rest are counted)
MAX_LOG_LINES = 5


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
        "TransformResources": {"InstanceType": config.transform_instance_type, "InstanceCount": config.transform_instance_count},
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
        instance_count=int(described.get("TransformResources", {}).get("InstanceCount", 1)),
    )


@dataclass(frozen=True, kw_only=True)
class _Plan:
    """One transform run: what goes in, where it comes out, and whether the input is split first."""

    model_name: str
    version: int
    input_uri: str
    source_version: str
    output_uri: str | None  # the user's; None: the data lake's iris/output/<job>/
    parts: int  # 0: the input goes to the job as it is
    split: splitjoin.Split

    def destination(self, name: str, datalake: str) -> str:
        return self.output_uri or f"s3://{datalake}/{TRANSFORM_OUTPUT_PREFIX}/{name}/"

    def joined(self, name: str, datalake: str) -> tuple[str, str]:
        """Bucket and key of the joined output: ``<destination>/<input name>.out``, as an unsplit job names it."""
        destination = self.destination(name, datalake)
        bucket, prefix = split_s3_uri(destination if destination.endswith("/") else destination + "/")
        return bucket, f"{prefix}{self.input_uri.rsplit('/', 1)[-1]}{splitjoin.OUT}"


class Transformer:
    def __init__(
        self,
        *,
        sagemaker: Any,
        s3: Any,
        logs: Any,
        config: ProjectConfig,
        outputs: StackOutputs,
        clock: Clock,
        on_log: LogSink | None,
    ) -> None:
        self._sm, self._s3, self._logs, self._config, self._outputs, self._clock = sagemaker, s3, logs, config, outputs, clock
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

    def _parts(self, input_uri: str, version: str) -> int:
        """How many parts to split ``input_uri`` into: 0 for a prefix (its objects are spread as
        they are), for ``transform_split_objects`` 0 or 1, or for an input too small to cut."""
        if input_uri.endswith("/") or self._config.split_objects < 2:
            return 0
        bucket, key = split_s3_uri(input_uri)
        parts = part_count(size=object_size(self._s3, bucket=bucket, key=key, version=version), wanted=self._config.split_objects)
        return parts if parts > 1 else 0

    def run(self, *, model_name: str, version: int, input_uri: str, output_uri: str | None) -> TransformJob:
        source_version = data_version(self._s3, input_uri)
        parts = self._parts(input_uri, source_version)
        inputs = [model_name, input_uri, source_version, output_uri, self._config.transform_input_filter,
                  self._config.transform_output_filter, self._config.transform_join_source,
                  self._config.transform_instance_count, parts]  # fmt: skip
        base = naming.transform_job_base(project=self._config.project_name, version=version, inputs=inputs)
        plan = _Plan(
            model_name=model_name, version=version, input_uri=input_uri, source_version=source_version,
            output_uri=output_uri, parts=parts, split=splitjoin.Split(bucket=self._outputs.datalake_bucket, base=base),
        )  # fmt: skip
        attempt = 1
        while (existing := self._describe(naming.attempt_name(base, attempt))) is not None:
            status, name = existing["TransformJobStatus"], existing["TransformJobName"]
            if status in _ACTIVE or (status == "Completed" and (not parts or self._joinable(plan, name))):
                self._log(f"transform job {name} already exists ({status}); reusing it")
                return self._finish(plan, name)
            attempt += 1  # Failed or Stopped (or a split job whose parts are gone): a name cannot be reused
        name = naming.attempt_name(base, attempt)
        self._start(plan, name)
        return self._finish(plan, name)

    def _start(self, plan: _Plan, name: str) -> None:
        """Split the input when the plan says so, then create the job (over the parts, if split)."""
        destination = plan.destination(name, self._outputs.datalake_bucket)
        job_input, job_output = plan.input_uri, destination
        if plan.parts:
            bucket, key = split_s3_uri(plan.input_uri)
            size = object_size(self._s3, bucket=bucket, key=key, version=plan.source_version)
            manifest = splitjoin.split_object(
                self._s3, plan.split, bucket=bucket, key=key, version=plan.source_version, size=size, parts=plan.parts
            )
            self._log(f"split {plan.input_uri} into {len(manifest.parts)} parts under {plan.split.input_uri}")
            job_input, job_output = plan.split.input_uri, f"s3://{plan.split.bucket}/{plan.split.output_prefix(name)}"
        tags = {"byoc:project": self._config.project_name, "byoc:model-version": str(plan.version)}
        request = transform_request(
            config=self._config, job_name=name, model_name=plan.model_name, input_uri=job_input, output_uri=job_output, tags=tags
        )
        with aws_call(service="sagemaker", action=f"starting transform job {name}"):
            self._sm.create_transform_job(**request)
        self._log(f"started transform job {name} on {self._config.transform_instance_count} instance(s) -> {destination}")

    def _joinable(self, plan: _Plan, name: str) -> bool:
        """A completed split job can be reused if its joined output exists, or its parts still do."""
        bucket, key = plan.joined(name, self._outputs.datalake_bucket)
        return _exists(self._s3, bucket, key) or splitjoin.read_manifest(self._s3, plan.split) is not None

    def _finish(self, plan: _Plan, name: str) -> TransformJob:
        """Wait for the job; a split job's parts' outputs are then joined into one and the split deleted."""
        final = self._wait(name, plan.version, plan.split if plan.parts else None)
        if not plan.parts:
            return final
        destination = plan.destination(name, self._outputs.datalake_bucket)
        done = replace(final, input_uri=plan.input_uri, output_uri=destination, split_parts=plan.parts)
        manifest = splitjoin.read_manifest(self._s3, plan.split)
        if manifest is None:  # joined and cleaned up by an earlier run
            return done
        bucket, key = plan.joined(name, self._outputs.datalake_bucket)
        joined = splitjoin.join_outputs(self._s3, plan.split, manifest, name, bucket=bucket, key=key)
        splitjoin.clean_up(self._s3, plan.split, manifest, name)
        self._log(f"joined the {len(manifest.parts)} parts' outputs into {joined}")
        return replace(done, split_parts=len(manifest.parts))

    def _wait(self, name: str, version: int, split: splitjoin.Split | None) -> TransformJob:
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
            detail = self._failed_parts(split, name) if split is not None else ""
            raise JobFailedError(
                f"transform job {name} ended {final['TransformJobStatus']}: {final.get('FailureReason') or 'no reason given'}{detail} "
                f"(logs: CloudWatch {TRANSFORM_LOG_GROUP}, streams {name}/*/data-log); "
                "fix the cause and re-run `invoke deploy --mode transform`"
            )
        return record(final, version=version)

    def _failed_parts(self, split: splitjoin.Split, name: str) -> str:
        """Which parts failed (those with no ``.out``), where they lie in the input, and what the
        job's data log says about them."""
        manifest = splitjoin.read_manifest(self._s3, split)
        if manifest is None:
            return ""
        failed = splitjoin.missing_parts(self._s3, split, manifest, name)
        described = [f"{manifest.parts[k].name} ({manifest.records(k)} of {manifest.source}){self._data_log(name, manifest.parts[k].name)}"
                     for k in failed[:MAX_PARTS_SHOWN]]  # fmt: skip
        more = f" and {len(failed) - MAX_PARTS_SHOWN} more" if len(failed) > MAX_PARTS_SHOWN else ""
        return f"; parts with no output: {'; '.join(described)}{more}" if described else ""

    def _data_log(self, job: str, part: str) -> str:
        """The job's data-log lines naming ``part``: where SageMaker writes what the model answered."""
        with aws_call(service="logs", action=f"reading the data log of transform job {job}"):
            try:
                events = self._logs.filter_log_events(
                    logGroupName=TRANSFORM_LOG_GROUP, logStreamNamePrefix=f"{job}/", filterPattern=f'"{part}"', limit=MAX_LOG_LINES
                ).get("events", [])
            except ClientError as err:
                if is_not_found(err):
                    return ""
                raise
        lines = [str(e["message"]).strip()[:300] for e in events[:MAX_LOG_LINES]]
        return f": {' | '.join(lines)}" if lines else ""


def _exists(s3: Any, bucket: str, key: str) -> bool:
    with aws_call(service="s3", action=f"checking s3://{bucket}/{key}"):
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError as err:
            if is_not_found(err):
                return False
            raise
    return True
