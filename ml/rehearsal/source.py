"""The tree CodePipeline hands to CodeBuild: a CODE_ZIP of one commit, with no ``.git``.

A clean checkout exports ``HEAD``. Uncommitted work is rehearsed too: ``git stash create`` makes
a real commit object of the tracked files' current contents (index and working tree) without
touching any branch, stash or file, and that commit is exported and given as
``CODEBUILD_RESOLVED_SOURCE_VERSION``, so the image tag names exactly the tree that was built.
Untracked files are left out, as a push would leave them out: ``git add`` them to rehearse them.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from ml.errors import UserInputError


def _git(root: Path, *args: str) -> bytes:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False, timeout=120)
    if proc.returncode != 0:
        raise UserInputError(f"`git {' '.join(args)}` failed in {root}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def source_commit(root: Path) -> str:
    """HEAD when the tracked files are clean, else a commit object of their current contents."""
    stashed = _git(root, "stash", "create", "rehearsal: uncommitted work").decode().strip()
    return stashed or _git(root, "rev-parse", "HEAD").decode().strip()


def export_tree(root: Path, *, commit: str, destination: Path) -> Path:
    """Unpack ``git archive <commit>`` into ``destination`` (which must not exist yet)."""
    archive = _git(root, "archive", "--format=tar", commit)
    destination.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="tar")
    return destination
