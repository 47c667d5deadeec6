"""ml.gitrev: the one reader of the checkout's revision, from a real git repository or CodeBuild's variable."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ml.errors import UserInputError
from ml.gitrev import GitRevision, head_commit, read_revision, source_revision, split_commit_tag
from ml.names import SOURCE_VERSION_ENV

CODEBUILD_SHA = "89abcdef" * 5


def _checkout(root: Path) -> str:
    (root / "file.txt").write_text("one\n", encoding="utf-8")
    for argv in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one"]):
        subprocess.run(["git", "-C", str(root), *argv], check=True, capture_output=True)
    return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def test_a_clean_then_changed_checkout(tmp_path: Path) -> None:
    sha = _checkout(tmp_path)
    assert read_revision(tmp_path) == GitRevision(commit=sha, dirty=False, origin="git")
    (tmp_path / "file.txt").write_text("two\n", encoding="utf-8")
    changed = read_revision(tmp_path)
    assert (changed.commit, changed.dirty, changed.tag) == (sha, True, f"{sha}-dirty")
    assert split_commit_tag(changed.tag) == GitRevision(commit=sha, dirty=True)
    assert head_commit(tmp_path) == sha


def test_outside_a_checkout_lineage_reads_nothing_but_an_image_tag_is_refused(tmp_path: Path) -> None:
    assert read_revision(tmp_path) == GitRevision(commit="", dirty=False, origin="")
    with pytest.raises(UserInputError, match=f"not a git checkout.*{SOURCE_VERSION_ENV} is not set.*--tag"):
        source_revision(tmp_path, environ={})


def test_codebuilds_variable_wins_over_git_and_must_be_a_commit_id(tmp_path: Path) -> None:
    _checkout(tmp_path)
    (tmp_path / "file.txt").write_text("changed\n", encoding="utf-8")
    built = source_revision(tmp_path, environ={SOURCE_VERSION_ENV: CODEBUILD_SHA})
    assert built == GitRevision(commit=CODEBUILD_SHA, dirty=False, origin="codebuild")
    with pytest.raises(UserInputError, match="'v1.2', not a git commit id"):
        source_revision(tmp_path, environ={SOURCE_VERSION_ENV: "v1.2"})


def test_a_git_that_prints_no_commit_id_is_not_believed(tmp_path: Path) -> None:
    def odd_git(argv: object) -> str:
        return "HEAD\n"

    with pytest.raises(UserInputError, match="printed 'HEAD', not a commit id"):
        source_revision(tmp_path, environ={}, git=odd_git)
    assert read_revision(tmp_path, git=odd_git).commit == ""
