"""The ``serve`` program: gunicorn in front of :func:`byoc.app.create_app`, tuned from the environment.

Workers and timeout come from ``MODEL_SERVER_WORKERS`` and ``MODEL_SERVER_TIMEOUT``; the port
from ``SAGEMAKER_BIND_TO_PORT`` (8080). The master imports the serving code before forking
(:mod:`byoc.prefork`), and each worker loads the model once (no ``--preload``), so a worker
restart re-verifies the artifact. The process is replaced by gunicorn, so
SageMaker's SIGTERM reaches gunicorn's master directly and shuts down gracefully.
"""

from __future__ import annotations

import argparse
import os
import pwd
import sys
from collections.abc import Sequence
from pathlib import Path

from byoc import constants as c
from byoc.environment import Environment
from byoc.logs import configure

DEFAULT_APP = "byoc.app:create_app()"


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
    """Entry point of ``serve``: validate the environment, then become gunicorn."""
    parser = argparse.ArgumentParser(prog="serve", description="Serve the model in $SAGEMAKER_BASE_DIR/model over HTTP.")
    parser.add_argument("--app", default=DEFAULT_APP, help="WSGI app spec for gunicorn (the benchmark passes a no-op app)")
    options = parser.parse_args(args)
    env = Environment.from_environ()
    configure(env.log_level)
    child_env = dict(os.environ)
    # The workers import byoc from wherever this copy lives (checkout or image).
    package_root = str(Path(__file__).resolve().parent.parent)
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, child_env.get("PYTHONPATH", "")) if p)
    argv = gunicorn_argv(env, app=options.app, host=os.environ.get(c.BIND_HOST) or c.DEFAULT_BIND_HOST)
    os.execve(sys.executable, argv, child_env)  # noqa: S606  (fixed argv; replacing the process forwards signals)
    return 0  # pragma: no cover  (execve does not return)


if __name__ == "__main__":
    sys.exit(main())
