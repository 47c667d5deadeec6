"""Fixtures for the local backend: a scratch project, trained once per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from kill_helpers import trained_project
from local_helpers import REPO, BreakablePrograms, Project, make_backend

from ml.backends.local.backend import LocalBackend
from ml.backends.local.programs import ProcessPrograms
from ml.config import load_config


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """One scratch project with versions 1 and 2 trained (different depths) and approved.

    Training costs seconds, so it happens once; tests add versions by re-registering these jobs.
    """
    root = tmp_path_factory.mktemp("project")
    data = root / "data" / "iris.csv"
    data.parent.mkdir()
    shutil.copy(REPO / "data" / "iris.csv", data)
    programs = BreakablePrograms(real=ProcessPrograms(code=REPO / "ml" / "container"))
    backend = make_backend(root, programs)
    for depth in ("8", "2"):
        job = backend.train(hyperparameters={"max_depth": depth, "random_state": "0"}, data=str(data))
        version = backend.register(job_name=job.name)
        backend.approve(version=version.version, note="test fixture")
    yield Project(root=root, backend=backend, programs=programs, data=data)
    backend.teardown_all()


@pytest.fixture(scope="session")
def cli_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A scratch copy of the project that `invoke` runs in, versions 1 and 2 trained and approved."""
    root = trained_project(tmp_path_factory.mktemp("cli"))
    yield root
    LocalBackend(config=load_config(root / "cdktf.json"), root=root).teardown_all()
