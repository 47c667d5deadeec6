"""The checkout's git revision, in the one form lineage records it on both backends.

Lineage keeps the full 40-hex commit and a separate ``dirty`` flag: a short hash can collide, and
``-dirty`` glued to the hash is not a commit anyone can check out. Image tags, which must say
both in one string, use :func:`commit_tag` and are read back with :func:`split_commit_tag`.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

DIRTY_SUFFIX = "-dirty"
# What commit_tag makes: a full commit, maybe marked dirty. Image tags are an unordered set (ECR
# documents no order for imageTags), so the commit tag is found by its form, never its position.
COMMIT_TAG = re.compile(rf"^(?:[0-9a-f]{{40}}|[0-9a-f]{{64}})(?:{DIRTY_SUFFIX})?$")  # SHA-1 or SHA-256 git


@dataclass(frozen=True, kw_only=True)
class GitRevision:
    commit: str  # 40 hex digits, or "" outside a git checkout
    dirty: bool


def _git(root: Path, *args: str) -> str | None:
    # `git status` refreshes the index under .git/index.lock when it can; a question must not, or
    # it makes a concurrent git command that needs the lock (a commit, a rehearsal export) fail.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=False, env=env)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def read_revision(root: Path) -> GitRevision:
    """HEAD's full commit and whether the work tree differs from it; empty outside a checkout."""
    commit = (_git(root, "rev-parse", "HEAD") or "").strip()
    if not commit:
        return GitRevision(commit="", dirty=False)
    return GitRevision(commit=commit, dirty=bool((_git(root, "status", "--porcelain") or "").strip()))


def commit_tag(revision: GitRevision) -> str:
    return f"{revision.commit}{DIRTY_SUFFIX if revision.dirty else ''}"


def commit_tag_among(tags: list[str]) -> str:
    """The one tag of ``tags`` that has the form :func:`commit_tag` makes, or ``""`` when none does."""
    found = sorted({t for t in tags if COMMIT_TAG.match(t)})
    return found[0] if len(found) == 1 else ""


def split_commit_tag(tag: str) -> GitRevision:
    """``<commit>[-dirty]`` (an image tag or a lineage tag) back into commit and flag."""
    return GitRevision(commit=tag.removesuffix(DIRTY_SUFFIX), dirty=tag.endswith(DIRTY_SUFFIX))
