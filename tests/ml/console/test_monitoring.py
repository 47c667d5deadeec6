"""The monitor page: runs from their summaries, newest first; the run button and its refusals."""

from __future__ import annotations

import json
import os

import pytest
from console_helpers import Project, csrf_of, text_of
from flask.testing import FlaskClient

from ml.console.monitoring import parse_hours
from ml.errors import UserInputError


def _run(project: Project, name: str, *, verdict: str, breaches: list[str], mtime: int) -> None:
    reports = project.root / project.config.local_state_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    summary = {
        "endpoint": project.config.endpoint_name,
        "since": "2026-12-01T00:00:00+00:00",
        "until": f"2026-12-01T0{mtime}:00:00+00:00",
        "verdict": verdict,
        "breaches": breaches,
        "report": f"{name}.html",
        "variants": ["AllTraffic v1: 40 records"],
    }
    (reports / f"{name}.json").write_text(json.dumps(summary), encoding="utf-8")
    (reports / f"{name}.html").write_text("<p>report</p>", encoding="utf-8")
    os.utime(reports / f"{name}.json", (mtime, mtime))


def test_runs_are_listed_newest_first_with_verdict_breaches_and_report(project: Project, client: FlaskClient) -> None:
    _run(project, "monitor-a", verdict="OK", breaches=[], mtime=1)
    _run(project, "monitor-b", verdict="BREACH", breaches=["AllTraffic sepal_length: PSI 0.912 > 0.2 <i>"], mtime=2)
    page = client.get("/monitor").get_data(as_text=True)
    text = text_of(page)
    assert text.index("monitor-b.html") < text.index("monitor-a.html")
    assert "BREACH" in text and "PSI 0.912 > 0.2 <i>" in text and "<i>" not in page
    assert 'href="/reports/monitor-b.html"' in page
    assert client.get("/reports/monitor-b.html").status_code == 200


def test_no_runs_yet_says_how_to_make_one(client: FlaskClient) -> None:
    assert "invoke monitor" in text_of(client.get("/monitor").get_data(as_text=True))


def test_the_run_button_runs_the_monitor_and_shows_its_error_line(project: Project, client: FlaskClient) -> None:
    token = csrf_of(client, "/monitor")
    answer = client.post("/monitor/run", data={"hours": "2", "endpoint": project.config.endpoint_name, "csrf_token": token})
    assert answer.status_code == 404  # no endpoint yet, so no lifetime to read: the monitor's own words
    assert "does not exist now" in text_of(answer.get_data(as_text=True))


@pytest.mark.parametrize(
    ("form", "words"),
    [({"hours": "0"}, "hours must be a number above 0 and at most 720"), ({"hours": "2", "endpoint": "other"}, "endpoint must be one of")],
)
def test_the_run_button_validates_its_inputs(project: Project, client: FlaskClient, form: dict[str, str], words: str) -> None:
    token = csrf_of(client, "/monitor")
    answer = client.post("/monitor/run", data={"endpoint": project.config.endpoint_name, **form, "csrf_token": token})
    assert answer.status_code == 400 and words in text_of(answer.get_data(as_text=True))


def test_the_run_button_needs_the_csrf_token(project: Project, client: FlaskClient) -> None:
    assert client.post("/monitor/run", data={"hours": "2", "endpoint": project.config.endpoint_name}).status_code == 403


@pytest.mark.parametrize("text", ["nan", "inf", "-1", "721", "x", ""])
def test_parse_hours_refuses_what_is_not_a_window(text: str) -> None:
    with pytest.raises(UserInputError):
        parse_hours(text)


def test_parse_hours_takes_fractions_up_to_a_month() -> None:
    assert parse_hours("0.5") == 0.5 and parse_hours("720") == 720
