"""The report's HTML: one self-contained page beside its image, escaped, no scripts.

Numbers are printed with four decimals inside elements with stable ``id``/``class`` names
(``metric-…``, ``class-…``, ``compare-…``), so a reader (and the tests) can find each one.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from ml.backends.records import ModelVersion
from ml.reports.baseline import BaselineSummary
from ml.reports.scores import Scores

CONFUSION_PNG = "confusion.png"


@dataclass(frozen=True, kw_only=True)
class Scored:
    """A model version with its scores on the report's evaluation data."""

    version: ModelVersion
    scores: Scores


def _f(value: float) -> str:
    return f"{value:.4f}"


def _rows(cells: list[tuple[str, ...]], *, ids: list[str] | None = None) -> str:
    out = []
    for n, row in enumerate(cells):
        tag = "th" if n == 0 else "td"
        attr = f' id="{escape(ids[n - 1])}"' if ids and n else ""
        out.append(f"<tr{attr}>" + "".join(f"<{tag}>{escape(c)}</{tag}>" for c in row) + "</tr>")
    return "<table>" + "".join(out) + "</table>"


def _metrics(candidate: Scored, data: str) -> str:
    v, s = candidate.version, candidate.scores
    cells: list[tuple[str, ...]] = [("metric", "value")]
    ids = []
    for name, value in sorted(v.metrics.items()):
        cells.append((f"{name} (training job)", _f(value)))
        ids.append(f"metric-{name}")
    cells.append((f"accuracy on {s.rows} rows of {data}", _f(s.accuracy)))
    ids.append("metric-report-accuracy")
    per_class: list[tuple[str, ...]] = [("class", "precision", "recall", "support")]
    per_class += [(c.label, _f(c.precision), _f(c.recall), str(c.support)) for c in s.classes]
    return "<h2>Metrics</h2>" + _rows(cells, ids=ids) + "<h2>Per class</h2>" + _rows(per_class, ids=[f"class-{c.label}" for c in s.classes])


def _lineage(v: ModelVersion) -> str:
    lin = v.lineage
    cells: list[tuple[str, ...]] = [("field", "value")]
    cells += [
        ("git commit", lin.git_commit + (" (dirty work tree)" if lin.git_dirty else "") or "unknown"),
        ("image", lin.image or v.image or "unknown"),
        ("data", lin.data_uri or "unknown"),
        ("data version", lin.data_version or "unknown"),
        ("training job", v.training_job or lin.training_job or "unknown"),
        ("artifact", v.artifact_uri),
        ("artifact SHA-256", v.artifact_sha256 or "unknown"),
    ]
    cells += [(f"hyperparameter {k}", val) for k, val in sorted(lin.hyperparameters.items())]
    return "<h2>Lineage</h2>" + _rows(cells)


def _baseline(b: BaselineSummary) -> str:
    if b.missing:
        names = ", ".join(b.missing)
        why = "Retrain this version to write a baseline; `invoke monitor` cannot check its traffic without one."
        return f'<h2>Baseline</h2><p class="missing" id="baseline-missing">Missing from the artifact: {escape(names)}. {escape(why)}</p>'
    cells: list[tuple[str, ...]] = [("feature", "present", "missing", "mean", "min", "max", "completeness")]
    cells += [(f.name, str(f.present), str(f.missing), _f(f.mean), _f(f.minimum), _f(f.maximum), _f(f.completeness)) for f in b.features]
    classes: list[tuple[str, ...]] = [("class", "training rows")]
    classes += [(label, str(n)) for label, n in b.classes]
    head = f"<h2>Baseline</h2><p>{b.item_count} training rows (statistics.json, constraints.json, labels.json).</p>"
    return head + _rows(cells) + _rows(classes)


def _comparison(candidate: Scored, serving: Scored | None) -> str:
    if serving is None:
        return '<h2>Compared with the serving version</h2><p id="compare-none">No version is serving yet; nothing to compare.</p>'
    if serving.version.version == candidate.version.version:
        return (
            f'<h2>Compared with the serving version</h2><p id="compare-self">Version {candidate.version.version} is the version '
            "serving now; there is nothing to compare it with.</p>"
        )
    c, s = candidate, serving
    head = ("", f"candidate v{c.version.version}", f"serving v{s.version.version}")
    cells: list[tuple[str, ...]] = [head, ("accuracy", _f(c.scores.accuracy), _f(s.scores.accuracy))]
    ids = ["compare-accuracy"]
    for name in sorted(set(c.version.metrics) | set(s.version.metrics)):
        cells.append((name, *(_f(x.version.metrics[name]) if name in x.version.metrics else "-" for x in (c, s))))
        ids.append(f"compare-{name}")
    theirs = {k.label: k for k in s.scores.classes}
    for mine in c.scores.classes:
        other = theirs.get(mine.label)
        cells.append((f"recall {mine.label}", _f(mine.recall), _f(other.recall) if other else "-"))
        ids.append(f"compare-recall-{mine.label}")
    return "<h2>Compared with the serving version</h2>" + _rows(cells, ids=ids)


def render(*, candidate: Scored, serving: Scored | None, baseline: BaselineSummary, data: str) -> str:
    v = candidate.version
    title = f"{v.group} version {v.version}"
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}.missing{color:#a00}"
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title><style>{style}</style></head><body>'
        f'<h1>{escape(title)}</h1><p>Approval status: <span id="approval">{escape(v.approval_status)}</span>; '
        f"registered {escape(v.created_at or '-')}.</p>"
        + _metrics(candidate, data)
        + f'<h2>Confusion matrix</h2><img src="{CONFUSION_PNG}" alt="confusion matrix of version {v.version}">'
        + _comparison(candidate, serving)
        + _lineage(v)
        + _baseline(baseline)
        + "</body></html>\n"
    )
