"""SageMaker as the rehearsal needs it, where moto 5.2 falls short: jobs, endpoints, model packages.

**Training and transform jobs.** moto 5.2 reports a job Completed the moment it is created, invents
a ``train:progress`` metric, writes no model artifact and has no StopTrainingJob. Here a job is
InProgress first, then Completed or Failed with a reason when the rehearsal injects that fault. A
transform job really transforms: one model server per instance, the input's objects spread over
them, an ``.out`` per object that succeeded (:mod:`tools.rehearsal.fakes.transform`). A
completed training job really trained: the container's ``train`` program ran on the job's S3 channels and
hyperparameters (as a process from this checkout, the image's code), its model directory was
packed into model.tar.gz at ``ModelArtifacts``, and its metrics were parsed from its own log lines
with the job's ``MetricDefinitions``, as SageMaker does. So what a pipeline does with the model
afterwards (the training report, a deploy's baseline) meets a real artifact.

**Endpoints.** A new endpoint config is invisible to the next CreateEndpoint or UpdateEndpoint
that names it (a ValidationException), as the CreateEndpoint reference warns: that lookup is an
eventually consistent read. Creating → InService/Failed, and UpdateEndpoint, which moto lacks. An update moves
through Updating to InService on the new config, or, when the rehearsal injects
``update-rolled-back`` and the update names auto-rollback alarms, RollingBack → InService on the
old config with a FailureReason, as a blue/green deployment stopped by an alarm does.

**Model packages.** UpdateModelPackage as SageMaker does it: properties not named in the request
are kept. moto 5.2 replaces ``CustomerMetadataProperties`` with the request's (``None`` when
absent), so approving a version would erase its lineage and metrics. SageMaker merges: the
request's keys are set, ``CustomerMetadataPropertiesToRemove`` are removed, the rest stay.
DeleteModelPackageGroup, which moto 5.2 lacks (``terraform destroy`` calls it): "Deletes the
specified model group" (SageMaker API reference), after which it is neither described nor listed.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml.backends.local.artifacts import pack_model
from ml.backends.local.programs import ProcessPrograms
from ml.backends.local.training import stage_job_dir
from ml.errors import ByocError
from tools.rehearsal.fakes.motoapp import ACCOUNT, MotoApp, Reply, error_reply, json_reply
from tools.rehearsal.fakes.progress import Progress, transitional
from tools.rehearsal.fakes.transform import run_transform
from tools.rehearsal.faults import REASONS, Fault

CONTAINER_CODE = Path(__file__).resolve().parents[3] / "ml" / "container"
TRAIN_TIMEOUT_S = 300


def parse_metrics(definitions: list[Mapping[str, str]], lines: tuple[str, ...]) -> list[dict[str, Any]]:
    """``FinalMetricDataList`` from log lines: the last match of each definition's regex."""
    found: list[dict[str, Any]] = []
    for definition in definitions:
        pattern = re.compile(definition["Regex"])
        values = [float(m.group(1)) for line in lines if (m := pattern.search(line))]
        if values:
            found.append({"MetricName": definition["Name"], "Value": values[-1], "Timestamp": datetime.now(UTC).timestamp()})
    return found


