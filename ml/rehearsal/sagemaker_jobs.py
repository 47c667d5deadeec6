"""Training and transform jobs as SageMaker runs them, over moto's instant ``Completed``.

moto 5.2 reports a job Completed the moment it is created, invents a ``train:progress`` metric,
writes no model artifact and has no StopTrainingJob. Here a job is InProgress first, then
Completed (model.tar.gz put at ``ModelArtifacts``, metrics parsed from the job's log lines with
the job's own ``MetricDefinitions``, as SageMaker does) or Failed with a reason when the
rehearsal injects that fault.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ml.rehearsal.faults import REASONS, Fault
from ml.rehearsal.motoapp import MotoApp, Reply, error_reply, json_reply
from ml.rehearsal.progress import Progress, transitional

# What the fake "container" printed: the lines SageMaker's metric regexes run over. No container
# runs, so the values are the fake's own, and the model artifact says so.
FAKE_LOG_LINES = ("train:accuracy=0.9733", "validation:accuracy=0.9667")
ARTIFACT_NOTE = b"model artifact written by the rehearsal's fake SageMaker: no training container ran\n"


def parse_metrics(definitions: list[Mapping[str, str]], lines: tuple[str, ...]) -> list[dict[str, Any]]:
    """``FinalMetricDataList`` from log lines: the last match of each definition's regex."""
    found: list[dict[str, Any]] = []
    for definition in definitions:
        pattern = re.compile(definition["Regex"])
        values = [float(m.group(1)) for line in lines if (m := pattern.search(line))]
        if values:
            found.append({"MetricName": definition["Name"], "Value": values[-1], "Timestamp": datetime.now(UTC).timestamp()})
    return found


def model_tarball() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("REHEARSAL-FAKE-MODEL.txt")
        info.size = len(ARTIFACT_NOTE)
        tar.addfile(info, io.BytesIO(ARTIFACT_NOTE))
    return gzip.compress(raw.getvalue(), mtime=0)


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class JobsFake:
    """Intercepts Create/Describe/Stop of training and transform jobs; moto keeps the records."""

    OPERATIONS = frozenset({"CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob", "CreateTransformJob", "DescribeTransformJob"})

    def __init__(self, *, moto: MotoApp, fault: Fault | None, in_flight: int = 1) -> None:
        self._moto, self.fault, self._in_flight = moto, fault, in_flight  # fault: set per stage
        self._training: dict[str, Progress] = {}
        self._transform: dict[str, Progress] = {}
        self._requests: dict[str, Mapping[str, Any]] = {}
        self._lock = threading.Lock()

    def handle(self, operation: str, request: Mapping[str, Any]) -> Reply:
        with self._lock:
            return getattr(self, f"_{operation}")(request)  # type: ignore[no-any-return]

    # -- training ------------------------------------------------------------------------
    def _CreateTrainingJob(self, request: Mapping[str, Any]) -> Reply:
        reply = self._moto.json_call("sagemaker", "CreateTrainingJob", request)
        if reply.ok:
            name = request["TrainingJobName"]
            self._requests[name] = request
            steps = transitional("TrainingJobStatus", "InProgress", self._in_flight, SecondaryStatus="Training")
            if self.fault == "training-failed":
                final = {"TrainingJobStatus": "Failed", "SecondaryStatus": "Failed", "FailureReason": REASONS["training-failed"]}
                self._training[name] = Progress(steps=[*steps, final])
            else:
                final = {"TrainingJobStatus": "Completed", "SecondaryStatus": "Completed"}
                self._training[name] = Progress(steps=[*steps, final], on_settle=lambda: self._write_artifact(name))
        return reply

    def _write_artifact(self, name: str) -> None:
        described = self._moto.json_call("sagemaker", "DescribeTrainingJob", {"TrainingJobName": name}).json()
        bucket, key = split_s3(described["ModelArtifacts"]["S3ModelArtifacts"])
        put = self._moto.put_object(bucket=bucket, key=key, body=model_tarball(), content_type="application/x-gzip")
        if not put.ok:
            raise RuntimeError(f"the fake could not write the model artifact s3://{bucket}/{key}: {put.body[:200]!r}")

    def _DescribeTrainingJob(self, request: Mapping[str, Any]) -> Reply:
        reply = self._moto.json_call("sagemaker", "DescribeTrainingJob", request)
        progress = self._training.get(request.get("TrainingJobName", ""))
        if not reply.ok or progress is None:
            return reply
        described = reply.json()
        overlay = progress.advance()
        described.update(overlay)
        status = overlay["TrainingJobStatus"]
        if status != "Completed":
            for key in ("ModelArtifacts", "FinalMetricDataList", "TrainingEndTime"):
                described.pop(key, None)
        else:
            # moto drops MetricDefinitions from the description; the create request has them.
            request_spec = self._requests.get(described["TrainingJobName"], {}).get("AlgorithmSpecification", {})
            definitions = request_spec.get("MetricDefinitions") or []
            described["FinalMetricDataList"] = parse_metrics(definitions, FAKE_LOG_LINES)
        return json_reply(described)

    def _StopTrainingJob(self, request: Mapping[str, Any]) -> Reply:
        name = request.get("TrainingJobName", "")
        existing = self._moto.json_call("sagemaker", "DescribeTrainingJob", {"TrainingJobName": name})
        if not existing.ok:
            return existing
        progress = self._training.get(name)
        status = progress.current()["TrainingJobStatus"] if progress is not None else "Completed"
        if status != "InProgress":
            return error_reply(
                status=400, code="ValidationException", message=f"The job status is {status}; only an InProgress job can be stopped."
            )
        stopped = {"TrainingJobStatus": "Stopped", "SecondaryStatus": "Stopped"}
        self._training[name] = Progress(steps=[{"TrainingJobStatus": "Stopping", "SecondaryStatus": "Stopping"}, stopped])
        return json_reply({})

    # -- transform -----------------------------------------------------------------------
    def _CreateTransformJob(self, request: Mapping[str, Any]) -> Reply:
        reply = self._moto.json_call("sagemaker", "CreateTransformJob", request)
        if reply.ok:
            steps: list[dict[str, Any]] = transitional("TransformJobStatus", "InProgress", self._in_flight)
            if self.fault == "transform-failed":
                steps.append({"TransformJobStatus": "Failed", "FailureReason": REASONS["transform-failed"]})
            else:
                steps.append({"TransformJobStatus": "Completed"})
            self._transform[request["TransformJobName"]] = Progress(steps=steps)
        return reply

    def _DescribeTransformJob(self, request: Mapping[str, Any]) -> Reply:
        reply = self._moto.json_call("sagemaker", "DescribeTransformJob", request)
        progress = self._transform.get(request.get("TransformJobName", ""))
        if not reply.ok or progress is None:
            return reply
        described = reply.json()
        overlay = progress.advance()
        described.update(overlay)
        if overlay["TransformJobStatus"] != "Completed":
            described.pop("TransformEndTime", None)
        return json_reply(described)
