"""Which commit is being built: from CodeBuild's variable, else from git.

A CodePipeline source artifact (``CODE_ZIP``) is a plain tree with no ``.git``, so inside
CodeBuild the commit comes from ``CODEBUILD_RESOLVED_SOURCE_VERSION`` (the commit id, for
CodeCommit and CodeConnections sources). A developer's checkout answers through git, which also
says whether the tree has uncommitted changes. This module is the one home of that rule.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ml.errors import UserInputError
from ml.gitrev import GitRevision, commit_tag
from ml.names import SOURCE_VERSION_ENV

# A git object id: SHA-1 (40 hex) or SHA-256 (64 hex).
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")

GitRunner = Callable[[Sequence[str]], str]


def run_git(argv: Sequence[str]) -> str:
    """Run git; any failure (no git, not a repository) is an ``OSError`` or ``CalledProcessError``."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # a question takes no index lock (see ml.gitrev)
    return subprocess.run(list(argv), capture_output=True, text=True, check=True, timeout=30, env=env).stdout


@dataclass(frozen=True, kw_only=True)
class SourceCommit:
    sha: str  # the full object id
    dirty: bool  # only git can know; CodeBuild sources are never dirty
    origin: Literal["codebuild", "git"]

    @property
    def tag(self) -> str:
        """The image tag: the full commit, ``-dirty`` when the tree has changes, so a tag never lies.

        Full, not short: the train pipeline knows the image only by its tags (the ECR source's
        imageDetail.json), and lineage records the full commit on both backends (ml.gitrev)."""
        return commit_tag(GitRevision(commit=self.sha, dirty=self.dirty))


def source_commit(root: Path, *, environ: Mapping[str, str], git: GitRunner = run_git) -> SourceCommit:
    """The commit of ``root``: ``$CODEBUILD_RESOLVED_SOURCE_VERSION`` when set, else git."""
    resolved = environ.get(SOURCE_VERSION_ENV, "").strip()
    if resolved:
        if not _SHA.match(resolved):
            raise UserInputError(
                f"{SOURCE_VERSION_ENV} is {resolved!r}, not a git commit id (40 or 64 lowercase hex); "
                "the source must be a CodeCommit or CodeConnections repository, or pass --tag"
            )
        return SourceCommit(sha=resolved, dirty=False, origin="codebuild")
    try:
        sha = git(["git", "-C", str(root), "rev-parse", "HEAD"]).strip()
        dirty = bool(git(["git", "-C", str(root), "status", "--porcelain"]).strip())
    except (OSError, subprocess.SubprocessError) as err:
        raise UserInputError(
            f"cannot tell which commit {root} is: it is not a git checkout (or git is missing) and "
            f"{SOURCE_VERSION_ENV} is not set; pass --tag TAG to name the image yourself"
        ) from err
    if not _SHA.match(sha):
        raise UserInputError(f"git rev-parse HEAD in {root} printed {sha!r}, not a commit id; pass --tag TAG")
    return SourceCommit(sha=sha, dirty=dirty, origin="git")