def train_for_real(*, channels: Mapping[str, list[tuple[str, bytes]]], hyperparameters: Mapping[str, str]) -> tuple[bytes, list[str]]:
    """Run the container's ``train`` on these channel files; the packed model and the job's log lines."""
    with tempfile.TemporaryDirectory(prefix="rehearsal-training-") as tmp:
        work = Path(tmp)
        files: dict[str, list[Path]] = {}
        for channel, objects in channels.items():
            for name, body in objects:
                path = work / "s3" / channel / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(body)
                files.setdefault(channel, []).append(path)
        job_dir = work / "job"
        stage_job_dir(job_dir, files, hyperparameters, copy=True)
        launch = ProcessPrograms(code=CONTAINER_CODE).train(base_dir=job_dir)
        done = subprocess.run(launch.argv, env=launch.env, capture_output=True, text=True, timeout=TRAIN_TIMEOUT_S, check=False)
        lines = (done.stdout + done.stderr).splitlines()
        if done.returncode != 0:
            raise RuntimeError(f"the training container exited {done.returncode}: {' | '.join(lines[-5:])}")
        pack_model(job_dir / "model", work / "model.tar.gz")
        return (work / "model.tar.gz").read_bytes(), lines


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
        self.transform_instances: dict[str, tuple[tuple[str, ...], ...]] = {}  # each job's keys per instance
        self._requests: dict[str, Mapping[str, Any]] = {}
        self._logs: dict[str, list[str]] = {}  # each completed job's log lines (its metrics come from them)
        self._failed: dict[str, str] = {}  # jobs whose program (train, or a transform's model) failed: their FailureReason
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
        request = self._requests[name]
        channels = {}
        for channel in request.get("InputDataConfig", []):
            data_bucket, prefix = split_s3(channel["DataSource"]["S3DataSource"]["S3Uri"])
            keys = self._moto.list_keys(bucket=data_bucket, prefix=prefix)
            channels[channel["ChannelName"]] = [(k.rsplit("/", 1)[-1], self._moto.get_object(bucket=data_bucket, key=k)) for k in keys]
        try:
            model, self._logs[name] = train_for_real(channels=channels, hyperparameters=request.get("HyperParameters") or {})
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            # As SageMaker does: the job ends Failed with what the container said, and no artifact.
            self._failed[name] = f"AlgorithmError: {err}"[:1024]
            return
        bucket, key = split_s3(described["ModelArtifacts"]["S3ModelArtifacts"])
        put = self._moto.put_object(bucket=bucket, key=key, body=model, content_type="application/x-gzip")
        if not put.ok:
            raise RuntimeError(f"the fake could not write the model artifact s3://{bucket}/{key}: {put.body[:200]!r}")

    def _DescribeTrainingJob(self, request: Mapping[str, Any]) -> Reply:
        reply = self._moto.json_call("sagemaker", "DescribeTrainingJob", request)
        progress = self._training.get(request.get("TrainingJobName", ""))
        if not reply.ok or progress is None:
            return reply
        described = reply.json()
        overlay = progress.advance()
        name = described["TrainingJobName"]
        if overlay["TrainingJobStatus"] == "Completed" and name in self._failed:
            overlay = {"TrainingJobStatus": "Failed", "SecondaryStatus": "Failed", "FailureReason": self._failed[name]}
        described.update(overlay)
        status = overlay["TrainingJobStatus"]
        if status != "Completed":
            for key in ("ModelArtifacts", "FinalMetricDataList", "TrainingEndTime"):
                described.pop(key, None)
        else:
            # moto drops MetricDefinitions from the description; the create request has them.
            request_spec = self._requests.get(described["TrainingJobName"], {}).get("AlgorithmSpecification", {})
            definitions = request_spec.get("MetricDefinitions") or []
            described["FinalMetricDataList"] = parse_metrics(definitions, tuple(self._logs.get(described["TrainingJobName"], ())))
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
            name = request["TransformJobName"]
            steps: list[dict[str, Any]] = transitional("TransformJobStatus", "InProgress", self._in_flight)
            if self.fault == "transform-failed":
                steps.append({"TransformJobStatus": "Failed", "FailureReason": REASONS["transform-failed"]})
                self._transform[name] = Progress(steps=steps)
            else:
                steps.append({"TransformJobStatus": "Completed"})
                self._transform[name] = Progress(steps=steps, on_settle=lambda: self._run_transform(name, request))
        return reply

    def _run_transform(self, name: str, request: Mapping[str, Any]) -> None:
        """The job really runs (tools/rehearsal/fakes/transform.py): real model servers, one per instance."""
        try:
            ran = run_transform(self._moto, request)
            self.transform_instances[name] = ran.instances
            reason = ran.reason
        except (ByocError, RuntimeError, OSError) as err:
            reason = f"InternalServerError: the rehearsal could not run the job: {err}"
        if reason:
            self._failed[name] = reason[:1024]

    def _DescribeTransformJob(self, request: Mapping[str, Any]) -> Reply:
        reply = self._moto.json_call("sagemaker", "DescribeTransformJob", request)
        progress = self._transform.get(request.get("TransformJobName", ""))
        if not reply.ok or progress is None:
            return reply
        described = reply.json()
        overlay = progress.advance()
        if overlay["TransformJobStatus"] == "Completed" and described["TransformJobName"] in self._failed:
            overlay = {"TransformJobStatus": "Failed", "FailureReason": self._failed[described["TransformJobName"]]}
        described.update(overlay)
        if overlay["TransformJobStatus"] != "Completed":
            described.pop("TransformEndTime", None)
        return json_reply(described)


