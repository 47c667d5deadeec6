"""The serving bench's peers: MLflow's scoring server and the original sample's Flask + pandas design.

Each peer runs from a throwaway virtual environment that the bench builds itself (``python -m
venv`` + ``pip install`` of pinned versions from the package index), never from the project's
Pipfile: the peers' dependencies (MLflow alone brings ~150 packages) must not leak into the
project, and each peer should be measured as its users would install it. An environment is
cached under ``~/.cache/byoc-bench/venvs/<key>``, the key being a hash of the pinned
requirements and the interpreter, so a second run reuses it; only an environment whose pip
install finished is marked complete, so an interrupted build is never trusted by a later run.

Both peers serve the same iris decision tree as ``serve``: the ``model.skops`` that
``byoc.train`` wrote (loaded with skops, its types trusted by name), saved again with
``mlflow.sklearn`` for MLflow.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ml.errors import ByocError

# The versions measured; change them here, and the cache key changes with them.
MLFLOW_REQUIREMENTS = ("mlflow==3.17.2", "scikit-learn==1.9.1", "skops==0.16.0", "pandas==3.1.1")
SAMPLE_REQUIREMENTS = ("flask==3.1.3", "pandas==3.1.1", "scikit-learn==1.9.1", "skops==0.16.0", "gunicorn==27.0.1")
# skops refuses to build types it is not told to trust; these are the decision tree's.
TRUSTED_TYPES = ("sklearn.tree._classes.DecisionTreeClassifier", "sklearn.tree._tree.Tree")
_HERE = Path(__file__).resolve().parent
_COMPLETE = ".complete"

Installer = Callable[[Path, Sequence[str]], None]


@dataclass(frozen=True, kw_only=True)
class Peer:
    """A server the bench compares ``serve`` with, and how to feed it."""

    name: Literal["mlflow", "sample"]
    requirements: tuple[str, ...]
    # MLflow reads CSV with pandas' default header=0: a body without a header row loses its first row.
    csv_header: bool


PEERS = {
    "mlflow": Peer(name="mlflow", requirements=MLFLOW_REQUIREMENTS, csv_header=True),
    "sample": Peer(name="sample", requirements=SAMPLE_REQUIREMENTS, csv_header=False),
}


def default_cache_dir() -> Path:
    """``$BYOC_BENCH_CACHE``, else ``$XDG_CACHE_HOME/byoc-bench``, else ``~/.cache/byoc-bench``."""
    explicit = os.environ.get("BYOC_BENCH_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "byoc-bench"


def venv_key(requirements: Sequence[str], *, python_version: str | None = None, machine: str | None = None) -> str:
    """A stable name for the environment of ``requirements``: order and case do not matter, versions do."""
    lines = sorted({line.strip().lower() for line in requirements if line.strip()})
    identity = "\n".join([f"python {python_version or platform.python_version()}", f"machine {machine or platform.machine()}", *lines])
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def pip_install(venv: Path, requirements: Sequence[str]) -> None:
    """Create a virtual environment at ``venv`` and install ``requirements`` into it with pip."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise ByocError(f"pip could not install {' '.join(requirements)} for the bench's peers: {result.stderr.strip()[-800:]}")


def ensure_venv(requirements: Sequence[str], *, cache_dir: Path, install: Installer = pip_install) -> Path:
    """The cached environment of ``requirements``, built first if missing; returns its folder.

    A venv's scripts name its absolute path in their first line, so it is built where it will
    stay; a marker written after pip succeeded is what makes it trusted. A folder without the
    marker (an interrupted or failed build) is removed and built again. A lock file keeps two
    bench runs from building the same environment at once.
    """
    venvs = cache_dir / "venvs"
    venvs.mkdir(parents=True, exist_ok=True)
    final = venvs / venv_key(requirements)
    marker = final / _COMPLETE
    with (venvs / f"{final.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return final
        shutil.rmtree(final, ignore_errors=True)
        try:
            install(final, requirements)
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise
        (final / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
        marker.write_text("pip install finished\n", encoding="utf-8")
    return final


def csv_body(rows: Sequence[str], *, header: bool, n_features: int) -> str:
    """The CSV request body for ``rows`` (label-less feature lines), with a header row if the peer wants one."""
    head = [",".join(f"f{i}" for i in range(n_features))] if header else []
    return "\n".join([*head, *rows]) + "\n"


def save_mlflow_model(venv: Path, *, model_dir: Path, output: Path) -> None:
    """Save ``model_dir``'s tree with ``mlflow.sklearn`` at ``output``, inside the peer's environment."""
    _run_in(venv, [str(_HERE / "peers_mlflow_save.py"), str(model_dir / "model.skops"), str(output), *TRUSTED_TYPES])


def server_argv(peer: Peer, venv: Path, *, port: int, workers: int, mlflow_model: Path | None = None) -> list[str]:
    """The command line that serves ``peer`` on 127.0.0.1:``port`` with ``workers`` processes."""
    python = str(venv / "bin" / "python")
    if peer.name == "mlflow":
        if mlflow_model is None:
            raise ValueError("the mlflow peer needs the saved model's folder")
        # --env-manager local: serve from this environment rather than building another from the model's.
        return [python, "-m", "mlflow", "models", "serve", "-m", str(mlflow_model), "--env-manager", "local",
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]  # fmt: skip
    # The sample's serve script ran the Flask app on gunicorn sync workers (behind an nginx, left out here).
    return [python, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "sync",
            "--chdir", str(_HERE), "--no-control-socket", "peers_sample_app:create_app()"]  # fmt: skip


def peer_env(base: Mapping[str, str], *, venv: Path, model_dir: Path) -> dict[str, str]:
    """The environment a peer runs in: the project's PYTHONPATH removed, its venv first on PATH, the model named.

    MLflow's CLI starts ``uvicorn`` by name through bash, so the venv's ``bin`` must lead PATH.
    """
    env = {k: v for k, v in base.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PIPENV_ACTIVE"}}
    path = os.pathsep.join(p for p in (str(venv / "bin"), env.get("PATH", "")) if p)
    return env | {"PATH": path, "PEER_MODEL_FILE": str(model_dir / "model.skops"), "PEER_TRUSTED_TYPES": ",".join(TRUSTED_TYPES)}


def _run_in(venv: Path, args: Sequence[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    result = subprocess.run([str(venv / "bin" / "python"), *args], env=env, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise ByocError(f"{Path(args[0]).name} failed in {venv}: {result.stderr.strip()[-800:]}")
