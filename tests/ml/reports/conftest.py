"""One scratch project with two real training jobs, registered, shared by the report tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ml.backends.local.backend import LocalBackend
from ml.backends.local.programs import ProcessPrograms
from ml.backends.records import ModelVersion
from ml.config import load_config

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalBackend, ModelVersion, ModelVersion]:
    """(backend, v1 deep tree, v2 a stump of depth 1: visibly worse, so the comparison differs)."""
    root = tmp_path_factory.mktemp("reports-project")
    shutil.copytree(REPO / "data", root / "data", ignore=shutil.ignore_patterns("*.out"))
    shutil.copytree(REPO / "buildspecs", root / "buildspecs")  # for `invoke pipeline`'s approval
    shutil.copy(REPO / "cdktf.json", root / "cdktf.json")
    backend = LocalBackend(config=load_config(REPO / "cdktf.json"), root=root, programs=ProcessPrograms(code=REPO / "ml" / "container"))
    versions = []
    for depth in ("5", "1"):
        job = backend.train(hyperparameters={"max_depth": depth}, data=str(root / "data" / "iris.csv"))
        versions.append(backend.register(job_name=job.name, approval_status="PendingManualApproval"))
    return backend, versions[0], versions[1]
