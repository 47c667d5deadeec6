"""Writing a report folder atomically: ``index.html``, ``confusion.png`` and ``scores.json``.

The files are written into a hidden sibling folder and swapped in with renames, so a reader (a
browser, an upload to S3) sees the old report or the new one, never a mix of both.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ml.reports.baseline import BaselineSummary
from ml.reports.figure import confusion_png
from ml.reports.page import CONFUSION_PNG, Scored, render

INDEX = "index.html"
SCORES = "scores.json"


@dataclass(frozen=True, kw_only=True)
class ReportFiles:
    folder: Path
    index: Path
    images: tuple[Path, ...]
    scores: Path

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.index, *self.images, self.scores)


def write_report(*, folder: Path, candidate: Scored, serving: Scored | None, baseline: BaselineSummary, data: str) -> ReportFiles:
    """Write the report of ``candidate`` (beside ``serving``, if one serves) into ``folder``."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        title = f"version {candidate.version.version}"
        (staging / CONFUSION_PNG).write_bytes(confusion_png(candidate.scores, title=title))
        document = {"version": candidate.version.version, "data": data, **candidate.scores.to_dict()}
        if serving is not None:  # the comparison, scored on the same data, for readers other than the page
            document["serving"] = {"version": serving.version.version, **serving.scores.to_dict()}
        (staging / SCORES).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (staging / INDEX).write_text(render(candidate=candidate, serving=serving, baseline=baseline, data=data), encoding="utf-8")
        for path in staging.iterdir():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        staging.chmod(0o755)  # mkdtemp makes it 0700; a report is for reading
        retired = folder.parent / f".{folder.name}.retired"
        shutil.rmtree(retired, ignore_errors=True)
        if folder.exists():
            os.replace(folder, retired)
        os.replace(staging, folder)
        shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ReportFiles(folder=folder, index=folder / INDEX, images=(folder / CONFUSION_PNG,), scores=folder / SCORES)
