"""A scratch project for benchmarks: the sample data, one trained and approved version, an endpoint."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ml.backends.local.backend import LocalBackend
from ml.backends.records import Endpoint
from ml.config import load_config


def approved_backend(*, root: Path, scratch: Path) -> LocalBackend:
    """A local backend in ``scratch`` with the project's config and one approved version trained on the sample data."""
    backend = LocalBackend(config=load_config(root / "cdktf.json"), root=scratch)
    data = scratch / "iris.csv"
    shutil.copy(root / "data" / "iris.csv", data)
    job = backend.train(data=str(data))
    backend.register(job_name=job.name, approval_status="Approved")
    return backend


@contextmanager
def deployed_endpoint(*, root: Path, name: str) -> Iterator[tuple[LocalBackend, Endpoint]]:
    """A real local endpoint of that version in a temporary project, torn down (and the folder removed) after."""
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as tmp:
        backend = approved_backend(root=root, scratch=Path(tmp))
        try:
            yield backend, backend.deploy_endpoint(endpoint_name=name)
        finally:
            backend.teardown(endpoint_name=name)
