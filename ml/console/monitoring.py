"""Monitor runs: each with its window, verdict and breaches, linked to its HTML report; and a run button."""

from __future__ import annotations

import math

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ml.console.services import services
from ml.errors import UserInputError

blueprint = Blueprint("monitoring", __name__)
MAX_HOURS = 720  # monitor_window_hours' own range (ml/config.py)


def parse_hours(text: str) -> float:
    try:
        hours = float(text)
    except ValueError:
        hours = math.nan
    if not 0 < hours <= MAX_HOURS:  # NaN fails this too
        raise UserInputError(f"hours must be a number above 0 and at most {MAX_HOURS}, not {text!r}")
    return hours


@blueprint.get("/monitor")
def index() -> str:
    s = services()
    return render_template(
        "monitor.html",
        runs=s.reports.monitor_runs(),
        source=s.reports.describe(),
        endpoints=s.endpoint_names(),
        default_hours=s.settings.config.monitor_window_hours,
    )


@blueprint.post("/monitor/run")
def run() -> Response:
    hours = parse_hours(request.form.get("hours", ""))
    endpoint = request.form.get("endpoint", "")
    if endpoint not in services().endpoint_names():
        raise UserInputError(f"endpoint must be one of {', '.join(services().endpoint_names())}, not {endpoint!r}")
    outcome = services().run_monitor(hours, endpoint)
    verdict = f"{len(outcome.report.breaches)} threshold(s) breached" if outcome.breached else "no threshold breached"
    flash(f"monitor of {endpoint} over the last {hours:g} h: {verdict}; report {outcome.html.name}")
    return redirect(url_for("monitoring.index"), code=303)
