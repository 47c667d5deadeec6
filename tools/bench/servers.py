"""The servers the serving and capture benches measure, and wrk, the client that measures them.

``serve`` runs as the real program; the ceiling runs serve's own granian command line around a
no-op app (``BYOC_WSGI_APP``); the gunicorn variants run from the bench's own environment
(:mod:`tools.bench.gunicorn_stack`). Each is ready once it answers a real prediction.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ml.backends.local.procs import free_port
from ml.data import write_iris_csv
from ml.errors import ByocError
from tools.bench import gunicorn_stack, peers
from tools.bench.serving_procs import stop, wait_for_port
from tools.bench.serving_table import Run, parse_wrk

GRANIAN_APPS: dict[str, str | None] = {"serve": None, "ceiling": "tools.bench.noop_app:app", "nginx+serve": None}
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


def wait_ready(port: int, process: subprocess.Popen[bytes], *, body: bytes = b"5.1,3.5,1.4,0.2\n", timeout: float = 90) -> None:
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
def _running(argv: list[str], env: dict[str, str], port: int, log_file: Path, *, group: bool = False) -> Iterator[int]:
    """Start a server, wait until it predicts, yield its pid; stop it (and its group) afterwards."""
    with log_file.open("wb") as out:
        server = subprocess.Popen(argv, env=env, stdout=out, stderr=out, start_new_session=group)
    try:
        wait_for_port(port, server)
        wait_ready(port, server)
        yield server.pid
    finally:
        stop(server, group=group)


@contextmanager
def serve_variant(
    root: Path, base_dir: Path, variant: str, workers: int, logs: Path, *, venv: Path | None = None
) -> Iterator[tuple[int, int]]:
    """Run one variant; yield the port that wrk should hit and the model server's master pid.

    ``venv`` is the gunicorn stack's environment, needed by the gunicorn variants only.
    """
    port = free_port()
    env = _python_env(
        root, SAGEMAKER_BASE_DIR=str(base_dir), SAGEMAKER_BIND_TO_PORT=str(port), BYOC_BIND_HOST="127.0.0.1",
        MODEL_SERVER_WORKERS=str(workers), BYOC_LOG_LEVEL="WARNING",
    )  # fmt: skip
    if variant in gunicorn_stack.APPS:
        if venv is None:
            raise ValueError(f"the {variant} variant runs from the gunicorn stack's environment; pass venv")
        argv = gunicorn_stack.gunicorn_argv(venv, app=gunicorn_stack.APPS[variant], port=port, workers=workers)
        env = {k: v for k, v in env.items() if k not in {"VIRTUAL_ENV", "PIPENV_ACTIVE"}}
    else:
        argv = [sys.executable, "-m", "byoc.serve"]
        if app := GRANIAN_APPS[variant]:
            env["BYOC_WSGI_APP"] = app  # serve's own granian line and watchdog around the bench's app
    with ExitStack() as running:
        pid = running.enter_context(_running(argv, env, port, logs / f"{variant}.log"))
        if variant != "nginx+serve":
            yield port, pid
            return
        front = free_port()
        conf = logs / "nginx.conf"
        conf.write_text(_NGINX.format(tmp=logs, backend=port, front=front), encoding="utf-8")
        nginx = subprocess.Popen(["nginx", "-p", str(logs), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        running.callback(stop, nginx)
        wait_for_port(front, nginx)
        yield front, pid


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
