"""Versions: the registry newest first, one version with its report, and the approval forms."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ml.backends.records import ModelVersion
from ml.console.paging import VersionQuery, page_of, version_number
from ml.console.services import services
from ml.errors import ByocError, NotFoundError
from ml.names import APPROVAL_STATUSES

blueprint = Blueprint("versions", __name__)
# What the pages show in their own places; any other field a record carries (held-out metrics,
# a schema, costs, as later versions add them) is listed under "More" on the version's page.
SHOWN = {"group", "version", "approval_status", "artifact_uri", "artifact_sha256", "image", "training_job"}
SHOWN |= {"metrics", "lineage", "created_at", "arn", "approvals"}


def approved_at(version: ModelVersion) -> str:
    """When the version was last approved, from its audit trail ("" when it was not, or no trail is kept)."""
    return next((e.at for e in reversed(version.approvals) if e.status == "Approved"), "")


def _find(number: int) -> tuple[ModelVersion, list[ModelVersion]]:
    every = services().backend.list_versions()
    for version in every:
        if version.version == number:
            return version, every
    newest = every[0].version if every else 0
    hint = f"versions run from 1 to {newest}" if newest else "none is registered yet; `invoke train` registers one"
    raise NotFoundError(f"model version {number} does not exist in {services().settings.config.model_package_group} ({hint})")


@blueprint.get("/")
@blueprint.get("/versions")
def index() -> str:
    query = VersionQuery.parse(request.args, request.args.getlist("compare"))
    every = services().backend.list_versions()
    page = page_of(every, query)
    compared = [v for n in query.compare for v in every if v.version == n]
    if len(compared) != len(query.compare):
        raise NotFoundError(f"cannot compare versions {' and '.join(map(str, query.compare))}: not both are registered")
    names = sorted({name for v in page.rows for name in v.metrics})
    return render_template(
        "versions.html", page=page, query=query, metric_names=names, compared=compared, approved_at=approved_at, statuses=APPROVAL_STATUSES
    )


@dataclass(frozen=True, kw_only=True)
class Report:
    """What the version's report folder holds, for the page to show inline."""

    folder: str
    scores: dict[str, Any] | None  # scores.json, or None when no report was written
    problem: str = ""


def _report(version: ModelVersion) -> Report:
    source = services().reports
    folder = source.version_folder(group=version.group, version=version.version)
    try:
        return Report(folder=folder, scores=json.loads(source.read(f"{folder}/scores.json")))
    except NotFoundError:
        return Report(folder=folder, scores=None, problem="no report yet")
    except (ByocError, json.JSONDecodeError) as err:  # the rest of the page still helps the approver
        return Report(folder=folder, scores=None, problem=str(err))


def _serving() -> tuple[int, str]:
    """The version the project's endpoint serves, and its name (0 when nothing serves)."""
    name = services().endpoint_names()[0]
    try:
        return services().backend.describe_endpoint(endpoint_name=name).version, name
    except NotFoundError:
        return 0, name


def _more(version: ModelVersion) -> list[tuple[str, str]]:
    data = version.to_dict()
    extra = [f.name for f in fields(version) if f.name not in SHOWN]
    return [(name, json.dumps(data[name], sort_keys=True, default=str)) for name in extra if data[name] not in ("", None, {}, [], ())]


@blueprint.get("/versions/<n>")
def version(n: str) -> str:
    chosen, every = _find(version_number(n))
    serving_number, endpoint = _serving()
    serving = next((v for v in every if v.version == serving_number), None)
    return render_template(
        "version.html",
        v=chosen,
        serving=serving,
        endpoint=endpoint,
        report=_report(chosen),
        approved_at=approved_at(chosen),
        more=_more(chosen),
        metric_names=sorted(set(chosen.metrics) | set(serving.metrics if serving else {})),
    )


def _decide(n: str, status: str) -> Response:
    number = version_number(n)  # the CLI's check and words, before anything else
    note = request.form.get("note", "")
    decided = services().backend.approve(version=number, status=status, note=note)
    flash(f"model version {number} is {decided.approval_status}" + (f" ({note})" if note else ""))
    return redirect(url_for("versions.version", n=number), code=303)


@blueprint.post("/versions/<n>/approve")
def approve(n: str) -> Response:
    return _decide(n, "Approved")


@blueprint.post("/versions/<n>/reject")
def reject(n: str) -> Response:
    return _decide(n, "Rejected")
