"""The transform job's lifecycle: record it, start its own model servers, run, record the outcome.

Like SageMaker, a transform job gets its own model servers (not the endpoint's), one per
instance, started for the job and stopped when it ends, whatever the outcome. The input's objects
(files, or the parts of a split file) are spread over the instances as SageMaker spreads S3
objects (:mod:`ml.backends.split.spread`), and each instance works through its own in order.
The servers' PIDs are in the job record while it runs, so ``invoke teardown`` can stop them if
this run is killed.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ml.backends.local import procs
from ml.backends.local.clock import now_iso
from ml.backends.local.fleet import Server, start_variant, stop_variant
from ml.backends.local.layout import Layout
from ml.backends.local.programs import Programs
from ml.backends.local.records import ProcessRecord
from ml.backends.local.store import StateStore
from ml.backends.local.transform import parts
from ml.backends.local.transform.client import InvocationsClient
from ml.backends.local.transform.job import InputObject, Settings, Stopped, transform_objects
from ml.backends.records import ModelVersion, TransformJob
from ml.backends.split.contract import InputContract
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


def server_workers(settings: Settings) -> int:
    """Workers per model server: the cores the client leaves, shared out over the instances (they
    share this machine, where SageMaker gives each its own), at most one per request in flight.

    The client keeps a core busy (reading, the input filter, the join), so on 2 cores one worker
    serves as fast as two (docs/benchmarks/transform.md: 3.33 against 3.43 s at 10M rows), starts
    sooner (one interpreter importing numpy, not two beside the client's) and costs less memory.
    """
    if settings.server_workers:
        return settings.server_workers
    spare = max(1, (os.cpu_count() or 1) - 1)
    return max(1, min(settings.max_concurrent, spare // settings.instances))


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
    inputs = input_files(data)  # before any record or process: a bad input is refused untouched
    planning = time.monotonic()
    plan = parts.plan(
        inputs, single_file=data.is_file(), parts=settings.split_parts, output_dir=output_dir, contract=InputContract.current()
    )
    assigned = parts.assign(plan, instances=settings.instances, job_name=job_name)
    job = TransformJob(
        name=job_name,
        status="InProgress",
        version=version.version,
        input_uri=str(data),
        output_uri=str(output_dir),
        created_at=now_iso(),
        instance_count=settings.instances,
        split_parts=len(plan.objects) if plan.split else 0,
    )
    # The split's and the join's cost are kept in the record, as the servers' start-up is, and which
    # instance runs which object. Each put is an fsync'd write: the record is written when it must be.
    which = [[item.part or item.name for item in run] for run in assigned.runs]
    record = job.to_dict() | {"split_s": round(time.monotonic() - planning, 3), "instance_objects": which}
    store.put(KIND, job_name, record)
    output_dir.mkdir(parents=True, exist_ok=True)
    fleet = _Fleet(store=store, record=record, job_name=job_name)
    try:
        try:
            count = _run(assigned, fleet=fleet, layout=layout, programs=programs, version=version, settings=settings, job_name=job_name)
            joining = time.monotonic()
            parts.commit(assigned.outputs)
            joined_s = round(time.monotonic() - joining, 3)
        finally:
            parts.discard(assigned.outputs)
            fleet.stop()
    except BaseException as err:
        store.put(KIND, job_name, fleet.record | {"status": "Failed", "ended_at": now_iso(), "failure_reason": str(err)})
        if isinstance(err, JobFailedError):
            raise JobFailedError(f"transform job {job_name} failed: {err}") from err
        raise
    done = fleet.record | {"status": "Completed", "records": count, "ended_at": now_iso(), "join_s": joined_s}
    store.put(KIND, job_name, done)
    return TransformJob.from_dict(done)


class _Fleet:
    """The job's model servers: started in the background, each recorded as soon as it is spawned."""

    def __init__(self, *, store: StateStore, record: dict[str, Any], job_name: str) -> None:
        self._store, self.record, self._job = store, record, job_name
        self._lock = threading.Lock()
        self._starter: ThreadPoolExecutor | None = None
        self.launching: list[Future[tuple[Server, float]]] = []

    def start(self, count: int, start: Any) -> None:
        self._starter = ThreadPoolExecutor(max_workers=count, thread_name_prefix="transform-server")
        self.launching = [self._starter.submit(start, k) for k in range(count)]

    def remember(self, process: ProcessRecord) -> None:
        with self._lock:
            servers = [*self.record.get("servers", []), process.to_dict()]
            self.record = self.record | {"servers": servers}
            self._store.put(KIND, self._job, self.record)

    def port(self, k: int) -> int:
        return self.launching[k].result()[0].port

    def stop(self) -> None:
        if self._starter is not None:
            self._starter.shutdown(wait=True)  # a job that failed early still waits for its servers, to stop them
        for launching in self.launching:
            if launching.exception() is None:
                stop_variant(launching.result()[0], kill=True)  # nothing left to answer
        if self.launching and all(f.exception() is None for f in self.launching):
            # Kept in the record so a job's throughput can be told apart from its servers' start-up.
            self.record = self.record | {"server_start_s": round(max(f.result()[1] for f in self.launching), 3)}


def _run(
    assigned: parts.Assignment,
    *,
    fleet: _Fleet,
    layout: Layout,
    programs: Programs,
    version: ModelVersion,
    settings: Settings,
    job_name: str,
) -> int:
    started = time.monotonic()
    workers = server_workers(settings)
    # Per-request INFO lines would cost more than the predictions; the payload cap matches ours.
    server_env = {"SAGEMAKER_MAX_PAYLOAD_IN_MB": str(settings.max_payload_mb), "BYOC_LOG_LEVEL": "WARNING"}

    def start(k: int) -> tuple[Server, float]:
        base = layout.transform_dir(job_name) / f"instance-{k + 1}"
        server = start_variant(
            programs=programs, version=version, base_dir=base, workers=workers, on_spawn=fleet.remember, extra_env=server_env
        )
        return server, time.monotonic() - started

    # The model servers start (~0.3 s: Python, numpy, the model) while the instances read and
    # filter their first mini-batches; the requests wait for them in the clients' threads.
    fleet.start(settings.instances, start)
    runs = assigned.runs
    stop = threading.Event()

    def instance(k: int, objects: tuple[InputObject, ...]) -> int:
        try:
            with InvocationsClient(port=lambda: fleet.port(k)) as client:
                return transform_objects(objects, client=client, settings=settings, stop=stop)
        except BaseException:
            stop.set()  # the job fails: the other instances stop at their next mini-batch
            raise

    if settings.instances == 1:
        return instance(0, runs[0])  # in this thread: no hand-off for the common case
    with ThreadPoolExecutor(max_workers=settings.instances, thread_name_prefix="transform-instance") as pool:
        futures = [pool.submit(instance, k, run) for k, run in enumerate(runs)]
    return _total(futures)


def _total(futures: list[Future[int]]) -> int:
    """The records of every instance; else the first real failure, in input order (not a Stopped)."""
    errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None and not isinstance(error, Stopped):
            raise error
    return sum(f.result() for f in futures)


def stop_orphans(store: StateStore, layout: Layout) -> list[str]:
    """Clean up after transform jobs whose run died (their records were recovered as Failed):
    stop their model servers, recorded or not, and delete their half-written temp outputs."""
    lines = []
    for record in store.list(KIND):
        if record.get("status") == "InProgress":
            continue  # a live run's job
        servers = [*record.get("servers", []), *([record["server"]] if record.get("server") else [])]
        for server in map(ProcessRecord.from_dict, servers):
            if procs.stop(server):
                lines.append(f"stopped transform server pid {server.pid} of job {record['name']}")
        stray = procs.stop_under(layout.transform_dir(record["name"]))
        if stray:
            lines.append(f"stopped {len(stray)} unrecorded process(es) of transform job {record['name']}")
        output = Path(record.get("output_uri") or "")
        for temp in output.glob(parts.temp_pattern(record["name"])) if record.get("output_uri") and output.is_dir() else []:
            temp.unlink(missing_ok=True)
            lines.append(f"deleted {temp}, left half-written by transform job {record['name']}")
        if servers:
            store.put(KIND, record["name"], {k: v for k, v in record.items() if k not in ("server", "servers")})
    return lines
