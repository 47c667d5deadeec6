"""The transform job's lifecycle: record it, start its own serve process, run, record the outcome.

Like SageMaker, a transform job gets its own model server (not the endpoint's), started for the
job and stopped when it ends, whatever the outcome. Its PID is in the job record while it runs,
so ``invoke teardown`` can stop it if this run is killed.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ml.backends.local import procs
from ml.backends.local.clock import now_iso
from ml.backends.local.fleet import Server, start_variant, stop_variant
from ml.backends.local.layout import Layout
from ml.backends.local.programs import Programs
from ml.backends.local.records import ProcessRecord
from ml.backends.local.store import StateStore
from ml.backends.local.transform.client import InvocationsClient
from ml.backends.local.transform.job import Settings, temp_pattern, transform_files
from ml.backends.records import ModelVersion, TransformJob
from ml.errors import JobFailedError, UserInputError

KIND = "transform-jobs"


def input_files(data: Path) -> list[Path]:
    """A CSV file, or every ``*.csv`` in a folder (sorted), like every object under an S3 prefix."""
    if data.is_file():
        return [data]
    if data.is_dir():
        found = sorted(p for p in data.glob("*.csv") if p.is_file())
        if found:
            return found
        raise UserInputError(f"no .csv files in {data}; transform reads CSV files (one record per line)")
    raise UserInputError(f"transform input {data} does not exist; pass a CSV file or folder with --data")


def run_transform_job(
    *,
    store: StateStore,
    layout: Layout,
    programs: Programs,
    version: ModelVersion,
    data: Path,
    output_dir: Path,
    settings: Settings,
    job_name: str,
) -> TransformJob:
    inputs = input_files(data)
    job = TransformJob(
        name=job_name, status="InProgress", version=version.version, input_uri=str(data), output_uri=str(output_dir), created_at=now_iso()
    )
    record = job.to_dict()
    store.put(KIND, job_name, record)
    workers = settings.server_workers or max(1, min(settings.max_concurrent, os.cpu_count() or 1))
    # Per-request INFO lines would cost more than the predictions; the payload cap matches ours.
    server_env = {"SAGEMAKER_MAX_PAYLOAD_IN_MB": str(settings.max_payload_mb), "BYOC_LOG_LEVEL": "WARNING"}

    def remember(process: ProcessRecord) -> None:
        store.put(KIND, job_name, record | {"server": process.to_dict()})

    started = time.monotonic()

    def start() -> tuple[Server, float]:
        server = start_variant(
            programs=programs,
            version=version,
            base_dir=layout.transform_dir(job_name),
            workers=workers,
            on_spawn=remember,
            extra_env=server_env,
        )
        return server, time.monotonic() - started

    # The model server starts (~0.3 s: Python, numpy, the model) while this thread reads and
    # filters the first mini-batches; the requests wait for it in the client's worker threads.
    starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transform-server")
    launching = starter.submit(start)
    try:
        try:
            with InvocationsClient(port=lambda: launching.result()[0].port) as client:
                count = transform_files(inputs=inputs, output_dir=output_dir, client=client, settings=settings, job_name=job_name)
        finally:
            starter.shutdown(wait=True)  # a job that failed early still waits for its server, to stop it
        # Kept in the record so a job's throughput can be told apart from its model server's start-up.
        record |= {"server_start_s": round(launching.result()[1], 3)}
    except BaseException as err:
        store.put(KIND, job_name, record | {"status": "Failed", "ended_at": now_iso(), "failure_reason": str(err)})
        if isinstance(err, JobFailedError):
            raise JobFailedError(f"transform job {job_name} failed: {err}") from err
        raise
    finally:
        if launching.exception() is None:
            stop_variant(launching.result()[0])
    done = record | {"status": "Completed", "records": count, "ended_at": now_iso()}
    store.put(KIND, job_name, done)
    return TransformJob.from_dict(done)


def stop_orphans(store: StateStore, layout: Layout) -> list[str]:
    """Clean up after transform jobs whose run died (their records were recovered as Failed):
    stop their model servers, recorded or not, and delete their half-written temp outputs."""
    lines = []
    for record in store.list(KIND):
        if record.get("status") == "InProgress":
            continue  # a live run's job
        server = ProcessRecord.from_dict(record["server"]) if record.get("server") else None
        if server and procs.stop(server):
            lines.append(f"stopped transform server pid {server.pid} of job {record['name']}")
        stray = procs.stop_under(layout.transform_dir(record["name"]))
        if stray:
            lines.append(f"stopped {len(stray)} unrecorded process(es) of transform job {record['name']}")
        output = Path(record.get("output_uri") or "")
        for temp in output.glob(temp_pattern(record["name"])) if record.get("output_uri") and output.is_dir() else []:
            temp.unlink(missing_ok=True)
            lines.append(f"deleted {temp}, left half-written by transform job {record['name']}")
        if server:
            store.put(KIND, record["name"], {k: v for k, v in record.items() if k != "server"})
    return lines
