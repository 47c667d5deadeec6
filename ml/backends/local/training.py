"""A training job: the container's ``train`` program run against its own SAGEMAKER_BASE_DIR tree.

The tree is the one SageMaker mounts at ``/opt/ml``: ``input/config/hyperparameters.json``,
``input/data/<channel>/``, ``model/`` and ``output/``. Logs stream live to the caller; metrics
come from ``output/data/metrics.json`` or, as SageMaker's metric definitions read them, from log
lines like ``validation:accuracy=0.9667``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path

from ml.backends.base import LogSink
from ml.backends.local import procs
from ml.backends.local.artifacts import pack_model, sha256_files
from ml.backends.local.clock import now_iso
from ml.backends.local.layout import Layout
from ml.backends.local.programs import Programs
from ml.backends.local.store import StateStore
from ml.backends.records import Lineage, TrainingJob
from ml.errors import JobFailedError, UserInputError
from ml.gitrev import read_revision

KIND = "training-jobs"
_METRIC = re.compile(r"^\s*([A-Za-z][\w:./-]*)\s*[=:]\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$")


def channels(data: Path) -> dict[str, list[Path]]:
    """``training`` (and ``validation``) CSV files from a file, a folder, or a folder of channels."""
    if not data.exists():
        raise UserInputError(f"training data {data} does not exist; pass a CSV file or folder with --data, or run `invoke data`")
    if data.is_file():
        return {"training": [data]}
    if (data / "training").is_dir():
        found = {name: sorted((data / name).glob("*.csv")) for name in ("training", "validation") if (data / name).is_dir()}
    else:
        found = {"training": sorted(data.glob("*.csv"))}
    if not found.get("training"):
        raise UserInputError(f"no .csv files in {data}; put the training CSVs (label first, no header) there")
    return found


def stage_job_dir(job_dir: Path, files: Mapping[str, list[Path]], hyperparameters: Mapping[str, str], *, copy: bool) -> None:
    config = job_dir / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(dict(hyperparameters)), encoding="utf-8")
    (config / "inputdataconfig.json").write_text(json.dumps({c: {"ContentType": "text/csv"} for c in files}), encoding="utf-8")
    for channel, paths in files.items():
        target = job_dir / "input" / "data" / channel
        target.mkdir(parents=True)
        for path in paths:
            # A symlink is free for a process; an image only sees the mounted tree, so it gets copies.
            if copy:
                shutil.copy2(path, target / path.name)
            else:
                (target / path.name).symlink_to(path.resolve())
    for folder in ("model", "output/data"):
        (job_dir / folder).mkdir(parents=True)


def read_metrics(job_dir: Path, log_lines: list[str]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for line in log_lines:
        match = _METRIC.match(line)
        if match and ":" in match.group(1):  # "validation:accuracy=..." rather than any "x=1" line
            metrics[match.group(1)] = float(match.group(2))
    try:
        written = json.loads((job_dir / "output" / "data" / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        written = {}
    if isinstance(written, dict):
        metrics.update({str(k): float(v) for k, v in written.items() if isinstance(v, int | float) and not isinstance(v, bool)})
    return metrics


def run_training(
    *,
    store: StateStore,
    layout: Layout,
    programs: Programs,
    job_name: str,
    hyperparameters: Mapping[str, str],
    data: Path,
    max_runtime_s: float,
    on_log: LogSink | None,
) -> TrainingJob:
    files = channels(data)
    job_dir = layout.job_dir(job_name)
    with store.locked():
        if store.get(KIND, job_name) is not None or job_dir.exists():
            raise UserInputError(f"training job {job_name!r} already exists; train again to get a new name")
        stage_job_dir(job_dir, files, hyperparameters, copy=programs.kind == "image")
        revision = read_revision(layout.root)
        lineage = Lineage(
            git_commit=revision.commit,
            git_dirty=revision.dirty,
            data_uri=str(data.resolve()),
            data_version=sha256_files([p for ps in files.values() for p in ps]),
            image=programs.identity(),
            hyperparameters=dict(hyperparameters),
        )
        job = TrainingJob(name=job_name, status="InProgress", created_at=now_iso(), hyperparameters=dict(hyperparameters), lineage=lineage)
        store.put(KIND, job_name, job.to_dict())
    status, reason, lines = _run(programs, job_dir, max_runtime_s, on_log)
    fields = job.to_dict() | {"ended_at": now_iso(), "metrics": read_metrics(job_dir, lines)}
    if status == "Completed":
        archive = job_dir / "output" / "model.tar.gz"
        if not any((job_dir / "model").iterdir()):
            status, reason = "Failed", "the train program exited 0 but wrote nothing to model/"
        else:
            fields |= {"artifact_uri": str(archive), "artifact_sha256": pack_model(job_dir / "model", archive)}
    fields |= {"status": status, "failure_reason": reason}
    store.put(KIND, job_name, fields)
    finished = TrainingJob.from_dict(fields)
    if status != "Completed":
        raise JobFailedError(f"training job {job_name} {status.lower()}: {reason} (logs: {job_dir / 'output' / 'train.log'})")
    return finished


def _run(programs: Programs, job_dir: Path, max_runtime_s: float, on_log: LogSink | None) -> tuple[str, str, list[str]]:
    launch = programs.train(base_dir=job_dir)
    lines: list[str] = []
    # Its own session (and folder): the deadline stops the whole group, children holding the
    # output pipe included, and a run killed meanwhile leaves it findable under its job folder.
    popen = subprocess.Popen(
        launch.argv,
        env=launch.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        cwd=job_dir,
        start_new_session=True,
    )
    expired = threading.Event()

    def expire() -> None:  # a timer, not a check per line: a job that hangs silently prints nothing
        expired.set()
        procs.kill_group(popen.pid)

    timer = threading.Timer(max_runtime_s, expire)
    timer.daemon = True
    with (job_dir / "output" / "train.log").open("w", encoding="utf-8") as log, popen as proc:
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                text = line.rstrip("\n")
                lines.append(text)
                log.write(line)
                if on_log is not None:
                    on_log(text)
            code = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                procs.kill_group(proc.pid)
                proc.wait()
            for argv in launch.cleanup:
                subprocess.run(argv, capture_output=True, check=False)
    if expired.is_set():
        return "Stopped", f"MaxRuntimeExceeded: ran past {max_runtime_s:g}s", lines
    if code == 0:
        return "Completed", "", lines
    failure = job_dir / "output" / "failure"
    why = failure.read_text(encoding="utf-8", errors="replace").strip() if failure.exists() else ""
    last = lines[-1] if lines else "no output"
    return "Failed", f"AlgorithmError: {why or last} (exit status {code})", lines
