"""The ``serve`` program: granian in front of :func:`byoc.app.create_app`, tuned from the environment.

granian (a Rust HTTP server with keep-alive connections) was chosen over gunicorn's sync workers
by measurement (docs/benchmarks/serving.md); ``--server gunicorn`` keeps the previous stack for
the benchmark's same-run comparison. Workers and timeout come from ``MODEL_SERVER_WORKERS`` and
``MODEL_SERVER_TIMEOUT``; the port from ``SAGEMAKER_BIND_TO_PORT`` (8080). Each worker loads and
verifies the model once (:mod:`byoc.worker`), so a respawned worker checks the artifact again.
The process is replaced by the server, so SageMaker's SIGTERM reaches its master directly and
shuts down gracefully, finishing requests in flight.
"""

from __future__ import annotations

import argparse
import os
import pwd
import sys
from collections.abc import Sequence
from pathlib import Path

from byoc import constants as c
from byoc import worker
from byoc.environment import Environment
from byoc.logs import configure

DEFAULT_APP = "byoc.app:create_app()"
SERVERS = ("granian", "gunicorn")
# Seconds between a worker's death and its replacement (granian's default, 3.5 s, leaves a
# one-worker endpoint without a worker for that long).
_RESPAWN_INTERVAL_S = 0.1


def granian_argv(env: Environment, *, host: str = c.DEFAULT_BIND_HOST) -> list[str]:
    """The granian command line; the app itself is named by ``BYOC_WSGI_APP`` (see :mod:`byoc.worker`)."""
    return [
        sys.executable, "-m", "granian",
        "--interface", "wsgi",
        "--factory",
        "--host", host,
        "--port", str(env.port),
        "--workers", str(env.workers),
        # One thread runs the app per worker: the work is CPU-bound and short; measured, a
        # second thread, a second Rust thread, --runtime-mode st and --backpressure (which
        # starves keep-alive connections) gave nothing (docs/container.md, "Tuning granian").
        "--blocking-threads", "1",
        "--http", "1",
        # Tuned for keep-alive clients: AWS does not document whether SageMaker's front end
        # reuses connections, and keep-alive is HTTP/1.1's default (docs/container.md).
        "--http1-keep-alive",
        "--respawn-failed-workers",
        "--respawn-interval", str(_RESPAWN_INTERVAL_S),
        # On SIGTERM requests in flight finish; a worker still busy after this long is killed.
        "--workers-kill-timeout", str(min(env.timeout_s, 30)),
        "--log-level", env.log_level.lower(),
        "--no-access-log",
        "byoc.worker:create_app",
    ]  # fmt: skip


def drop_privileges() -> None:
    """Become the image's unprivileged user when started as root, before the server starts.

    SageMaker starts containers as root and mounts /opt/ml as root, so the image cannot switch
    USER itself (training must write /opt/ml/model). granian has no option to switch user, so
    serve switches before exec: the port (8080) needs no privilege, and the workers, which parse
    untrusted request bodies, inherit the ``model`` user. Outside the image (no such user)
    nothing changes.
    """
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam(c.SERVING_USER)
    except KeyError:
        return
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)


def gunicorn_argv(env: Environment, *, app: str = DEFAULT_APP, host: str = c.DEFAULT_BIND_HOST) -> list[str]:
    """The gunicorn command line for ``app``; the benchmark's ceiling app reuses it unchanged."""
    argv = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"{host}:{env.port}",
        "--workers", str(env.workers),
        # Sync workers: the work is CPU-bound and short, so threads would only add GIL contention.
        "--worker-class", "sync",
        "--timeout", str(env.timeout_s),
        "--graceful-timeout", str(min(env.timeout_s, 30)),
        "--log-level", env.log_level.lower(),
        "--error-logfile", "-",
        # The control socket sits at one path under $HOME: two servers on a machine would collide.
        "--no-control-socket",
    ]  # fmt: skip
    shm = "/dev/shm"  # noqa: S108  (a private per-worker heartbeat file, not shared data)
    if Path(shm).is_dir():
        # Heartbeat files on tmpfs: a container's overlay disk can stall workers into timeouts.
        argv += ["--worker-tmp-dir", shm]
    argv += _drop_privileges()
    if app == DEFAULT_APP:
        # Import the serving code (numpy, no scikit-learn) once in the master; workers fork from it.
        # The benchmark's no-op ceiling app runs without it, as a bare server stack.
        argv += ["--config", "python:byoc.prefork"]
    return [*argv, app]


def _drop_privileges() -> list[str]:
    """Run the workers as the image's unprivileged user when started as root.

    SageMaker starts containers as root and mounts /opt/ml as root, so the image cannot switch
    USER itself (training must write /opt/ml/model). The master binds the port as root; the
    workers, which parse untrusted request bodies, run as ``model``. Outside the image (no such
    user) nothing changes.
    """
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(c.SERVING_USER)
    except KeyError:
        return []
    return ["--user", c.SERVING_USER, "--group", c.SERVING_USER]


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of ``serve``: validate the environment, then become the model server."""
    parser = argparse.ArgumentParser(prog="serve", description="Serve the model in $SAGEMAKER_BASE_DIR/model over HTTP.")
    parser.add_argument("--app", default=DEFAULT_APP, help="WSGI app, module:attr or module:factory() (benchmark: no-op)")
    parser.add_argument("--server", choices=SERVERS, default="granian", help="HTTP server (gunicorn: the old stack, for the benchmark)")
    options = parser.parse_args(args)
    env = Environment.from_environ()
    configure(env.log_level)
    child_env = dict(os.environ)
    # The workers import byoc from wherever this copy lives (checkout or image).
    package_root = str(Path(__file__).resolve().parent.parent)
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, child_env.get("PYTHONPATH", "")) if p)
    host = os.environ.get(c.BIND_HOST) or c.DEFAULT_BIND_HOST
    if options.server == "gunicorn":
        argv = gunicorn_argv(env, app=options.app, host=host)
    else:
        child_env[worker.APP_VARIABLE] = options.app
        argv = granian_argv(env, host=host)
        drop_privileges()
    os.execve(sys.executable, argv, child_env)  # noqa: S606  (fixed argv; replacing the process forwards signals)
    return 0  # pragma: no cover  (execve does not return)


if __name__ == "__main__":
    sys.exit(main())
