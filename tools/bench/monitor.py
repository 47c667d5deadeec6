"""``invoke bench --target monitor``: the monitor's time and peak memory on 1M captured rows.

The fixture is iris replayed: ``rows`` capture records of one CSV row each (the most records,
so the most JSON to parse, per row), answered with the row's own label, in SageMaker's layout
over one hour, ten files. The baseline is the one training writes (byoc.baseline, run in a child
with the container's code on its path, as training runs it). Each size runs in a fresh child
process; its peak RSS comes from ``wait4``'s rusage, its time from the parent's clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ml.atomic import atomic_write_text
from ml.data import write_iris_csv

REPORT = "docs/benchmarks/monitor.md"
ENDPOINT = "bench-endpoint"
AT = datetime(2026, 1, 1, 12, tzinfo=UTC)
FILES = 10
_BASELINE = """
import sys, numpy as np
from pathlib import Path
from byoc.baseline import write
from byoc.dataset import read_channel
write(Path(sys.argv[2]), read_channel(Path(sys.argv[1]), name="train"))
"""
_CHILD = """
import json, sys, time
from datetime import datetime
from pathlib import Path
from ml.monitor.html import write_html
from ml.monitor.run import monitor
from ml.monitor.served import given_baseline
from ml.monitor.sources import LocalCapture
from ml.monitor.verdict import Thresholds
from ml.monitor.window import Window
capture, baseline, out, since, until = sys.argv[1:6]
start = time.perf_counter()
report = monitor(source=LocalCapture(root=Path(capture)), endpoint=sys.argv[6],
    window=Window(since=datetime.fromisoformat(since), until=datetime.fromisoformat(until)),
    attribution=given_baseline(baseline), thresholds=Thresholds(drift_psi=0.2, missing_percent=5, range_percent=5, class_psi=0.2))
read = time.perf_counter() - start
write_html(report, Path(out))
print(json.dumps({"read_seconds": read, "total_seconds": time.perf_counter() - start,
    "rows": report.variants[0].rows, "breaches": report.breaches}))
"""


@dataclass(frozen=True, kw_only=True)
class MonitorRun:
    rows: int
    capture_mb: float
    wall_seconds: float  # the whole child: interpreter, imports, read, report
    read_seconds: float  # streaming the window through the counters
    cpu_seconds: float  # the child's user + system CPU: what the run costs, less sensitive to a loaded machine
    peak_rss_mb: float
    breaches: list[str]


def write_fixture(folder: Path, *, iris_csv: Path, rows: int) -> int:
    """Write ``rows`` capture records under ``folder`` in SageMaker's layout; return the bytes written."""
    iris = [line.split(",", 1) for line in iris_csv.read_text(encoding="utf-8").splitlines() if line]
    hour = folder / ENDPOINT / "AllTraffic" / f"{AT:%Y/%m/%d/%H}"
    hour.mkdir(parents=True, exist_ok=True)
    written, per_file = 0, -(-rows // FILES)
    for part in range(FILES):
        with (hour / f"part-{part}.jsonl").open("w", encoding="utf-8") as out:
            for i in range(part * per_file, min(rows, (part + 1) * per_file)):
                label, features = iris[i % len(iris)]
                moment = AT + timedelta(microseconds=i)
                out.write(
                    '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"'
                    + features
                    + '","encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT","data":"'
                    + label
                    + '\\n","encoding":"CSV"}},"eventMetadata":{"eventId":"'
                    + f"{i:032x}"
                    + f'","inferenceTime":"{moment:%Y-%m-%dT%H:%M:%S.%f}Z"}},"eventVersion":"0"}}\n'
                )
        written += (hour / f"part-{part}.jsonl").stat().st_size
    return written


def _baseline(root: Path, iris_csv: Path, work: Path) -> Path:
    channel = work / "train"
    channel.mkdir()
    (channel / "iris.csv").write_bytes(iris_csv.read_bytes())
    env = {**os.environ, "PYTHONPATH": str(root / "ml" / "container")}
    subprocess.run([sys.executable, "-c", _BASELINE, str(channel), str(work / "model")], check=True, env=env, cwd=root)
    return work / "model" / "baseline"


def measure(*, root: Path, rows: int) -> MonitorRun:
    iris_csv = root / "data" / "iris.csv"
    if not iris_csv.is_file():
        write_iris_csv(iris_csv)
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as scratch:
        work = Path(scratch)
        size = write_fixture(work / "capture", iris_csv=iris_csv, rows=rows)
        baseline = _baseline(root, iris_csv, work)
        window = (AT.isoformat(), (AT + timedelta(hours=1)).isoformat())
        args = [sys.executable, "-c", _CHILD, str(work / "capture"), str(baseline), str(work / "report.html"), *window, ENDPOINT]
        start = time.perf_counter()
        child = subprocess.Popen(args, cwd=root, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        with child.stdout:
            output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise RuntimeError(f"monitor child failed with {child.returncode}")
        result = json.loads(output)
    return MonitorRun(
        rows=result["rows"],
        capture_mb=size / 1e6,
        wall_seconds=wall,
        read_seconds=result["read_seconds"],
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,
        breaches=result["breaches"],
    )


def render(runs: list[MonitorRun], *, load: str, cores: int) -> str:
    lines = [
        "# Monitor benchmark",
        "",
        f"`invoke bench --target monitor`: {cores} cores, load average before the runs {load} (1/5/15 min). One capture record per row",
        "(the most JSON per row), iris replayed, ten files in one hour; the training baseline from byoc.baseline. Each size runs in a",
        "fresh process: *wall* covers the interpreter, imports, reading and the HTML report; *read* is the streaming of the window;",
        "*CPU* is the child's user + system time; *peak RSS* its maximum resident set (both from rusage).",
        "",
        "| rows | capture MB | wall s | read s | rows/s (read) | CPU s | peak RSS MB | breaches |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        rate = run.rows / run.read_seconds if run.read_seconds else 0.0
        lines.append(
            f"| {run.rows:,} | {run.capture_mb:.0f} | {run.wall_seconds:.1f} | {run.read_seconds:.1f} | {rate:,.0f} | "
            f"{run.cpu_seconds:.1f} | {run.peak_rss_mb:.0f} | {len(run.breaches)} |"
        )
    return "\n".join(lines) + "\n"


def run_monitor_bench(*, root: Path, rows: int = 1_000_000) -> str:
    """Measure at ``rows / 10`` and ``rows`` (flat memory is the claim), write and return the table."""
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    runs = [measure(root=root, rows=max(1, rows // 10)), measure(root=root, rows=rows)]
    after = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    table = render(runs, load=f"{load} (after: {after})", cores=os.cpu_count() or 1)
    atomic_write_text(root / REPORT, table)
    return table
