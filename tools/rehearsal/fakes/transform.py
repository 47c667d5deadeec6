"""A batch transform job run for real, the way SageMaker runs one: a model server per instance.

moto 5.2 completes a transform job the moment it is created and writes nothing. Here, when the
job settles, it runs: the model's artifact (its ``ModelDataUrl``) is served by the container's own
``serve`` program (from this checkout: the image's code), one server per ``InstanceCount``;
"Batch Transform partitions the Amazon S3 objects in the input by key and maps Amazon S3 objects
to instances" (guide, "Batch transform for inference"), so the objects under ``S3Uri`` are spread
over the instances as :func:`ml.backends.split.spread.spread` maps them, and each instance works
through its own, with the job's ``MaxPayloadInMB``, ``MaxConcurrentTransforms`` and
``DataProcessing``, through the same MultiRecord client the local backend uses.

Outputs as AWS documents them (TransformOutput.S3OutputPath): each object's results go to
``<S3OutputPath>/<name>.out``; "it creates an .out file only if the transform job succeeds on the
entire file"; with several objects "a transform job continues to process input files even if it
fails to process one" and then "marks the job as failed" (batch transform troubleshooting). The
job's data log (stream ``<job>/<instance>/data-log``, as AWS names it) gets one line per failed
object, naming it and what the model answered; AWS does not document those lines' wording.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.backends.local.fleet import Server, start_variant, stop_variant
from ml.backends.local.programs import ProcessPrograms
from ml.backends.local.transform import filters
from ml.backends.local.transform.client import InvocationsClient
from ml.backends.local.transform.job import InputObject, Settings, transform_objects
from ml.backends.records import ModelVersion
from ml.backends.split.spread import spread
from ml.errors import ByocError
from tools.rehearsal.fakes.motoapp import MotoApp

CONTAINER_CODE = Path(__file__).resolve().parents[3] / "ml" / "container"
LOG_GROUP = "/aws/sagemaker/TransformJobs"


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@dataclass(frozen=True, kw_only=True)
class TransformRun:
    reason: str  # the job's FailureReason; "" when every object succeeded
    instances: tuple[tuple[str, ...], ...]  # the keys each instance transformed, in order


def run_transform(moto: MotoApp, request: Mapping[str, Any]) -> TransformRun:
    """Run the job ``request`` created: its objects over its instances, each output into S3."""
    with tempfile.TemporaryDirectory(prefix="rehearsal-transform-") as tmp:
        work = Path(tmp)
        version = _model(moto, str(request["ModelName"]), work)
        bucket, prefix = split_s3(request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"])
        keys = sorted(k for k in moto.list_keys(bucket=bucket, prefix=prefix) if not k.endswith("/"))
        instances = int(request["TransformResources"]["InstanceCount"])
        settings = _settings(request, instances)
        failures: dict[str, str] = {}
        lock = threading.Lock()

        def instance(number: int, run: list[str]) -> None:
            server = start_variant(
                programs=ProcessPrograms(code=CONTAINER_CODE),
                version=version,
                base_dir=work / f"instance-{number}",
                workers=1,
                extra_env={"SAGEMAKER_MAX_PAYLOAD_IN_MB": str(settings.max_payload_mb), "BYOC_LOG_LEVEL": "WARNING"},
            )
            try:
                for key in run:
                    problem = _one_object(moto, server, request, settings, work=work / f"instance-{number}", bucket=bucket, key=key)
                    if problem:
                        with lock:
                            failures[key] = problem
            finally:
                stop_variant(server, kill=True)

        runs = spread(keys, instances=instances)
        with ThreadPoolExecutor(max_workers=instances, thread_name_prefix="rehearsal-instance") as pool:
            for future in [pool.submit(instance, k + 1, run) for k, run in enumerate(runs)]:
                future.result()
    assignment = tuple(tuple(run) for run in runs)
    if not failures:
        return TransformRun(reason="", instances=assignment)
    _data_log(moto, str(request["TransformJobName"]), {f"s3://{bucket}/{k}": v for k, v in sorted(failures.items())})
    reason = f"ClientError: {len(failures)} of {len(keys)} input objects could not be transformed; see the job's data log"
    return TransformRun(reason=reason, instances=assignment)


def _model(moto: MotoApp, name: str, work: Path) -> ModelVersion:
    """The model's artifact, downloaded from its ModelDataUrl, as a version the local fleet serves."""
    described = moto.json_call("sagemaker", "DescribeModel", {"ModelName": name}).json()
    bucket, key = split_s3(described["PrimaryContainer"]["ModelDataUrl"])
    archive = work / "model.tar.gz"
    archive.write_bytes(moto.get_object(bucket=bucket, key=key))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    return ModelVersion(group="rehearsal", version=1, approval_status="Approved", artifact_uri=str(archive), artifact_sha256=digest)


def _settings(request: Mapping[str, Any], instances: int) -> Settings:
    processing = request.get("DataProcessing", {})
    return Settings(
        max_payload_mb=int(request.get("MaxPayloadInMB", 6)),
        max_concurrent=max(1, int(request.get("MaxConcurrentTransforms", 1))),
        input_filter=filters.parse_selector(processing.get("InputFilter", "$")),
        output_filter=filters.parse_selector(processing.get("OutputFilter", "$")),
        join_input=processing.get("JoinSource") == "Input",
        server_workers=1,
        instances=instances,
    )


def _one_object(moto: MotoApp, server: Server, request: Mapping[str, Any], settings: Settings, *, work: Path, bucket: str, key: str) -> str:
    """Transform one object into its ``.out``; what the model said when it refused a record, else ``""``."""
    name = key.rsplit("/", 1)[-1]
    source, output = work / "input" / name, work / "output" / f"{name}.out"
    source.parent.mkdir(parents=True, exist_ok=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(moto.get_object(bucket=bucket, key=key))
    try:
        with InvocationsClient(port=server.port) as client:
            transform_objects(
                [InputObject(name=name, path=source, output=output)], client=client, settings=settings, stop=threading.Event()
            )
    except ByocError as err:
        return str(err)
    out_bucket, out_prefix = split_s3(request["TransformOutput"]["S3OutputPath"])
    put = moto.put_object(bucket=out_bucket, key=f"{out_prefix.rstrip('/')}/{name}.out", body=output.read_bytes())
    if not put.ok:
        raise RuntimeError(f"the fake could not write the output of {key}: {put.body[:200]!r}")
    return ""


def _data_log(moto: MotoApp, job: str, failures: Mapping[str, str]) -> None:
    stream = f"{job}/i-0123456789abcdef0-{int(time.time())}/data-log"
    moto.json_call("logs", "CreateLogGroup", {"logGroupName": LOG_GROUP})  # an existing group: moto refuses, harmlessly
    moto.json_call("logs", "CreateLogStream", {"logGroupName": LOG_GROUP, "logStreamName": stream})
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": f"{uri}: {problem}"} for uri, problem in failures.items()]
    moto.json_call("logs", "PutLogEvents", {"logGroupName": LOG_GROUP, "logStreamName": stream, "logEvents": events})
