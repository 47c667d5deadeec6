"""``invoke bench --target serving``: wrk against the live ``serve`` program and its ceiling.

In one run, on one machine, it measures requests/s and p50/p99 latency for 1-row and 100-row
CSV payloads at 1 and 16 connections, with keep-alive clients and ``Connection: close``
clients, against:

* ``serve``: the real program (granian + :mod:`byoc.app` + a trained iris tree);
* ``gunicorn``: the same app on the previous stack (gunicorn sync workers, ``serve --server gunicorn``);
* ``ceiling``: a no-op WSGI app on the identical granian command line;
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
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ml.backends.local.procs import free_port
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
DEFAULT_VARIANTS = ("serve", "gunicorn", "ceiling")
CLIENTS = ("keep-alive", "close")
_RESULT = re.compile(r"^BENCH (\d+) (\d+) (\d+) (\d+) (\d+)$", re.MULTILINE)
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


@dataclass(frozen=True, kw_only=True)
class Measurement:
    variant: str
    rows: int
    connections: int
    client: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    load_1m: float


def _wait_for_port(port: int, process: subprocess.Popen[bytes], *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ByocError(f"benchmark server exited with status {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise ByocError(f"benchmark server did not listen on port {port} within {timeout:.0f}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _python_env(root: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root / "ml" / "container"), str(root)])
    return env | extra


def _train_sample(root: Path, base_dir: Path) -> None:
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


def _wait_ready(port: int, process: subprocess.Popen[bytes], *, timeout: float = 90) -> None:
    """Wait for a 200 to a real prediction: gunicorn listens before its workers have loaded the model."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ByocError(f"benchmark server exited with status {process.returncode} before it was ready")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("POST", "/invocations", body=b"5.1,3.5,1.4,0.2\n", headers={"Content-Type": "text/csv"})
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise ByocError(f"benchmark server on port {port} did not answer a prediction within {timeout:.0f}s")