STATUS = "EndpointStatus"


class EndpointsFake:
    OPERATIONS = frozenset({"CreateEndpointConfig", "CreateEndpoint", "DescribeEndpoint", "UpdateEndpoint", "DeleteEndpoint"})

    def __init__(self, *, moto: MotoApp, fault: Fault | None, in_flight: int = 1, config_lag: int = 1) -> None:
        self._moto, self.fault, self._in_flight = moto, fault, in_flight  # fault: set per stage
        self._config_lag = config_lag
        self._endpoints: dict[str, Progress] = {}
        self._invisible: dict[str, int] = {}  # config -> Create/UpdateEndpoint calls that still miss it
        self._lock = threading.Lock()

    def handle(self, operation: str, request: Mapping[str, Any]) -> Reply:
        with self._lock:
            return getattr(self, f"_{operation}")(request)  # type: ignore[no-any-return]

    def _CreateEndpointConfig(self, request: Mapping[str, Any]) -> Reply:
        reply = self._moto.json_call("sagemaker", "CreateEndpointConfig", request)
        if reply.ok:
            self._invisible[request["EndpointConfigName"]] = self._config_lag
        return reply

    def _not_yet_visible(self, config: str) -> Reply | None:
        if self._invisible.get(config, 0) <= 0:
            return None
        self._invisible[config] -= 1
        arn = f"arn:aws:sagemaker:{self._moto.region}:{ACCOUNT}:endpoint-config/{config}"
        return error_reply(status=400, code="ValidationException", message=f'Could not find endpoint configuration "{arn}".')

    def _CreateEndpoint(self, request: Mapping[str, Any]) -> Reply:
        missing = self._not_yet_visible(request.get("EndpointConfigName", ""))
        if missing is not None:
            return missing
        reply = self._moto.json_call("sagemaker", "CreateEndpoint", request)
        if reply.ok:
            config = request["EndpointConfigName"]
            steps: list[dict[str, Any]] = transitional(STATUS, "Creating", self._in_flight, EndpointConfigName=config)
            if self.fault == "endpoint-failed":
                steps.append({STATUS: "Failed", "EndpointConfigName": config, "FailureReason": REASONS["endpoint-failed"]})
            else:
                steps.append({STATUS: "InService", "EndpointConfigName": config})
            self._endpoints[request["EndpointName"]] = Progress(steps=steps)
        return reply

    def _DescribeEndpoint(self, request: Mapping[str, Any]) -> Reply:
        reply = self._moto.json_call("sagemaker", "DescribeEndpoint", request)
        state = self._endpoints.get(request.get("EndpointName", ""))
        if not reply.ok or state is None:
            return reply
        described = reply.json()
        described.update(state.advance())
        return json_reply(described)

    def _UpdateEndpoint(self, request: Mapping[str, Any]) -> Reply:
        name, new = request.get("EndpointName", ""), request.get("EndpointConfigName", "")
        existing = self._moto.json_call("sagemaker", "DescribeEndpoint", {"EndpointName": name})
        if not existing.ok:
            return existing
        config = self._moto.json_call("sagemaker", "DescribeEndpointConfig", {"EndpointConfigName": new})
        if not config.ok:
            return error_reply(status=400, code="ValidationException", message=f'Could not find endpoint configuration "{new}".')
        state = self._endpoints.get(name)
        current = dict(state.current()) if state else {STATUS: "InService", "EndpointConfigName": existing.json()["EndpointConfigName"]}
        if current[STATUS] != "InService":
            return error_reply(
                status=400,
                code="ValidationException",
                message=f'Cannot update endpoint "{name}" because its status is {current[STATUS]}; it must be InService.',
            )
        missing = self._not_yet_visible(new)
        if missing is not None:
            return missing
        old = str(current["EndpointConfigName"])
        now = datetime.now(UTC).timestamp()
        steps: list[dict[str, Any]] = transitional(STATUS, "Updating", self._in_flight, EndpointConfigName=old, LastModifiedTime=now)
        alarms = [a["AlarmName"] for a in request.get("DeploymentConfig", {}).get("AutoRollbackConfiguration", {}).get("Alarms", [])]
        if self.fault == "update-rolled-back" and alarms:
            reason = REASONS["update-rolled-back"].format(alarm=alarms[0])
            steps.append({STATUS: "RollingBack", "EndpointConfigName": old, "FailureReason": reason, "LastModifiedTime": now})
            steps.append({STATUS: "InService", "EndpointConfigName": old, "FailureReason": reason, "LastModifiedTime": now})
        else:
            steps.append({STATUS: "InService", "EndpointConfigName": new, "LastModifiedTime": now})
        self._endpoints[name] = Progress(steps=steps)
        return json_reply({"EndpointArn": existing.json()["EndpointArn"]})

    def _DeleteEndpoint(self, request: Mapping[str, Any]) -> Reply:
        reply = self._moto.json_call("sagemaker", "DeleteEndpoint", request)
        if reply.ok:
            self._endpoints.pop(request.get("EndpointName", ""), None)
        return reply


