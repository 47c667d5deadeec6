"""``invoke bench --target console``: the console's server time per page with 1,000 versions.

A scratch project gets ``versions`` registry records as registration leaves them (metrics,
lineage, a two-entry audit trail), and the console runs as ``invoke console`` runs it: granian,
one worker, its own process. Each page is asked ``rounds`` times after a warm-up; the server's
own time comes from the ``Server-Timing`` header the console sets on every answer (request in to
response out, backend calls and template included), the client's from its clock.
"""

from __future__ import annotations

import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ml.atomic import atomic_write_text
from ml.backends.local.layout import Layout
from ml.backends.local.procs import free_port
from ml.backends.local.registry import KIND
from ml.backends.local.store import StateStore
from ml.backends.records import ApprovalEvent, Lineage, ModelVersion
from ml.config import load_config
from ml.names import ApprovalStatus

REPORT = "docs/benchmarks/console.md"
PAGES = (
    "/versions",
    "/versions?per_page=200",
    "/versions?page=20",
    "/versions?status=Approved",
    "/versions?compare=1&compare=1000",
    "/versions/500",
    "/endpoints",
    "/monitor",
)
# What `invoke console` does, for a project folder given on the command line.
_SERVE = (
    "import sys; from pathlib import Path; from ml.config import load_config; from ml.console.serve import serve; "
    "from ml.console.settings import ConsoleSettings; root = Path(sys.argv[1]); "
    "serve(ConsoleSettings.create(root=root, config=load_config(root / 'cdktf.json')), port=int(sys.argv[2]))"
)


@contextmanager
def console_process(*, code_root: Path, project: Path, log: Path, wait_s: float = 30.0) -> Iterator[str]:
    """The console of ``project`` served by granian as `invoke console` serves it; yields its base URL."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    with log.open("w", encoding="utf-8") as out:
        server = subprocess.Popen([sys.executable, "-c", _SERVE, str(project), str(port)], cwd=code_root, env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                get(port, "/versions")
                break
            except OSError as err:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the console did not start: {log.read_text(encoding='utf-8')}") from err
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def write_registry(*, code_root: Path, project: Path, versions: int) -> None:
    """A project folder (its cdktf.json) whose local registry holds ``versions`` versions."""
    shutil.copy(code_root / "cdktf.json", project / "cdktf.json")
    config = load_config(project / "cdktf.json")
    store = StateStore(layout=Layout.for_project(root=project, state_dir=config.local_state_dir))
    statuses: tuple[ApprovalStatus, ...] = ("Approved", "Rejected", "PendingManualApproval")
    for n in range(1, versions + 1):
        status = statuses[n % 3]
        at = f"2026-12-01T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000+00:00"
        trail: tuple[ApprovalEvent, ...] = (ApprovalEvent(status="PendingManualApproval", by="bench@host", at=at, note="registered"),)
        if status != "PendingManualApproval":
            trail += (ApprovalEvent(status=status, by="bench@host", at=at, note=f"decided in round {n}"),)
        version = ModelVersion(
            group=config.model_package_group,
            version=n,
            approval_status=status,
            artifact_uri=str(project / "jobs" / f"job-{n}" / "model.tar.gz"),
            artifact_sha256=f"{n:064x}",
            training_job=f"job-{n}",
            metrics={"train:accuracy": 0.9 + n / 100_000, "train:f1": 0.88},
            lineage=Lineage(git_commit=f"{n:040x}", data_version=f"{n:064x}", training_job=f"job-{n}", hyperparameters={"max_depth": "5"}),
            created_at=at,
            approvals=trail,
        )
        store.put(KIND, f"{version.group}-{n:06d}", version.to_dict())


def get(port: int, path: str) -> tuple[int, str, str]:
    """One GET on loopback: the status, the body, and the Server-Timing header."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read().decode(), answer.getheader("Server-Timing", "")
    finally:
        conn.close()


def _measure(port: int, path: str, *, rounds: int) -> tuple[list[float], list[float]]:
    server, client = [], []
    for n in range(rounds + 3):
        begin = time.perf_counter()
        status, _, timing = get(port, path)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
        if n >= 3:  # warm-up: imports, template compilation, the page cache
            client.append((time.perf_counter() - begin) * 1000)
            server.append(float(timing.split("dur=")[1]))
    return server, client


def run_console_bench(*, root: Path, versions: int = 1000, rounds: int = 30) -> str:
    with tempfile.TemporaryDirectory(prefix="byoc-console-bench-") as tmp:
        project = Path(tmp)
        write_registry(code_root=root, project=project, versions=versions)
        rows = []
        with console_process(code_root=root, project=project, log=project / "console.log") as url:
            for page in PAGES:
                server, client = _measure(int(url.rsplit(":", 1)[1]), page, rounds=rounds)
                cells = (statistics.median(server), statistics.quantiles(server, n=20)[-1], max(server), statistics.median(client))
                rows.append(f"| `{page}` | " + " | ".join(f"{c:.1f}" for c in cells) + " |")
    load = " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])
    text = "\n".join(
        [
            "# Console page times",
            "",
            f"`invoke bench --target console`: {versions:,} versions in the local registry, the console served by granian as",
            f"`invoke console` serves it, each page asked {rounds} times after 3 warm-up requests. Server time is the",
            "console's own `Server-Timing` (request in to response out: backend calls, paging, template); client time",
            f"adds HTTP on loopback. Machine: {os.cpu_count()} cores, load average {load} while measuring.",
            "",
            "| page | server median ms | server p95 ms | server max ms | client median ms |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "The versions page reads every version record (the local registry is one JSON file per version) and",
            "renders one page of 50 (at most 200); its cost grows with the registry, its page size does not.",
            "",
        ]
    )
    atomic_write_text(root / REPORT, text)
    return text
