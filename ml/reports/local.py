"""Reports on the local backend: next to the model version, under ``<state>/reports/``.

The candidate and the version now serving the configured endpoint are both scored on the
candidate's training data (the lineage's ``data_uri``), so the comparison is like for like.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ml.backends.local.artifacts import unpack_model
from ml.backends.records import ModelVersion
from ml.errors import NotFoundError, UserInputError
from ml.reports.baseline import BaselineSummary, summarize
from ml.reports.folder import ReportFiles, write_report
from ml.reports.page import Scored
from ml.reports.predict import evaluate
from ml.reports.scores import score

REPORTS_DIR = "reports"


def report_folder(*, state: Path, version: ModelVersion) -> Path:
    """``<state>/reports/<group>-<version>``: beside the version's record in the local registry."""
    return state / REPORTS_DIR / f"{version.group}-{version.version:06d}"


def _scored(version: ModelVersion, data: Path, work: Path) -> tuple[Scored, BaselineSummary]:
    model_dir = work / f"v{version.version}"
    unpack_model(Path(version.artifact_uri), expected_sha256=version.artifact_sha256, into=model_dir)
    result = evaluate(model_dir=model_dir, data=data)
    return Scored(version=version, scores=score(result.labels, result.predictions)), summarize(model_dir)


def evaluation_data(version: ModelVersion, data: Path | None) -> Path:
    chosen = data or (Path(version.lineage.data_uri) if version.lineage.data_uri else None)
    if chosen is None:
        raise UserInputError(f"model version {version.version} records no training data (lineage data_uri); pass the evaluation CSV")
    return chosen


def write_local_report(*, state: Path, candidate: ModelVersion, serving: ModelVersion | None, data: Path | None = None) -> ReportFiles:
    """Score ``candidate`` (and ``serving``) and write the candidate's report folder."""
    if not candidate.metrics:
        raise UserInputError(f"model version {candidate.version} has no metrics; retrain it with `invoke train`")
    source = evaluation_data(candidate, data)
    with tempfile.TemporaryDirectory(prefix="byoc-report-") as tmp:
        mine, baseline = _scored(candidate, source, Path(tmp))
        theirs = _scored(serving, source, Path(tmp))[0] if serving is not None and serving.version != candidate.version else None
    if serving is not None and serving.version == candidate.version:
        theirs = mine  # the candidate is the one serving: the page says there is nothing to compare
    folder = report_folder(state=state, version=candidate)
    return write_report(folder=folder, candidate=mine, serving=theirs, baseline=baseline, data=str(source))


def serving_version(versions: list[ModelVersion], serving: int | None) -> ModelVersion | None:
    if not serving:
        return None
    for version in versions:
        if version.version == serving:
            return version
    raise NotFoundError(f"the endpoint serves model version {serving}, which the registry no longer lists")
