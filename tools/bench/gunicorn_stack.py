"""The previous serving stack, gunicorn sync workers, rebuilt for the benchmark's same-run comparison.

The image holds one server (granian, ``serve``); gunicorn lives only here, in a throwaway virtual
environment the bench builds itself (:func:`tools.bench.peers.ensure_venv`), as it does for
MLflow. That environment gets the image's own pinned numpy, scipy, scikit-learn and skops (read
from ``ml/container/requirements.txt``, so the cache key follows the image), plus gunicorn and
Flask. The command line is the one ``serve`` ran before granian replaced it, including the
master-side import of the serving code (``gunicorn_prefork.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

GUNICORN = "gunicorn==27.0.1"
FLASK = "flask==3.1.3"
# The image's server and its one dependency: gunicorn replaces them here.
_IMAGE_SERVER = ("granian", "click")
_HERE = Path(__file__).resolve().parent
# variant -> the WSGI app gunicorn serves
APPS = {
    "gunicorn": "byoc.app:create_app()",
    "gunicorn-ceiling": "tools.bench.noop_app:app",
    "flask": "tools.bench.flask_app:create_app()",
}


def requirements(container: Path) -> tuple[str, ...]:
    """gunicorn, Flask, and every pin of the image but its own server (the model's libraries, exactly)."""
    text = (container / "requirements.txt").read_text(encoding="utf-8")
    pinned = re.findall(r"^([a-z][a-z0-9-]*)==(\S+) \\$", text, re.MULTILINE)
    if not pinned:
        raise ValueError(f"{container / 'requirements.txt'} pins nothing; the bench cannot match the image's libraries")
    return (GUNICORN, FLASK, *(f"{name}=={version}" for name, version in pinned if name not in _IMAGE_SERVER))


def gunicorn_argv(venv: Path, *, app: str, port: int, workers: int, timeout_s: int = 60) -> list[str]:
    """gunicorn serving ``app`` on 127.0.0.1:``port``, as ``serve --server gunicorn`` ran it."""
    argv = [
        str(venv / "bin" / "python"), "-m", "gunicorn",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        # Sync workers: the work is CPU-bound and short, so threads would only add GIL contention.
        "--worker-class", "sync",
        "--timeout", str(timeout_s),
        "--graceful-timeout", str(min(timeout_s, 30)),
        "--log-level", "warning",
        "--error-logfile", "-",
        # The control socket sits at one path under $HOME: two servers on a machine would collide.
        "--no-control-socket",
    ]  # fmt: skip
    shm = Path("/dev/shm")  # noqa: S108  (a private per-worker heartbeat file, not shared data)
    if shm.is_dir():
        argv += ["--worker-tmp-dir", str(shm)]
    if app == APPS["gunicorn"]:
        # Import the serving code once in the master; workers fork from it. The ceilings run bare.
        argv += ["--config", str(_HERE / "gunicorn_prefork.py")]
    return [*argv, app]
