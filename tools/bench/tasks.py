"""The ``bench`` task collection: ``invoke bench.serving``, ``bench.transform``, ... one task per benchmark.

``invoke bench --target NAME`` (the collection's default task) still runs ``bench.NAME``: users type
it. Each task is a thin wrapper that prints its benchmark's table (also written under
``docs/benchmarks/``); the benchmarks themselves are imported only when one runs.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import Task, task

ROOT = Path(__file__).resolve().parents[2]
ROWS = 1_000_000
QUICK = "one short round (2 s steps) instead of the full run"


def _at_least_one(**flags: int) -> None:
    """Refuse a count below 1 before a benchmark starts anything."""
    low = {name: value for name, value in flags.items() if value < 1}
    if low:
        given = ", ".join(f"--{name} {value}" for name, value in low.items())
        raise Exit(f"error: {' and '.join(f'--{n}' for n in low)} must be at least 1 (got {given})", code=2)


@task(help={"rounds": "rounds per cell, the median is reported (default 3)", "quick": "one 2 s round per cell (~3 min instead of 13)"})
def serving(c: Context, rounds: int = 3, quick: bool = False) -> None:
    """HTTP throughput and latency of the serving stack, beside gunicorn, MLflow and the AWS sample's."""
    _at_least_one(rounds=rounds)
    from tools.bench.serving import run_serving_bench

    print(run_serving_bench(root=ROOT, repeats=1 if quick else rounds, duration_s=2 if quick else 5, capture_cost=True)["markdown"])


@task(help={"rows": f"input rows (default {ROWS:,})"})
def transform(c: Context, rows: int = ROWS) -> None:
    """Batch transform rows/s and memory, with the main job's time."""
    _at_least_one(rows=rows)
    from tools.bench.transform import run_transform_bench

    run_transform_bench(root=ROOT, rows=rows)


@task(help={"rows": f"captured rows (default {ROWS:,})"})
def monitor(c: Context, rows: int = ROWS) -> None:
    """invoke monitor's time and memory on captured rows."""
    _at_least_one(rows=rows)
    from tools.bench.monitor import run_monitor_bench

    print(run_monitor_bench(root=ROOT, rows=rows), end="")


@task(help={"rounds": "rounds per setting (default 3)", "quick": QUICK})
def capture(c: Context, rounds: int = 3, quick: bool = False) -> None:
    """Data capture's cost behind the router (throughput and p99 with capture off, 20% and 100%)."""
    _at_least_one(rounds=rounds)
    from tools.bench.capture_cost import run_capture_cost

    print(run_capture_cost(root=ROOT, duration_s=2 if quick else 5, rounds=1 if quick else rounds), end="")


@task(help={"rounds": "failures per kind (default 3)", "quick": "one failure per kind"})
def recovery(c: Context, rounds: int = 3, quick: bool = False) -> None:
    """A supervised endpoint healing: recovery time and failed requests per failure, supervision's memory."""
    _at_least_one(rounds=rounds)
    from tools.bench.recovery import run_recovery_bench

    print(run_recovery_bench(root=ROOT, rounds=1 if quick else rounds), end="")


@task(help={"clients": "the client counts to step through, rising (default 64,256,1000,2000,4000)", "quick": QUICK})
def capacity(c: Context, clients: str = "", quick: bool = False) -> None:
    """Concurrent clients one endpoint holds, keep-alive and closing, up to its 503 at capacity."""
    from tools.bench.capacity import STEPS, run_capacity_bench

    try:
        steps = tuple(int(n) for n in clients.split(",")) if clients else STEPS
    except ValueError as err:
        raise Exit(f"error: --clients takes whole numbers separated by commas, such as 64,1000; not {clients!r}", code=2) from err
    print(run_capacity_bench(root=ROOT, steps=steps, duration_s=2 if quick else 5), end="")


@task(help={})
def console(c: Context) -> None:
    """Server time of the console's pages (versions, a version, endpoints, monitor) with 1,000 registered versions."""
    from tools.bench.console import run_console_bench

    print(run_console_bench(root=ROOT), end="")


BENCHES: dict[str, Task[Any]] = {
    "serving": serving,
    "transform": transform,
    "monitor": monitor,
    "capture": capture,
    "recovery": recovery,
    "capacity": capacity,
    "console": console,
}


@task(
    default=True,
    help={
        "target": f"the benchmark: {', '.join(BENCHES)} (the same as `invoke bench.TARGET`)",
        "rows": "transform, monitor: rows",
        "rounds": "serving, capture, recovery: rounds",
        "quick": "serving, capture, recovery, capacity: a short run",
        "clients": "capacity: client counts",
    },
)
def run(c: Context, target: str = "serving", rows: int = ROWS, rounds: int = 3, quick: bool = False, clients: str = "") -> None:
    """Run one benchmark by name: `invoke bench --target NAME [flags]` is `invoke bench.NAME [flags]`."""
    chosen = BENCHES.get(target)
    if chosen is None:
        raise Exit(f"error: --target must be one of {', '.join(BENCHES)}, not {target!r}", code=2)
    _at_least_one(rows=rows, rounds=rounds)
    given = {"rows": rows, "rounds": rounds, "quick": quick, "clients": clients}
    takes = inspect.signature(chosen.body).parameters
    chosen(c, **{flag: value for flag, value in given.items() if flag in takes})


bench = Collection("bench", run, *BENCHES.values())
