"""The exported tree is one commit's files with no .git, uncommitted work included; the plan's vocabulary."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ml.errors import UserInputError
from tools.rehearsal.faults import FAULTS
from tools.rehearsal.plan import MAIN, parse_faults, plan
from tools.rehearsal.source import export_tree, snapshot_commit


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "t")
    (root / "a.txt").write_text("committed\n")
    git(root, "add", "a.txt")
    git(root, "commit", "-qm", "first")
    return root


def test_a_clean_tree_exports_head_without_git(repo: Path, tmp_path: Path) -> None:
    commit = snapshot_commit(repo)
    assert commit == git(repo, "rev-parse", "HEAD")
    out = export_tree(repo, commit=commit, destination=tmp_path / "out")
    assert (out / "a.txt").read_text() == "committed\n"
    assert not (out / ".git").exists()


def test_uncommitted_work_is_exported_as_its_own_commit_without_touching_the_repository(repo: Path, tmp_path: Path) -> None:
    (repo / "a.txt").write_text("edited\n")
    (repo / "untracked.txt").write_text("not added\n")
    head = git(repo, "rev-parse", "HEAD")
    commit = snapshot_commit(repo)
    assert commit != head and len(commit) == 40
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "stash", "list") == ""
    assert (repo / "a.txt").read_text() == "edited\n"
    out = export_tree(repo, commit=commit, destination=tmp_path / "out")
    assert (out / "a.txt").read_text() == "edited\n"
    assert not (out / "untracked.txt").exists()


def test_uncommitted_work_is_exported_while_another_git_holds_the_index_lock(repo: Path, tmp_path: Path) -> None:
    # A concurrent `git status` or editor holds .git/index.lock; `git stash create` then exits 255
    # without a word. The export must not need the checkout's index at all.
    (repo / "a.txt").write_text("edited under a lock\n")
    git(repo, "rm", "-q", "--cached", "a.txt")  # index and tree differ from HEAD: a deletion staged, an edit unstaged
    (repo / "a.txt").write_text("edited under a lock\n")
    lock = repo / ".git" / "index.lock"
    lock.write_text("")
    try:
        commit = snapshot_commit(repo)
    finally:
        lock.unlink()
    out = export_tree(repo, commit=commit, destination=tmp_path / "out")
    assert (out / "a.txt").read_text() == "edited under a lock\n"
    assert git(repo, "log", "-1", "--format=%an %P", commit) == f"rehearsal {git(repo, 'rev-parse', 'HEAD')}"


def test_faults_parse_and_unknown_ones_are_named() -> None:
    assert parse_faults("") == ()
    assert parse_faults("all") == FAULTS
    assert parse_faults("training-failed, endpoint-failed") == ("training-failed", "endpoint-failed")
    with pytest.raises(UserInputError, match="unknown fault 'oops'; choose one of training-failed"):
        parse_faults("oops")


def test_the_plan_runs_the_main_flow_then_each_fault() -> None:
    full = plan(faults=FAULTS)
    assert full[: len(MAIN)] == MAIN
    assert {s.fault for s in full if s.fault} == set(FAULTS)
    only_build = plan(faults=(), pipelines=("build",))
    assert [s.pipeline for s in only_build] == ["build", "build"]
    assert {s.pipeline for s in plan(faults=(), pipelines=("train",))} == {"build", "train"}  # train needs the image
    assert plan(faults=(), pipelines=("deploy",)) == MAIN  # approve, rollback, teardown included
    assert plan(faults=("training-failed",), pipelines=("build",))[: len(MAIN)] == MAIN  # a fault needs the main flow


@pytest.mark.parametrize(
    ("arg", "qualified"),
    [
        ("debian:bookworm-slim", "docker.io/library/debian:bookworm-slim"),
        ("python/slim:3.11", "docker.io/python/slim:3.11"),
        ("public.ecr.aws/debian/debian:bookworm", "public.ecr.aws/debian/debian:bookworm"),
    ],
)
def test_the_dockerfile_base_is_named_as_a_pull_would_name_it(tmp_path: Path, arg: str, qualified: str) -> None:
    from tools.rehearsal.run import dockerfile_base

    (tmp_path / "Dockerfile").write_text(f"ARG BASE_IMAGE={arg}\nFROM ${{BASE_IMAGE}}\n")
    assert dockerfile_base(tmp_path / "Dockerfile") == qualified