@contextmanager
def _server(root: Path, base_dir: Path, variant: str, workers: int, logs: Path) -> Iterator[tuple[int, int]]:
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
        _wait_for_port(port, server)
        _wait_ready(port, server)
        if variant != "nginx+serve":
            yield port, server.pid
            return
        front = free_port()
        conf = logs / "nginx.conf"
        conf.write_text(_NGINX.format(tmp=logs, backend=port, front=front), encoding="utf-8")
        nginx = subprocess.Popen(["nginx", "-p", str(logs), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(nginx)
        _wait_for_port(front, nginx)
        yield front, server.pid
    finally:
        for process in reversed(processes):
            _stop(process)


def _payload(training_csv: Path, rows: int) -> str:
    """``rows`` label-less iris rows, as batch transform would send them."""
    iris = [line.split(",", 1)[1] for line in training_csv.read_text(encoding="utf-8").splitlines()]
    return "\n".join(iris[i % len(iris)] for i in range(rows)) + "\n"


def _pss_per_worker_mb(master: int) -> float:
    """Mean proportional set size of the master's child processes (its workers), in MB."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text(encoding="utf-8").split()
    sizes = []
    for child in children:
        rollup = Path(f"/proc/{child}/smaps_rollup").read_text(encoding="utf-8")
        match = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
        if match:
            sizes.append(int(match.group(1)) / 1024)
    return sum(sizes) / len(sizes) if sizes else 0.0


def _wrk(
    port: int, *, body: str, connections: int, duration_s: float, scripts: Path, client: str = "keep-alive"
) -> tuple[int, float, float, float, int]:
    script = scripts / f"post-{len(body)}-{client}.lua"
    connection = 'wrk.headers["Connection"] = "close"\n' if client == "close" else ""
    script.write_text(_LUA.format(body=body, connection=connection), encoding="utf-8")
    argv = ["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{duration_s:g}s", "--latency", "-s", str(script)]
    result = subprocess.run(
        [*argv, f"http://127.0.0.1:{port}/invocations"], capture_output=True, text=True, timeout=duration_s + 60, check=False
    )
    match = _RESULT.search(result.stdout)
    if result.returncode != 0 or match is None:
        raise ByocError(f"wrk failed: {(result.stderr or result.stdout)[-300:]}")
    requests, duration_us, p50_us, p99_us, errors = (int(g) for g in match.groups())
    return requests, duration_us / 1e6, p50_us / 1e3, p99_us / 1e3, errors


def _markdown(results: list[Measurement], *, cpus: int, workers: int, duration_s: float, repeats: int, memory: dict[str, float]) -> str:
    ceiling = {(m.rows, m.connections, m.client): m.requests_per_s for m in results if m.variant == "ceiling"}
    lines = [
        "# Serving benchmark",
        "",
        f"`invoke bench --target serving`: wrk, median of {repeats} runs of {duration_s:g} s per cell (variants alternated), "
        f"{cpus} CPUs shared with wrk, {workers} workers per server, iris decision tree, CSV in and out. "
        "`serve` is granian, `gunicorn` the same app on gunicorn sync workers (the previous stack), "
        "`ceiling` a no-op WSGI app on serve's granian command line. `close` clients send `Connection: close`.",
        "",
        # Other engineers' suites share these cores: the figures mean little without the load.
        "Load average at the end of the run: " + " / ".join(f"{value:.1f}" for value in os.getloadavg()) + " (1/5/15 min); "
        "`load` is the 1-minute load average when the cell was measured.",
        "",
        "Memory per worker (PSS, after the run): " + ", ".join(f"{v} {mb:.1f} MB" for v, mb in memory.items()) + ".",
        "",
        "| variant | rows | connections | client | req/s | p50 ms | p99 ms | errors | % of ceiling | load |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        top = ceiling.get((m.rows, m.connections, m.client))
        share = f"{100 * m.requests_per_s / top:.0f}%" if top else "-"
        numbers = f"{m.requests_per_s:,.0f} | {m.p50_ms:.2f} | {m.p99_ms:.2f} | {m.errors}"
        lines.append(f"| {m.variant} | {m.rows} | {m.connections} | {m.client} | {numbers} | {share} | {m.load_1m:.1f} |")
    return "\n".join(lines) + "\n"


def _median_cell(variant: str, rows: int, connections: int, client: str, runs: list[tuple[int, float, float, float, int]]) -> Measurement:
    rates = sorted(requests / seconds for requests, seconds, _, _, _ in runs)
    p50s = sorted(run[2] for run in runs)
    p99s = sorted(run[3] for run in runs)
    middle = len(runs) // 2
    return Measurement(
        variant=variant, rows=rows, connections=connections, client=client, requests_per_s=rates[middle],
        p50_ms=p50s[middle], p99_ms=p99s[middle], errors=sum(run[4] for run in runs), load_1m=os.getloadavg()[0],
    )  # fmt: skip


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
) -> dict[str, Any]:
    """Benchmark ``serve`` against its ceiling; write the markdown table and return everything.

    All variants run at once (idle servers cost nothing) and each cell is measured ``repeats``
    times, alternating variants, reporting the median: on a shared machine, load drifts over
    minutes, and alternating keeps that drift from favouring whichever variant ran first.
    ``output`` defaults to ``root/docs/benchmarks/serving.md``. The returned dict holds
    ``results`` (one dict per cell), ``memory_mb`` (PSS per worker, by variant), ``markdown``
    (the table) and the run's settings.
    """
    unknown = [v for v in variants if v not in APPS]
    if unknown:
        raise UserInputError(f"unknown serving bench variant {unknown[0]!r}; choose from {', '.join(APPS)}")
    bad_clients = [k for k in clients if k not in CLIENTS]
    if bad_clients:
        raise UserInputError(f"unknown serving bench client {bad_clients[0]!r}; choose from {', '.join(CLIENTS)}")
    needed = ["wrk"] + (["nginx"] if "nginx+serve" in variants else [])
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing:
        raise UserInputError(f"{', '.join(missing)} not installed; on Debian: apt-get install {' '.join(missing)}")
    cpus = os.cpu_count() or 1
    worker_count = workers or cpus
    results: list[Measurement] = []
    memory: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp, ExitStack() as servers:
        base_dir, logs = Path(tmp) / "ml", Path(tmp) / "logs"
        logs.mkdir()
        _train_sample(root, base_dir)
        ports: dict[str, int] = {}
        masters: dict[str, int] = {}
        for variant in variants:
            variant_logs = logs / re.sub(r"\W", "-", variant)
            variant_logs.mkdir()
            ports[variant], masters[variant] = servers.enter_context(_server(root, base_dir, variant, worker_count, variant_logs))
        for row_count in rows:
            body = _payload(base_dir / "input" / "data" / "training" / "iris.csv", row_count)
            for variant in variants:
                # A short warm-up so the first cell does not pay for lazy imports and page faults.
                _wrk(ports[variant], body=body, connections=max(connections), duration_s=1, scripts=logs)
            for conns in connections:
                for client in clients:
                    runs: dict[str, list[tuple[int, float, float, float, int]]] = {v: [] for v in variants}
                    for _ in range(repeats):
                        for variant in variants:
                            measured = _wrk(
                                ports[variant], body=body, connections=conns, duration_s=duration_s, scripts=logs, client=client
                            )
                            runs[variant].append(measured)
                    for variant in variants:
                        cell = _median_cell(variant, row_count, conns, client, runs[variant])
                        log.info("%s", cell)
                        results.append(cell)
        memory = {variant: _pss_per_worker_mb(masters[variant]) for variant in variants}
    results.sort(key=lambda m: variants.index(m.variant))
    markdown = _markdown(results, cpus=cpus, workers=worker_count, duration_s=duration_s, repeats=repeats, memory=memory)
    target = output or root / "docs" / "benchmarks" / "serving.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(markdown, encoding="utf-8")
    log.info("wrote %s\n%s", target, markdown)
    return {
        "cpus": cpus, "workers": worker_count, "duration_s": duration_s, "repeats": repeats,
        "results": [asdict(m) for m in results], "memory_mb": memory, "markdown": markdown,
    }  # fmt: skip
