"""``invoke bench --target serving``: wrk against the live ``serve`` program and its ceiling.

In one run, on one machine, it measures requests/s and p50/p99 latency for 1-row and 100-row
CSV payloads at 1 and 16 connections, with keep-alive clients and ``Connection: close``
clients, against:

* ``serve``: the real program (granian + :mod:`byoc.app` + a trained iris tree);
* ``gunicorn``: the same app on the previous stack (gunicorn sync workers, ``serve --server gunicorn``);
* ``ceiling``: a no-op WSGI app on the identical granian command line;
* ``mlflow``: MLflow's ``models serve`` scoring server, and ``sample``: the original sample's
  design (Flask + pandas on gunicorn), each serving the same tree from a throwaway virtual
  environment the bench builds and caches itself (:mod:`ml.bench.peers`);
* optionally ``gunicorn-ceiling``, ``flask`` (the same handlers on Flask, gunicorn) and
  ``nginx+serve`` (nginx in front), alternatives the serving design was decided against.

Each server's memory is reported as the proportional set size (PSS) per worker, and each cell
carries the 1-minute load average when it was measured.

The table is written to ``docs/benchmarks/serving.md`` and returned with the numbers.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ml.backends.local.procs import free_port
from ml.bench import peers
from ml.bench.serving_procs import pss_per_worker_mb, stop, wait_for_port
from ml.bench.serving_table import Measurement, Run, markdown_table, median_cell, parse_wrk, summary
from ml.data import write_iris_csv
from ml.errors import ByocError, UserInputError

log = logging.getLogger(__name__)

# variant -> (serve --server, serve --app)
APPS = {
    "serve": ("granian", "byoc.app:create_app()"),
    "gunicorn": ("gunicorn", "byoc.app:create_app()"),
    "ceiling": ("granian", "ml.bench.noop_app:app"),
    "gunicorn-ceiling": ("gunicorn", "ml.bench.noop_app:app"),
    "flask": ("gunicorn", "ml.bench.flask_app:create_app()"),
    "nginx+serve": ("granian", "byoc.app:create_app()"),
}
VARIANTS = (*APPS, *peers.PEERS)
DEFAULT_VARIANTS = ("serve", "gunicorn", "ceiling", "mlflow", "sample")
CLIENTS = ("keep-alive", "close")
_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "text/csv"
{connection}wrk.body = [==[{body}]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
"""
_NGINX = """worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  client_max_body_size 6m;
  upstream model {{ server 127.0.0.1:{backend}; }}
  server {{
    listen 127.0.0.1:{front};
    location / {{ proxy_pass http://model; proxy_set_header Host $host; }}
  }}
}}
"""


def _python_env(root: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root / "ml" / "container"), str(root)])
    return env | extra


