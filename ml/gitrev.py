"""Which commit this is: the one module that reads the checkout's revision, from git or from CodeBuild.

Lineage keeps the full 40-hex commit and a separate ``dirty`` flag: a short hash can collide, and
``-dirty`` glued to the hash is not a commit anyone can check out. Image tags, which must say
both in one string, use :attr:`GitRevision.tag` and are read back with :func:`split_commit_tag`.

A CodePipeline source artifact (``CODE_ZIP``) is a plain tree with no ``.git``, so inside
CodeBuild the commit of the source being built comes from ``CODEBUILD_RESOLVED_SOURCE_VERSION``
(the commit id, for CodeCommit and CodeConnections sources); a developer's checkout answers
through git, which also says whether the tree has uncommitted changes (:func:`source_revision`).
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
from ml.names import SOURCE_VERSION_ENV

DIRTY_SUFFIX = "-dirty"
# `git status` refreshes the index under .git/index.lock when it can; a question must not, or it
# makes a concurrent git command that needs the lock (a commit, a rehearsal export) fail.
NO_OPTIONAL_LOCKS = {"GIT_OPTIONAL_LOCKS": "0"}
# A git object id: SHA-1 (40 hex) or SHA-256 (64 hex).
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")

GitRunner = Callable[[Sequence[str]], str]


def run_git(argv: Sequence[str]) -> str:
    """Run git without optional locks; any failure (no git, not a repository) is an ``OSError`` or
    ``subprocess.SubprocessError``."""
    env = {**os.environ, **NO_OPTIONAL_LOCKS}
    return subprocess.run(list(argv), capture_output=True, text=True, check=True, timeout=30, env=env).stdout


# What GitRevision.tag makes: a full commit, maybe marked dirty. Image tags are an unordered set (ECR
# documents no order for imageTags), so the commit tag is found by its form, never its position.
COMMIT_TAG = re.compile(rf"^(?:[0-9a-f]{{40}}|[0-9a-f]{{64}})(?:{DIRTY_SUFFIX})?$")  # SHA-1 or SHA-256 git


@dataclass(frozen=True, kw_only=True)
class GitRevision:
    commit: str  # the full object id, or "" when unknown (outside a checkout)
    dirty: bool  # only git can know; CodeBuild sources are never dirty
    origin: Literal["git", "codebuild", ""] = "git"

    @property
    def tag(self) -> str:
        """``<commit>[-dirty]``: the image tag, so a tag never lies about the tree it was built from.

        Full, not short: the train pipeline knows the image only by its tags (the ECR source's
        imageDetail.json), and lineage records the full commit on both backends."""
        return f"{self.commit}{DIRTY_SUFFIX if self.dirty else ''}"


def head_commit(root: Path, *, git: GitRunner = run_git) -> str:
    """HEAD's full object id; a UserInputError when ``root`` is not a git checkout with a commit."""
    try:
        sha = git(["git", "-C", str(root), "rev-parse", "HEAD"]).strip()
    except (OSError, subprocess.SubprocessError) as err:
        raise UserInputError(f"cannot read HEAD of {root}: it is not a git checkout with a commit (or git is missing)") from err
    if not _SHA.match(sha):
        raise UserInputError(f"git rev-parse HEAD in {root} printed {sha!r}, not a commit id")
    return sha


def _from_git(root: Path, git: GitRunner) -> GitRevision:
    sha = head_commit(root, git=git)
    try:
        dirty = bool(git(["git", "-C", str(root), "status", "--porcelain"]).strip())
    except (OSError, subprocess.SubprocessError) as err:
        raise UserInputError(f"git status failed in {root}; cannot tell whether the tree has changes") from err
    return GitRevision(commit=sha, dirty=dirty, origin="git")


def read_revision(root: Path, *, git: GitRunner = run_git) -> GitRevision:
    """HEAD's commit and whether the work tree differs from it; empty outside a checkout, because a
    model trained from a plain folder is still a model (its lineage then names no commit)."""
    try:
        return _from_git(root, git)
    except UserInputError:
        return GitRevision(commit="", dirty=False, origin="")


def source_revision(root: Path, *, environ: Mapping[str, str], git: GitRunner = run_git) -> GitRevision:
    """The commit being built from ``root``: ``$CODEBUILD_RESOLVED_SOURCE_VERSION`` when set, else git's.

    Unlike :func:`read_revision` it never answers "unknown": an image must be tagged with its commit,
    so a missing answer is a UserInputError that says to pass ``--tag``.
    """
    resolved = environ.get(SOURCE_VERSION_ENV, "").strip()
    if resolved:
        if not _SHA.match(resolved):
            raise UserInputError(
                f"{SOURCE_VERSION_ENV} is {resolved!r}, not a git commit id (40 or 64 lowercase hex); "
                "the source must be a CodeCommit or CodeConnections repository, or pass --tag"
            )
        return GitRevision(commit=resolved, dirty=False, origin="codebuild")
    try:
        return _from_git(root, git)
    except UserInputError as err:
        raise UserInputError(
            f"cannot tell which commit {root} is ({err}) and {SOURCE_VERSION_ENV} is not set; pass --tag TAG to name the image yourself"
        ) from err


def commit_tag_among(tags: list[str]) -> str:
    """The one tag of ``tags`` that has the form :attr:`GitRevision.tag` makes, or ``""`` when none does."""
    found = sorted({t for t in tags if COMMIT_TAG.match(t)})
    return found[0] if len(found) == 1 else ""


def split_commit_tag(tag: str) -> GitRevision:
    """``<commit>[-dirty]`` (an image tag or a lineage tag) back into commit and flag."""
    return GitRevision(commit=tag.removesuffix(DIRTY_SUFFIX), dirty=tag.endswith(DIRTY_SUFFIX))
