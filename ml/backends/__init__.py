"""Lifecycle backends: ``local`` (default, one machine) and ``sagemaker`` (AWS).

Backends are imported lazily so that using one never pays for the other's imports.
"""

from __future__ import annotations

from pathlib import Path

from ml.backends.base import Backend, LogSink
from ml.config import ProjectConfig
from ml.errors import UserInputError

BACKENDS = ("local", "sagemaker")


def make_backend(name: str, *, config: ProjectConfig, root: Path, runtime: str = "process", on_event: LogSink | None = None) -> Backend:
    """Build the named backend for the project at ``root``.

    ``runtime`` matters to the local backend only: ``process`` runs the container's programs
    from the checkout, ``image`` runs them inside the built image. ``on_event`` hears what a
    verb decided on its own (an update that is a no-op, a traffic shift).
    """
    if name == "local":
        from ml.backends.local.backend import LocalBackend

        return LocalBackend(config=config, root=root, runtime=runtime, on_event=on_event)
    if name == "sagemaker":
        from ml.backends.sagemaker.backend import SageMakerBackend

        return SageMakerBackend.from_project(config=config, root=root, on_log=on_event)
    raise UserInputError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