class ModelPackagesFake:
    OPERATIONS = frozenset({"UpdateModelPackage", "DeleteModelPackageGroup"})

    def __init__(self, *, moto: MotoApp) -> None:
        self._moto = moto
        self._lock = threading.Lock()

    def handle(self, operation: str, request: Mapping[str, Any]) -> Reply:
        with self._lock:
            if operation == "DeleteModelPackageGroup":
                return self._delete_group(str(request.get("ModelPackageGroupName", "")))
            before = self._moto.json_call("sagemaker", "DescribeModelPackage", {"ModelPackageName": request.get("ModelPackageArn", "")})
            if not before.ok:
                return before
            merged = dict(before.json().get("CustomerMetadataProperties") or {})
            merged.update(request.get("CustomerMetadataProperties") or {})
            for key in request.get("CustomerMetadataPropertiesToRemove") or []:
                merged.pop(key, None)
            forwarded = {k: v for k, v in request.items() if k != "CustomerMetadataPropertiesToRemove"}
            if merged:
                forwarded["CustomerMetadataProperties"] = merged
            return self._moto.json_call("sagemaker", "UpdateModelPackage", forwarded)

    def _delete_group(self, name: str) -> Reply:
        """The group leaves moto's store; an unknown one is DescribeModelPackageGroup's ValidationException."""
        from moto.sagemaker.models import sagemaker_backends

        known = self._moto.json_call("sagemaker", "DescribeModelPackageGroup", {"ModelPackageGroupName": name})
        if not known.ok:
            return known
        sagemaker_backends[ACCOUNT][self._moto.region].model_package_groups.pop(name.rsplit("/", 1)[-1], None)
        return json_reply({})