def train_sample(root: Path, base_dir: Path) -> None:
    write_iris_csv(base_dir / "input" / "data" / "training" / "iris.csv")
    result = subprocess.run(
        [sys.executable, "-m", "byoc.train"],
        env=_python_env(root, SAGEMAKER_BASE_DIR=str(base_dir)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise ByocError(f"training the benchmark model failed: {result.stderr[-500:]}")


def _wait_ready(port: int, process: subprocess.Popen[bytes], *, body: bytes = b"5.1,3.5,1.4,0.2\n", timeout: float = 90) -> None:
    """Wait for a 200 to a real prediction: gunicorn listens before its workers have loaded the model."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ByocError(f"benchmark server exited with status {process.returncode} before it was ready")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise ByocError(f"benchmark server on port {port} did not answer a prediction within {timeout:.0f}s")


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
            _wait_ready(port, server, body=peers.csv_body(["5.1,3.5,1.4,0.2"], header=peer.csv_header, n_features=4).encode())
        except ByocError as err:
            tail = (logs / f"{peer.name}.log").read_text(encoding="utf-8", errors="replace")[-1500:]
            raise ByocError(f"the {peer.name} peer did not start ({err}); its log ends:\n{tail}") from err
        yield port, server.pid
    finally:
        stop(server, group=True)


@contextmanager
def serve_variant(root: Path, base_dir: Path, variant: str, workers: int, logs: Path) -> Iterator[tuple[int, int]]:
    """Run one variant; yield the port that wrk should hit and the model server's master pid."""
    port = free_port()
    env = _python_env(
        root, SAGEMAKER_BASE_DIR=str(base_dir), SAGEMAKER_BIND_TO_PORT=str(port), BYOC_BIND_HOST="127.0.0.1",
        MODEL_SERVER_WORKERS=str(workers), BYOC_LOG_LEVEL="WARNING",
    )  # fmt: skip
    with (logs / f"{variant}.log").open("wb") as out:
        server_name, app = APPS[variant]
        argv = [sys.executable, "-m", "byoc.serve", "--server", server_name, "--app", app]
        server = subprocess.Popen(argv, env=env, stdout=out, stderr=out)
    processes = [server]
    try:
        wait_for_port(port, server)
        _wait_ready(port, server)
        if variant != "nginx+serve":
            yield port, server.pid
            return
        front = free_port()
        conf = logs / "nginx.conf"
        conf.write_text(_NGINX.format(tmp=logs, backend=port, front=front), encoding="utf-8")
        nginx = subprocess.Popen(["nginx", "-p", str(logs), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(nginx)
        wait_for_port(front, nginx)
        yield front, server.pid
    finally:
        for process in reversed(processes):
            stop(process)


def payload(training_csv: Path, rows: int, *, header: bool = False) -> str:
    """``rows`` label-less iris rows, as batch transform would send them (with a header row for MLflow)."""
    iris = [line.split(",", 1)[1] for line in training_csv.read_text(encoding="utf-8").splitlines()]
    return peers.csv_body([iris[i % len(iris)] for i in range(rows)], header=header, n_features=4)


def wrk(port: int, *, body: str, connections: int, duration_s: float, scripts: Path, client: str = "keep-alive") -> Run:
    script = scripts / f"post-{len(body)}-{client}.lua"
    connection = 'wrk.headers["Connection"] = "close"\n' if client == "close" else ""
    script.write_text(_LUA.format(body=body, connection=connection), encoding="utf-8")
    argv = ["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{duration_s:g}s", "--latency", "-s", str(script)]
    result = subprocess.run(
        [*argv, f"http://127.0.0.1:{port}/invocations"], capture_output=True, text=True, timeout=duration_s + 60, check=False
    )
    if result.returncode != 0:
        raise ByocError(f"wrk failed: {(result.stderr or result.stdout)[-300:]}")
    return parse_wrk(result.stdout)


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
        "the bench builds with pinned versions (ml/bench/peers.py), not from the project's Pipfile.",
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

    All variants run at once (idle servers cost nothing) and each cell is measured ``repeats``
    times, alternating variants, reporting the median: on a shared machine, load drifts over
    minutes, and alternating keeps that drift from favouring whichever variant ran first.
    The peers' environments are built (first run) or reused from ``cache_dir`` (default
    :func:`ml.bench.peers.default_cache_dir`). ``output`` defaults to
    ``root/docs/benchmarks/serving.md``. The returned dict holds ``results`` (one dict per
    cell), ``memory_mb`` (PSS per worker, by variant), ``markdown`` (the table), ``elapsed_s``
    and the run's settings. ``capture_cost`` adds data capture's cost behind the endpoint's router.
    """
    _check(variants, clients, repeats=repeats, duration_s=duration_s)
    started = time.monotonic()
    cpus = os.cpu_count() or 1
    worker_count = workers or cpus
    cache = cache_dir or peers.default_cache_dir()
    venvs = {v: peers.ensure_venv(peers.PEERS[v].requirements, cache_dir=cache) for v in variants if v in peers.PEERS}
    results: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp, ExitStack() as servers:
        base_dir, logs = Path(tmp) / "ml", Path(tmp) / "logs"
        logs.mkdir()
        train_sample(root, base_dir)
        ports: dict[str, int] = {}
        masters: dict[str, int] = {}
        for variant in variants:
            variant_logs = logs / re.sub(r"\W", "-", variant)
            variant_logs.mkdir()
            if variant in peers.PEERS:
                running = _peer(peers.PEERS[variant], venvs[variant], base_dir, worker_count, variant_logs)
            else:
                running = serve_variant(root, base_dir, variant, worker_count, variant_logs)
            ports[variant], masters[variant] = servers.enter_context(running)
        training_csv = base_dir / "input" / "data" / "training" / "iris.csv"
        for row_count in rows:
            bodies = {v: payload(training_csv, row_count, header=v in peers.PEERS and peers.PEERS[v].csv_header) for v in variants}
            for variant in variants:
                # A short warm-up so the first cell does not pay for lazy imports and page faults.
                wrk(ports[variant], body=bodies[variant], connections=max(connections), duration_s=1, scripts=logs)
            for conns in connections:
                for client in clients:
                    runs: dict[str, list[Run]] = {v: [] for v in variants}
                    for _ in range(repeats):
                        for variant in variants:
                            port, body = ports[variant], bodies[variant]
                            runs[variant].append(
                                wrk(port, body=body, connections=conns, duration_s=duration_s, scripts=logs, client=client)
                            )
                    load = os.getloadavg()[0]
                    for variant in variants:
                        cell = median_cell(variant, row_count, conns, client, runs[variant], load_1m=load)
                        log.info("%s", cell)
                        results.append(cell)
        memory = {variant: pss_per_worker_mb(masters[variant]) for variant in variants}
    results.sort(key=lambda m: variants.index(m.variant))
    elapsed = time.monotonic() - started
    settings: dict[str, Any] = {"cpus": cpus, "workers": worker_count, "duration_s": duration_s, "repeats": repeats}
    markdown = _markdown(results, settings=settings, memory=memory, elapsed_s=elapsed, variants=variants)
    if capture_cost:  # the endpoint's data capture, measured the same way (ml/bench/capture_cost.py)
        from ml.bench.capture_cost import measure_capture_cost, render

        cells, written = measure_capture_cost(root=root, duration_s=duration_s, rounds=repeats)
        markdown += "\n" + render(cells, written, duration_s=duration_s, rounds=repeats)
    target = output or root / "docs" / "benchmarks" / "serving.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.tmp")
    partial.write_text(markdown, encoding="utf-8")
    partial.replace(target)
    log.info("wrote %s\n%s", target, markdown)
    return settings | {"results": [asdict(m) for m in results], "memory_mb": memory, "markdown": markdown, "elapsed_s": elapsed}
