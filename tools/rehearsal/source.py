"""The tree CodePipeline hands to CodeBuild: a CODE_ZIP of one commit, with no ``.git``.

A clean checkout exports ``HEAD``. Uncommitted work is rehearsed too: the tracked files' current
contents are written as a real commit object (parent ``HEAD``) through a private index file, so
no branch, stash, file or the checkout's own index is touched, and that commit is exported and
given as ``CODEBUILD_RESOLVED_SOURCE_VERSION``: the image tag names exactly the tree that was
built. Untracked files are left out, as a push would leave them out: ``git add`` them to rehearse
them. (``git stash create`` would do the same but locks the checkout's index to refresh it, and
fails silently, exit 255 and no message, while any other git process holds that lock.)
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ml.errors import UserInputError
from ml.gitrev import NO_OPTIONAL_LOCKS, head_commit


def _git(root: Path, *args: str, env: Mapping[str, str] | None = None) -> bytes:
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False, timeout=120, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise UserInputError(
            f"`git {' '.join(args)}` failed in {root} (exit {proc.returncode}): {proc.stderr.decode(errors='replace').strip()}"
        )
    return proc.stdout


# The commit object's author when the machine has no git identity (CI, a fresh CodeBuild-like box).
_IDENTITY = {"GIT_AUTHOR_NAME": "rehearsal", "GIT_AUTHOR_EMAIL": "rehearsal@localhost"}


def snapshot_commit(root: Path) -> str:
    """HEAD when the tracked files are clean, else a commit object of their current contents."""
    head = head_commit(root)
    if not _git(root, "status", "--porcelain", "--untracked-files=no", env=NO_OPTIONAL_LOCKS).strip():
        return head
    with tempfile.TemporaryDirectory(prefix="rehearsal-index-") as scratch:
        private = {**NO_OPTIONAL_LOCKS, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
        _git(root, "read-tree", "HEAD", env=private)
        _git(root, "add", "--update", ".", env=private)  # tracked files as they are now, deletions included
        tree = _git(root, "write-tree", env=private).decode().strip()
    identity = {**_IDENTITY, "GIT_COMMITTER_NAME": _IDENTITY["GIT_AUTHOR_NAME"], "GIT_COMMITTER_EMAIL": _IDENTITY["GIT_AUTHOR_EMAIL"]}
    return _git(root, "commit-tree", tree, "-p", head, "-m", "rehearsal: uncommitted work", env=identity).decode().strip()


def export_tree(root: Path, *, commit: str, destination: Path) -> Path:
    """Unpack ``git archive <commit>`` into ``destination`` (which must not exist yet)."""
    archive = _git(root, "archive", "--format=tar", commit)
    destination.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="tar")
    return destination
