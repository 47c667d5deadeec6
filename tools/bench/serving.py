"""``invoke bench.serving``: wrk against the live ``serve`` program and its ceiling.

In one run, on one machine, it measures requests/s and p50/p99 latency for 1-row and 100-row
CSV payloads at 1 and 16 connections, with keep-alive clients and ``Connection: close``
clients, against:

* ``serve``: the real program (granian + :mod:`byoc.app` + a trained iris tree);
* ``gunicorn``: the same app on the previous stack (gunicorn sync workers), from a throwaway
  environment with the image's own library pins (:mod:`tools.bench.gunicorn_stack`);
* ``ceiling``: a no-op WSGI app on serve's identical granian command line;
* ``mlflow``: MLflow's ``models serve`` scoring server, and ``sample``: the original sample's
  design (Flask + pandas on gunicorn), each serving the same tree from a throwaway virtual
  environment the bench builds and caches itself (:mod:`tools.bench.peers`);
* optionally ``gunicorn-ceiling``, ``flask`` (the same handlers on Flask, gunicorn) and
  ``nginx+serve`` (nginx in front), alternatives the serving design was decided against.

Each server's memory is reported as the proportional set size (PSS) per worker, and each cell
carries the 1-minute load average when it was measured.

The table is written to ``docs/benchmarks/serving.md`` and returned with the numbers.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ml.atomic import atomic_write_text
from ml.backends.local.procs import free_port
from ml.errors import ByocError, UserInputError
from tools.bench import gunicorn_stack, peers
from tools.bench.servers import CLIENTS, GRANIAN_APPS, payload, serve_variant, train_sample, wait_ready, wrk
from tools.bench.serving_procs import pss_per_worker_mb, stop, wait_for_port
from tools.bench.serving_table import Measurement, Run, markdown_table, median_cell, summary

log = logging.getLogger(__name__)

VARIANTS = (*GRANIAN_APPS, *gunicorn_stack.APPS, *peers.PEERS)
DEFAULT_VARIANTS = ("serve", "gunicorn", "ceiling", "mlflow", "sample")


@contextmanager
def _peer(peer: peers.Peer, venv: Path, base_dir: Path, workers: int, logs: Path) -> Iterator[tuple[int, int]]:
    """Run a peer from its throwaway environment; yield its port and the pid its workers descend from."""
    port = free_port()
    model_dir = base_dir / "model"
    mlflow_model = None
    if peer.name == "mlflow":
        mlflow_model = logs / "mlflow-model"
        peers.save_mlflow_model(venv, model_dir=model_dir, output=mlflow_model)
    argv = peers.server_argv(peer, venv, port=port, workers=workers, mlflow_model=mlflow_model)
    env = peers.peer_env(os.environ, venv=venv, model_dir=model_dir)
    with (logs / f"{peer.name}.log").open("wb") as out:
        # Its own session, so stopping it reaches the processes it starts (MLflow's uvicorn).
        server = subprocess.Popen(argv, env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        try:
            wait_for_port(port, server)
            wait_ready(port, server, body=peers.csv_body(["5.1,3.5,1.4,0.2"], header=peer.csv_header, n_features=4).encode())
        except ByocError as err:
            tail = (logs / f"{peer.name}.log").read_text(encoding="utf-8", errors="replace")[-1500:]
            raise ByocError(f"the {peer.name} peer did not start ({err}); its log ends:\n{tail}") from err
        yield port, server.pid
    finally:
        stop(server, group=True)


def _markdown(
    results: list[Measurement], *, settings: dict[str, Any], memory: dict[str, float], elapsed_s: float, variants: Sequence[str]
) -> str:
    described = {
        "serve": "`serve` is granian (the chosen server)",
        "gunicorn": "`gunicorn` the same app on gunicorn sync workers (the previous stack)",
        "ceiling": "`ceiling` a no-op WSGI app on serve's granian command line",
        "mlflow": f"`mlflow` MLflow's `models serve` ({peers.MLFLOW_REQUIREMENTS[0]}, uvicorn) on the same tree, "
        "CSV with a header row in, JSON out",
        "sample": "`sample` the original sample's design (Flask + pandas on gunicorn sync workers) on the same tree",
    }
    lines = [
        "# Serving benchmark",
        "",
        f"`invoke bench --target serving`: wrk, median of {settings['repeats']} round(s) of {settings['duration_s']:g} s per cell "
        f"(variants alternated within each round), {settings['cpus']} CPUs shared with wrk, {settings['workers']} workers per server, "
        "iris decision tree, CSV in and out. " + "; ".join(described[v] for v in variants if v in described) + ". "
        "`close` clients send `Connection: close`. The peers (`mlflow`, `sample`) run from throwaway virtual environments "
        "the bench builds with pinned versions (tools/bench/peers.py), not from the project's Pipfile.",
        "",
        # Other engineers' suites share these cores: the figures mean little without the load.
        "Load average at the end of the run: " + " / ".join(f"{value:.1f}" for value in os.getloadavg()) + " (1/5/15 min); "
        f"`load` is the 1-minute load average when the cell was measured. The run took {elapsed_s / 60:.1f} minutes.",
        "",
        "Memory per worker (PSS, after the run): " + ", ".join(f"{v} {mb:.1f} MB" for v, mb in memory.items()) + ".",
        "",
        *markdown_table(results),
    ]
    if "serve" in variants:
        lines += ["", "`serve` against the others, cell by cell (same run):", "", *summary(results)]
    return "\n".join(lines) + "\n"


def _check(variants: Sequence[str], clients: Sequence[str], *, repeats: int, duration_s: float) -> None:
    if repeats < 1 or duration_s <= 0:
        raise UserInputError(f"serving bench needs at least 1 round of more than 0 s per cell, not {repeats} of {duration_s:g} s")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise UserInputError(f"unknown serving bench variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}")
    bad_clients = [k for k in clients if k not in CLIENTS]
    if bad_clients:
        raise UserInputError(f"unknown serving bench client {bad_clients[0]!r}; choose from {', '.join(CLIENTS)}")
    needed = ["wrk"] + (["nginx"] if "nginx+serve" in variants else [])
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing:
        raise UserInputError(f"{', '.join(missing)} not installed; on Debian: apt-get install {' '.join(missing)}")


@dataclass(frozen=True, kw_only=True)
class _Grid:
    """What each variant is measured on: payload rows, connections, client kinds, rounds per cell."""

    rows: Sequence[int]
    connections: Sequence[int]
    clients: Sequence[str]
    repeats: int
    duration_s: float


def _start(
    servers: ExitStack, *, root: Path, base_dir: Path, logs: Path, variants: Sequence[str], workers: int, cache: Path
) -> tuple[dict[str, int], dict[str, int]]:
    """Start every variant at once (idle servers cost nothing); their ports and the pids their workers descend from."""
    venvs = {v: peers.ensure_venv(peers.PEERS[v].requirements, cache_dir=cache) for v in variants if v in peers.PEERS}
    stack = None
    if any(v in gunicorn_stack.APPS for v in variants):
        stack = peers.ensure_venv(gunicorn_stack.requirements(root / "ml" / "container"), cache_dir=cache)
    ports: dict[str, int] = {}
    masters: dict[str, int] = {}
    for variant in variants:
        variant_logs = logs / re.sub(r"\W", "-", variant)
        variant_logs.mkdir()
        if variant in peers.PEERS:
            running = _peer(peers.PEERS[variant], venvs[variant], base_dir, workers, variant_logs)
        else:
            running = serve_variant(root, base_dir, variant, workers, variant_logs, venv=stack)
        ports[variant], masters[variant] = servers.enter_context(running)
    return ports, masters


def _measure(ports: dict[str, int], *, training_csv: Path, logs: Path, grid: _Grid) -> list[Measurement]:
    """Every cell ``grid.repeats`` times, variants alternated within each round, the median kept: on a
    shared machine load drifts over minutes, and alternating keeps it from favouring whichever ran first."""
    variants = list(ports)
    results: list[Measurement] = []
    for row_count in grid.rows:
        bodies = {v: payload(training_csv, row_count, header=v in peers.PEERS and peers.PEERS[v].csv_header) for v in variants}
        for variant in variants:
            # A short warm-up so the first cell does not pay for lazy imports and page faults.
            wrk(ports[variant], body=bodies[variant], connections=max(grid.connections), duration_s=1, scripts=logs)
        for conns in grid.connections:
            for client in grid.clients:
                runs: dict[str, list[Run]] = {v: [] for v in variants}
                for _ in range(grid.repeats):
                    for variant in variants:
                        run = wrk(
                            ports[variant], body=bodies[variant], connections=conns, duration_s=grid.duration_s, scripts=logs, client=client
                        )
                        runs[variant].append(run)
                load = os.getloadavg()[0]
                for variant in variants:
                    cell = median_cell(variant, row_count, conns, client, runs[variant], load_1m=load)
                    log.info("%s", cell)
                    results.append(cell)
    return sorted(results, key=lambda m: variants.index(m.variant))


def run_serving_bench(
    *,
    root: Path,
    duration_s: float = 5.0,
    repeats: int = 3,
    workers: int | None = None,
    rows: Sequence[int] = (1, 100),
    connections: Sequence[int] = (1, 16),
    clients: Sequence[str] = CLIENTS,
    variants: Sequence[str] = DEFAULT_VARIANTS,
    output: Path | None = None,
    cache_dir: Path | None = None,
    capture_cost: bool = False,
) -> dict[str, Any]:
    """Benchmark ``serve`` against the previous stack, its ceiling and its peers; write the table and return everything.

    The peers' environments are built (first run) or reused from ``cache_dir`` (default
    :func:`tools.bench.peers.default_cache_dir`). ``output`` defaults to
    ``root/docs/benchmarks/serving.md``. The returned dict holds ``results`` (one dict per
    cell), ``memory_mb`` (PSS per worker, by variant), ``markdown`` (the table), ``elapsed_s``
    and the run's settings. ``capture_cost`` adds data capture's cost behind the endpoint's router.
    """
    _check(variants, clients, repeats=repeats, duration_s=duration_s)
    started = time.monotonic()
    cpus = os.cpu_count() or 1
    worker_count = workers or cpus
    grid = _Grid(rows=rows, connections=connections, clients=clients, repeats=repeats, duration_s=duration_s)
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp, ExitStack() as servers:
        base_dir, logs = Path(tmp) / "ml", Path(tmp) / "logs"
        logs.mkdir()
        train_sample(root, base_dir)
        cache = cache_dir or peers.default_cache_dir()
        ports, masters = _start(servers, root=root, base_dir=base_dir, logs=logs, variants=variants, workers=worker_count, cache=cache)
        results = _measure(ports, training_csv=base_dir / "input" / "data" / "training" / "iris.csv", logs=logs, grid=grid)
        memory = {variant: pss_per_worker_mb(masters[variant]) for variant in variants}
    elapsed = time.monotonic() - started
    settings: dict[str, Any] = {"cpus": cpus, "workers": worker_count, "duration_s": duration_s, "repeats": repeats}
    markdown = _markdown(results, settings=settings, memory=memory, elapsed_s=elapsed, variants=variants)
    if capture_cost:  # the endpoint's data capture, measured the same way (tools/bench/capture_cost.py)
        from tools.bench.capture_cost import measure_capture_cost, render

        cells, written = measure_capture_cost(root=root, duration_s=duration_s, rounds=repeats)
        markdown += "\n" + render(cells, written, duration_s=duration_s, rounds=repeats)
    target = output or root / "docs" / "benchmarks" / "serving.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, markdown)
    log.info("wrote %s\n%s", target, markdown)
    return settings | {"results": [asdict(m) for m in results], "memory_mb": memory, "markdown": markdown, "elapsed_s": elapsed}
