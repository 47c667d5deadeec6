"""Model artifacts as SageMaker keeps them: a ``model.tar.gz`` with a SHA-256, checked before use."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ml.errors import StateError


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_files(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def pack_model(model_dir: Path, archive: Path) -> str:
    """Tar the model directory's contents (as SageMaker does after training); return the SHA-256."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=archive.parent, suffix=".tmp")
    os.close(fd)
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            for path in sorted(model_dir.iterdir()):
                tar.add(path, arcname=path.name)
        os.replace(tmp, archive)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return sha256_file(archive)


def unpack_model(archive: Path, *, expected_sha256: str, into: Path) -> None:
    """Extract a verified artifact; a changed or missing file is refused, never served."""
    if not archive.is_file():
        raise StateError(f"model artifact {archive} is missing; retrain with `invoke train` or restore the file")
    actual = sha256_file(archive)
    if expected_sha256 and actual != expected_sha256:
        raise StateError(
            f"model artifact {archive} changed since it was registered (SHA-256 {actual[:12]}..., expected {expected_sha256[:12]}...)"
        )
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(into, filter="data")  # the data filter refuses absolute paths and links out
