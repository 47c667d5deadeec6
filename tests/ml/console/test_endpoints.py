"""Endpoint pages through Flask's client; the browser test runs them against a real endpoint."""

from __future__ import annotations

from console_helpers import Project, text_of
from flask.testing import FlaskClient

from ml.backends.records import Endpoint, Variant
from ml.backends.rollout_journal import RolloutJournal, journal_path
from ml.console.endpoints import shares


def _journal(project: Project) -> RolloutJournal:
    state = project.root / project.config.local_state_dir
    return RolloutJournal(journal_path(state_dir=state, backend="local", endpoint=project.config.endpoint_name))


def test_an_endpoint_not_deployed_says_how_to_deploy_it(project: Project, client: FlaskClient) -> None:
    page = client.get("/endpoints")
    assert page.status_code == 200
    assert "invoke deploy --mode endpoint" in text_of(page.get_data(as_text=True))
    missing = client.get(f"/endpoints/{project.config.endpoint_name}")
    assert missing.status_code == 404


def test_a_malformed_endpoint_name_is_refused(client: FlaskClient) -> None:
    answer = client.get("/endpoints/bad%20name")
    assert answer.status_code == 400 and "is not a valid name" in text_of(answer.get_data(as_text=True))


def test_live_answers_the_rollout_lines_after_the_readers_cursor(project: Project, client: FlaskClient) -> None:
    journal = _journal(project)
    journal.start()
    for n in range(1, 4):
        journal.append(kind="traffic", line=f"line {n} <b>")
    url = f"/endpoints/{project.config.endpoint_name}/live"
    first = client.get(url).json
    assert first is not None
    assert [e["line"] for e in first["events"]] == ["line 1 <b>", "line 2 <b>", "line 3 <b>"]
    assert first["status"] == "absent" and first["restart"] is True
    again = client.get(f"{url}?update={first['update']}&after=2").json
    assert again is not None and [e["seq"] for e in again["events"]] == [3] and again["restart"] is False


def test_live_starts_over_when_a_new_update_replaced_the_lines(project: Project, client: FlaskClient) -> None:
    journal = _journal(project)
    journal.append(kind="plan", line="old update")
    old = journal.update
    journal.start()
    journal.append(kind="plan", line="new update")
    answer = client.get(f"/endpoints/{project.config.endpoint_name}/live?update={old}&after=1").json
    assert answer is not None and answer["restart"] is True and [e["line"] for e in answer["events"]] == ["new update"]


def test_live_refuses_a_malformed_cursor(project: Project, client: FlaskClient) -> None:
    answer = client.get(f"/endpoints/{project.config.endpoint_name}/live?after=-1")
    assert answer.status_code == 400


def test_shares_are_percentages_of_the_relative_weights() -> None:
    variants = (Variant(name="a", version=1, weight=3), Variant(name="b", version=2, weight=1))
    endpoint = Endpoint(name="e", status="Updating", variants=variants)
    assert shares(endpoint) == {"a": 75.0, "b": 25.0}
    assert shares(Endpoint(name="e", status="InService", variants=(Variant(name="a", version=1, weight=0),))) == {"a": 0.0}
