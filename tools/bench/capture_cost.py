"""What data capture costs a request: the serving bench's ``serve`` behind the endpoint's router,
with capture off, at 20% and at 100% (every request's input and output written as SageMaker's
JSON Lines by the router's njs module, outside the container).

The three routers run at once in front of the same model server and are measured alternately,
median of ``rounds``, like the serving bench's cells. The records written are counted too: a
capture that kept up with no request (or lost some) would look cheap.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ml.backends.local.capture import CaptureConf
from ml.backends.local.procs import free_port
from ml.backends.local.records import RouterRecord, Toolchain, Upstream
from ml.backends.local.router import Router
from ml.backends.local.supervise.control import Supervisor
from tools.bench.servers import CLIENTS, payload, serve_variant, train_sample, wrk
from tools.bench.serving_table import Run

SETTINGS: tuple[int, ...] = (0, 20, 100)  # capture sampling percent; 0 is off
CONNECTIONS = 16


@dataclass(frozen=True, kw_only=True)
class CaptureCell:
    percent: int
    client: str
    requests_per_s: float
    p99_ms: float
    errors: int
    load_1m: float


def _captured(root: Path) -> int:
    """Records (lines) under ``root``, counted in 1 MB reads: capture files grow with traffic."""
    count = 0
    for path in root.rglob("*.jsonl") if root.exists() else ():
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                count += chunk.count(b"\n")
    return count


@contextmanager
def _routers(work: Path, *, model_port: int) -> Iterator[dict[int, int]]:
    """One endpoint router per setting, each under its own supervisord as an endpoint's is, all
    before the same model server; yields their ports."""
    toolchain = Toolchain.discover(sys.executable)
    with ExitStack() as running:
        ports = {}
        for percent in SETTINGS:
            capture = CaptureConf(root=work / f"capture-{percent}", variant="AllTraffic", sampling_percent=percent) if percent else None
            router = Router(prefix=work / f"router-{percent}", nginx=toolchain.nginx, capture=capture)
            record = RouterRecord(port=free_port(), back_port=free_port())
            router.prepare(record=record, upstreams=[Upstream(name="bench", port=model_port, weight=100)])
            supervisor = Supervisor(folder=work / f"supervisor-{percent}")
            running.enter_context(supervisor.running(router.programs(env=toolchain.env()), toolchain=toolchain))
            router.wait_ready(record=record)
            ports[percent] = record.port
        yield ports


def _cells(client: str, runs: dict[int, list[Run]]) -> list[CaptureCell]:
    load = os.getloadavg()[0]
    return [
        CaptureCell(
            percent=percent,
            client=client,
            requests_per_s=statistics.median(r.requests / r.seconds for r in done),
            p99_ms=statistics.median(r.p99_ms for r in done),
            errors=sum(r.errors for r in done),
            load_1m=load,
        )
        for percent, done in runs.items()
    ]


def measure_capture_cost(*, root: Path, duration_s: float = 3.0, rounds: int = 3) -> tuple[list[CaptureCell], dict[int, float]]:
    """The cells, and per setting the records written per answered request (1.0 at 100%, about 0.2 at 20%)."""
    cells: list[CaptureCell] = []
    with tempfile.TemporaryDirectory(prefix="bench-capture-") as tmp:
        work = Path(tmp)
        base_dir, logs = work / "ml", work / "logs"
        logs.mkdir()
        train_sample(root, base_dir)
        body = payload(base_dir / "input" / "data" / "training" / "iris.csv", 1)
        answered = dict.fromkeys(SETTINGS, 0)
        with (
            serve_variant(root, base_dir, "serve", os.cpu_count() or 1, logs) as (model_port, _pid),
            _routers(work, model_port=model_port) as ports,
        ):
            for client in CLIENTS:
                runs: dict[int, list[Run]] = {p: [] for p in SETTINGS}
                for _ in range(rounds):
                    for percent in SETTINGS:  # alternated: load drift favours no setting
                        run = wrk(ports[percent], body=body, connections=CONNECTIONS, duration_s=duration_s, scripts=logs, client=client)
                        runs[percent].append(run)
                        answered[percent] += run.requests - run.errors
                cells += _cells(client, runs)
        time.sleep(0.5)  # the last records reach their files
        written = {p: _captured(work / f"capture-{p}") / max(answered[p], 1) for p in SETTINGS if p}
    return cells, written


def render(cells: list[CaptureCell], written: dict[int, float], *, duration_s: float, rounds: int) -> str:
    off = {c.client: c.requests_per_s for c in cells if c.percent == 0}
    lines = [
        "## Data capture's cost",
        "",
        f"`serve` (1-row requests, {CONNECTIONS} connections) behind the endpoint's router (front and back nginx), capture off, "
        f"at 20% and at 100% sampling; median of {rounds} alternated rounds of {duration_s:g} s.",
        "",
        "| capture | client | req/s | p99 ms | errors | vs off | load |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for c in cells:
        setting = "off" if c.percent == 0 else f"{c.percent}%"
        ratio = f"{c.requests_per_s / off[c.client]:.2f}×" if off.get(c.client) else "-"
        lines.append(f"| {setting} | {c.client} | {c.requests_per_s:,.0f} | {c.p99_ms:.2f} | {c.errors} | {ratio} | {c.load_1m:.1f} |")
    lines += ["", "Records written per answered request: " + ", ".join(f"{p}%: {w:.3f}" for p, w in sorted(written.items())) + ".", ""]
    return "\n".join(lines)


def run_capture_cost(*, root: Path, duration_s: float = 3.0, rounds: int = 3) -> str:
    cells, written = measure_capture_cost(root=root, duration_s=duration_s, rounds=rounds)
    table = render(cells, written, duration_s=duration_s, rounds=rounds)
    target = root / "docs" / "benchmarks" / "capture.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("# Data capture benchmark\n\n`invoke bench --target capture`.\n\n" + table, encoding="utf-8")
    return table
