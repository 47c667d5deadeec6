"""Helpers for the console tests: versions in a local registry, a report folder, page text."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

from flask.testing import FlaskClient

from ml.backends.local.backend import LocalBackend
from ml.backends.local.registry import KIND
from ml.backends.records import ApprovalEvent, Lineage, ModelVersion
from ml.config import ProjectConfig, load_config
from ml.reports.baseline import BaselineSummary
from ml.reports.folder import write_report
from ml.reports.local import report_folder
from ml.reports.page import Scored
from ml.reports.scores import score

REPO = Path(__file__).resolve().parents[3]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
HOSTILE_METRIC = "<img src=x onerror=alert(1)>"
TEST_SECRET = "s" * 64


@dataclass(frozen=True)
class Project:
    root: Path
    config: ProjectConfig
    backend: LocalBackend


def make_project(root: Path, **overrides: object) -> Project:
    """A project folder with its own cdktf.json (what a granian worker loads), ``overrides`` applied."""
    document = json.loads((REPO / "cdktf.json").read_text(encoding="utf-8"))
    document["context"].update(overrides)
    (root / "cdktf.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    config = load_config(root / "cdktf.json")
    return Project(root=root, config=config, backend=LocalBackend(config=config, root=root))


def put_version(
    project: Project, number: int, *, status: str = "PendingManualApproval", metrics: dict[str, float] | None = None
) -> ModelVersion:
    """A version record as the local registry writes it on registration."""
    version = ModelVersion(
        group=project.config.model_package_group,
        version=number,
        approval_status=status,  # type: ignore[arg-type]
        artifact_uri=str(project.root / "jobs" / f"job-{number}" / "model.tar.gz"),
        artifact_sha256="f" * 64,
        training_job=f"job-{number}",
        metrics={"train:accuracy": 0.9 + number / 10_000} if metrics is None else metrics,
        lineage=Lineage(
            git_commit=COMMIT,
            data_uri=str(project.root / "data" / "iris.csv"),
            data_version="d" * 64,
            training_job=f"job-{number}",
            hyperparameters={"max_depth": str(number % 7 + 1)},
        ),
        created_at=f"2026-12-01T00:{number // 60 % 60:02d}:{number % 60:02d}.000+00:00",
        approvals=(ApprovalEvent(status="PendingManualApproval", by="tester@host", at="2026-12-01T00:00:00.000+00:00", note="registered"),),
    )
    project.backend.store.put(KIND, f"{version.group}-{number:06d}", version.to_dict())
    return version


def put_report(project: Project, candidate: ModelVersion, serving: ModelVersion | None = None) -> Path:
    """A real report folder (index.html, confusion.png, scores.json) from known labels and predictions."""
    labels = ["setosa"] * 4 + ["versicolor"] * 4
    mine = Scored(version=candidate, scores=score(labels, ["setosa"] * 4 + ["versicolor"] * 3 + ["setosa"]))
    theirs = Scored(version=serving, scores=score(labels, ["setosa"] * 4 + ["setosa"] * 4)) if serving else None
    files = write_report(
        folder=report_folder(state=project.root / project.config.local_state_dir, version=candidate),
        candidate=mine,
        serving=theirs,
        baseline=BaselineSummary(missing=("statistics.json",)),
        data="data/iris.csv",
    )
    return files.folder


def text_of(page: str) -> str:
    """A page's visible text, tags dropped and entities decoded, whitespace squeezed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def csrf_of(client: FlaskClient, path: str) -> str:
    """The CSRF token a page's form carries (the page also sets the session cookie it matches)."""
    html = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, f"no CSRF field on {path}"
    return found.group(1)
