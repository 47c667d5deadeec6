"""Endpoints: status, served version, variants with weights and instances, health, live updates.

The live view asks ``/endpoints/<name>/live`` (JSON) every half second while the page is open:
the endpoint as ``describe_endpoint`` shows it now, and the rollout lines written since the
last answer (:mod:`ml.backends.rollout_journal`), the very lines the CLI prints. Without
JavaScript the page is complete as served, with a link to load it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, jsonify, render_template, request
from werkzeug.wrappers import Response

from ml.backends.records import Endpoint
from ml.backends.rollout_journal import RolloutEvent, journal_path
from ml.console.services import services
from ml.errors import ByocError, NotFoundError, UserInputError

blueprint = Blueprint("endpoints", __name__)
MOVING = ("Creating", "Updating", "RollingBack", "SystemUpdating", "Deleting")  # statuses worth watching live


@dataclass(frozen=True, kw_only=True)
class Row:
    name: str
    endpoint: Endpoint | None
    problem: str = ""  # why there is no endpoint to show (not deployed, no permission)


def shares(endpoint: Endpoint) -> dict[str, float]:
    """Each variant's share of traffic in percent: weights are relative, as on SageMaker."""
    total = sum(v.weight for v in endpoint.variants)
    return {v.name: (100.0 * v.weight / total if total else 0.0) for v in endpoint.variants}


def _checked(name: str) -> str:
    journal_path(state_dir=services().state_dir, backend=services().settings.backend, endpoint=name)  # validates the name
    return name


@blueprint.get("/endpoints")
def index() -> str:
    rows = []
    for name in services().endpoint_names():
        try:
            rows.append(Row(name=name, endpoint=services().backend.describe_endpoint(endpoint_name=name)))
        except ByocError as err:  # one endpoint's problem (absent, denied) must not hide the others
            rows.append(Row(name=name, endpoint=None, problem=f"error: {err}"))
    return render_template("endpoints.html", rows=rows, shares=shares)


@blueprint.get("/endpoints/<name>")
def endpoint(name: str) -> str:
    described = services().backend.describe_endpoint(endpoint_name=_checked(name))
    journal = services().rollout(name)
    return render_template(
        "endpoint.html",
        e=described,
        shares=shares(described),
        events=journal.events,
        update=journal.update,
        moving=described.status in MOVING,
    )


def _event(event: RolloutEvent) -> dict[str, Any]:
    return {"seq": event.seq, "at": event.at, "kind": event.kind, "line": event.line}


@blueprint.get("/endpoints/<name>/live")
def live(name: str) -> Response:
    after_text = request.args.get("after", "0")
    if not after_text.isdigit():
        raise UserInputError(f"after must be a line number (0 or more), not {after_text!r}")
    update = request.args.get("update", "")
    journal = services().rollout(_checked(name), update=update, after=int(after_text))
    try:
        described: Endpoint | None = services().backend.describe_endpoint(endpoint_name=name)
    except NotFoundError:
        described = None  # torn down while watched: say so, keep the lines
    percent = shares(described) if described else {}
    return jsonify(
        {
            "endpoint": name,
            "status": described.status if described else "absent",
            "version": described.version if described else 0,
            "moving": bool(described and described.status in MOVING),
            "variants": [
                {
                    "name": v.name,
                    "version": v.version,
                    "weight": v.weight,
                    "share": round(percent[v.name], 1),
                    "current_instances": v.current_instance_count,
                    "desired_instances": v.desired_instance_count,
                }
                for v in (described.variants if described else ())
            ],
            "health": list(described.health) if described else [],
            "update": journal.update,
            "restart": journal.update != update,  # the reader's lines belong to an older update
            "events": [_event(e) for e in journal.events],
        }
    )
