"""The ``serve`` program: granian in front of :func:`byoc.app.create_app`, tuned from the environment.

granian (a Rust HTTP server with keep-alive connections) was chosen over gunicorn's sync workers
by measurement (docs/benchmarks/serving.md; the benchmark builds its gunicorn comparison in an
environment of its own, so the image holds one server). Workers and timeout come from ``MODEL_SERVER_WORKERS`` and
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
from byoc.environment import Environment
from byoc.logs import configure

# Seconds between a worker's death and its replacement (granian's default, 3.5 s, leaves a
# one-worker endpoint without a worker for that long).
_RESPAWN_INTERVAL_S = 0.1


def granian_argv(env: Environment, *, host: str = c.DEFAULT_BIND_HOST) -> list[str]:
    """The granian command line; each worker serves :func:`byoc.worker.create_app`."""
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


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of ``serve``: validate the environment, then become the model server."""
    parser = argparse.ArgumentParser(prog="serve", description="Serve the model in $SAGEMAKER_BASE_DIR/model over HTTP.")
    parser.parse_args(args)
    env = Environment.from_environ()
    configure(env.log_level)
    child_env = dict(os.environ)
    # The workers import byoc from wherever this copy lives (checkout or image).
    package_root = str(Path(__file__).resolve().parent.parent)
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, child_env.get("PYTHONPATH", "")) if p)
    host = os.environ.get(c.BIND_HOST) or c.DEFAULT_BIND_HOST
    argv = granian_argv(env, host=host)
    drop_privileges()
    os.execve(sys.executable, argv, child_env)  # noqa: S606  (fixed argv; replacing the process forwards signals)
    return 0  # pragma: no cover  (execve does not return)


if __name__ == "__main__":
    sys.exit(main())
