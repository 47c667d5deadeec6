"""The approver's view locally: the candidate's metrics beside the serving version's, and the report."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ml.backends.local.backend import LocalBackend
from ml.backends.records import ModelVersion
from ml.errors import UserInputError
from ml.pipeline import run_pipeline
from ml.reports.approval import Review, review

REPO = Path(__file__).resolve().parents[3]
Trained = tuple[LocalBackend, ModelVersion, ModelVersion]


def _row(lines: list[str], name: str) -> list[str]:
    return next(line.split() for line in lines if line.split()[:1] == [name])


def test_the_comparison_puts_the_candidate_beside_the_serving_version(trained: Trained) -> None:
    backend, serving, candidate = trained
    seen = review(backend, version=candidate.version)
    assert seen.serving is None and seen.report is not None  # nothing is deployed in this project
    beside = Review(candidate=seen.candidate, serving=serving, report=seen.report)
    lines = beside.lines()
    assert lines[0].split() == ["metric", "candidate", f"v{candidate.version}", "serving", f"v{serving.version}"]
    mine, theirs = candidate.metrics["train:accuracy"], serving.metrics["train:accuracy"]
    assert mine != theirs
    assert _row(lines, "train:accuracy") == ["train:accuracy", f"{mine:.4f}", f"{theirs:.4f}"]
    assert lines[-1] == f"  report: {seen.report.index}" and seen.report.index.is_file()
    assert "(nothing serving yet)" in seen.lines()[0]


def test_the_pipeline_prompt_shows_the_comparison_and_the_report_before_asking(trained: Trained, tmp_path: Path) -> None:
    backend, _serving, candidate = trained
    root = tmp_path / "project"
    shutil.copytree(backend.root, root)  # the records point at the shared artifacts, which stay put
    lines: list[str] = []
    asked: list[str] = []

    def ask(question: str) -> str:
        asked.append(question)
        return "n"

    with pytest.raises(UserInputError, match="rejected at the prompt"):
        run_pipeline(root=root, approve=False, emit=lines.append, runner=lambda *_: 0, ask=ask, interactive=True)
    assert len(asked) == 1 and f"version {candidate.version}" in asked[0]
    shown = next(i for i, line in enumerate(lines) if "candidate v2" in line)
    assert _row(lines[shown:], "train:accuracy") == ["train:accuracy", f"{candidate.metrics['train:accuracy']:.4f}"]
    report = Path(next(line for line in lines if "report:" in line).split("report: ")[1])
    assert report.is_file() and report.is_relative_to(root)


def test_invoke_report_writes_the_newest_versions_report_and_prints_where(trained: Trained, tmp_path: Path) -> None:
    backend, _serving, candidate = trained
    root = tmp_path / "project"
    shutil.copytree(backend.root, root)
    shutil.copy(REPO / "tasks.py", root / "tasks.py")
    for package in ("ml", "tools"):  # tasks.py finds the bench collection in tools/
        (root / package).symlink_to(REPO / package)
    done = subprocess.run([sys.executable, "-m", "invoke", "report"], cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    index = Path(done.stdout.splitlines()[-1].split("report: ")[1])
    assert index == root / ".byoc" / "reports" / f"{candidate.group}-{candidate.version:06d}" / "index.html"
    assert index.is_file()

    argv = [sys.executable, "-m", "invoke", "report", "--version", "9"]
    missing = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
    assert missing.returncode == 1 and "model version 9 does not exist" in missing.stderr
