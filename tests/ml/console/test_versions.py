"""The versions pages through Flask's client: list, filter, pages, compare, one version, approve and reject."""

from __future__ import annotations

import re

import pytest
from console_helpers import HOSTILE_METRIC, Project, csrf_of, put_report, put_version, text_of
from flask.testing import FlaskClient

from ml.console import versions


def _rows(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="version-(\d+)">', page)]


def test_versions_are_listed_newest_first_with_lineage_columns(project: Project, client: FlaskClient) -> None:
    for n in (1, 2, 3):
        put_version(project, n)
    answer = client.get("/versions")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert _rows(page) == [3, 2, 1]
    assert client.get("/").get_data(as_text=True).count('<tr id="version-') == 3
    text = text_of(page)
    assert "job-3" in text and "0123456789ab" in text and "dddddddddddd" in text and "0.9003" in text


def test_an_empty_registry_says_how_to_make_a_version(client: FlaskClient) -> None:
    page = client.get("/versions").get_data(as_text=True)
    assert 'id="empty"' in page and "invoke train" in page


def test_the_status_filter_keeps_only_that_status(project: Project, client: FlaskClient) -> None:
    put_version(project, 1, status="Approved")
    put_version(project, 2, status="Rejected")
    put_version(project, 3)
    assert _rows(client.get("/versions?status=Approved").get_data(as_text=True)) == [1]
    assert _rows(client.get("/versions?status=PendingManualApproval").get_data(as_text=True)) == [3]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("status=Maybe", "status must be one of PendingManualApproval, Approved, Rejected"),
        ("page=0", "page must be a whole number from 1"),
        ("page=x", "page must be a whole number from 1"),
        ("per_page=7", "per_page must be one of 20, 50, 100, 200"),
        ("compare=1", "select exactly two versions to compare, not 1"),
        ("compare=1&compare=x", "VERSION must be a model version number such as 3, not 'x'"),
        ("page=9", "page 9 does not exist: 3 version(s) make 1 page(s) of 50"),
    ],
)
def test_bad_queries_are_refused_with_what_is_allowed(project: Project, client: FlaskClient, query: str, words: str) -> None:
    for n in (1, 2, 3):
        put_version(project, n)
    answer = client.get(f"/versions?{query}")
    assert answer.status_code == 400
    assert words in text_of(answer.get_data(as_text=True))


def test_pages_hold_per_page_versions_and_link_to_the_next(project: Project, client: FlaskClient) -> None:
    for n in range(1, 46):
        put_version(project, n)
    first = client.get("/versions?per_page=20").get_data(as_text=True)
    third = client.get("/versions?per_page=20&page=3").get_data(as_text=True)
    assert _rows(first) == list(range(45, 25, -1))
    assert 'rel="next" href="/versions?per_page=20&amp;page=2"' in first and 'rel="prev"' not in first
    assert _rows(third) == [5, 4, 3, 2, 1]
    assert 'rel="next"' not in third


def test_two_selected_versions_are_compared_side_by_side(project: Project, client: FlaskClient) -> None:
    put_version(project, 1, metrics={"train:accuracy": 0.91})
    put_version(project, 2, metrics={"train:accuracy": 0.95, "validation:accuracy": 0.9})
    page = client.get("/versions?compare=1&compare=2").get_data(as_text=True)
    assert 'id="comparison"' in page
    text = text_of(page)
    assert "Version 1 beside version 2" in text
    assert "train:accuracy 0.9100 0.9500" in text and "validation:accuracy - 0.9000" in text


def test_comparing_a_version_that_does_not_exist_is_not_found(project: Project, client: FlaskClient) -> None:
    put_version(project, 1)
    answer = client.get("/versions?compare=1&compare=9")
    assert answer.status_code == 404


def test_a_version_page_shows_its_report_lineage_and_audit_trail(project: Project, client: FlaskClient) -> None:
    serving = put_version(project, 1, status="Approved")
    candidate = put_version(project, 2)
    put_report(project, candidate, serving)
    page = client.get("/versions/2").get_data(as_text=True)
    text = text_of(page)
    assert "accuracy 0.8750" in text  # 7 of 8 right
    assert "versicolor 1.0000 0.7500 4" in text  # per class: precision, recall, support
    assert "accuracy 0.8750 0.5000" in text  # beside the serving version, scored on the same data
    assert COMMIT_TEXT in text and "hyperparameter max_depth 3" in text
    assert "registered" in text and "tester@host" in text
    image = client.get(f"/reports/{project.config.model_package_group}-000002/confusion.png")
    assert 'id="confusion" src="/reports/scikit-byo-000002/confusion.png"' in page
    assert image.status_code == 200 and image.content_type == "image/png" and image.data.startswith(b"\x89PNG")


COMMIT_TEXT = "0123456789abcdef0123456789abcdef01234567"


def test_a_version_without_a_report_says_which_command_writes_it(project: Project, client: FlaskClient) -> None:
    put_version(project, 1)
    page = client.get("/versions/1").get_data(as_text=True)
    assert 'id="no-report"' in page and "invoke report --version 1" in page


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/versions/7", 404, "model version 7 does not exist"),
        ("/versions/x1", 400, "VERSION must be a model version number such as 3, not 'x1'"),
    ],
)
def test_unknown_and_malformed_versions(project: Project, client: FlaskClient, path: str, status: int, words: str) -> None:
    put_version(project, 1)
    answer = client.get(path)
    assert answer.status_code == status
    assert words in text_of(answer.get_data(as_text=True))


def test_approve_goes_through_the_backend_and_records_the_audit_entry(project: Project, client: FlaskClient) -> None:
    put_version(project, 1)
    token = csrf_of(client, "/versions/1")
    answer = client.post("/versions/1/approve", data={"note": "looks right", "csrf_token": token})
    assert answer.status_code == 303 and answer.headers["Location"] == "/versions/1"
    decided = project.backend.list_versions()[0]
    assert decided.approval_status == "Approved"
    assert (decided.approvals[-1].status, decided.approvals[-1].note) == ("Approved", "looks right")
    assert "@" in decided.approvals[-1].by  # who, as the CLI records it
    assert "model version 1 is Approved (looks right)" in text_of(client.get("/versions/1").get_data(as_text=True))


def test_reject_sets_rejected(project: Project, client: FlaskClient) -> None:
    put_version(project, 1)
    token = csrf_of(client, "/versions/1")
    assert client.post("/versions/1/reject", data={"note": "", "csrf_token": token}).status_code == 303
    assert project.backend.list_versions()[0].approval_status == "Rejected"


@pytest.mark.parametrize(
    ("note", "words"),
    [
        (
            "first line\nsecond line",
            "error: the approval note must be one line (SageMaker refuses line breaks in it); join the lines with '; '",
        ),
        ("x" * 1025, "error: the approval note is 1025 characters; SageMaker keeps at most 1024, shorten it"),
    ],
)
def test_a_refused_note_shows_the_cli_error_line_and_changes_nothing(project: Project, client: FlaskClient, note: str, words: str) -> None:
    put_version(project, 1)
    token = csrf_of(client, "/versions/1")
    answer = client.post("/versions/1/approve", data={"note": note, "csrf_token": token})
    assert answer.status_code == 400
    assert words in text_of(answer.get_data(as_text=True))
    assert project.backend.list_versions()[0].approval_status == "PendingManualApproval"


def test_approving_a_malformed_or_missing_version_is_refused(project: Project, client: FlaskClient) -> None:
    put_version(project, 1)
    token = csrf_of(client, "/versions/1")
    malformed = client.post("/versions/1x/approve", data={"csrf_token": token})
    missing = client.post("/versions/5/approve", data={"csrf_token": token})
    assert malformed.status_code == 400 and "VERSION must be a model version number" in text_of(malformed.get_data(as_text=True))
    assert missing.status_code == 404 and "model version 5 does not exist" in text_of(missing.get_data(as_text=True))


def test_approve_is_post_only(project: Project, client: FlaskClient) -> None:
    put_version(project, 1)
    assert client.get("/versions/1/approve").status_code == 405
    assert project.backend.list_versions()[0].approval_status == "PendingManualApproval"


def test_notes_and_metric_names_are_escaped(project: Project, client: FlaskClient) -> None:
    put_version(project, 1, metrics={HOSTILE_METRIC: 0.5})
    token = csrf_of(client, "/versions/1")
    note = '<script>alert("note")</script>'
    client.post("/versions/1/approve", data={"note": note, "csrf_token": token})
    for path in ("/versions/1", "/versions"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;alert(&#34;note&#34;)&lt;/script&gt;" in client.get("/versions/1").get_data(as_text=True)


def test_fields_a_record_gains_later_are_shown(project: Project, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any field the page has no place for (held-out metrics, a schema, costs, as they land) is under "More"."""
    put_version(project, 1)
    assert 'id="more"' not in client.get("/versions/1").get_data(as_text=True)  # no empty section
    monkeypatch.setattr(versions, "SHOWN", versions.SHOWN - {"artifact_sha256"})  # as if the page did not know it
    page = client.get("/versions/1").get_data(as_text=True)
    assert 'id="more"' in page and "artifact_sha256" in text_of(page) and "f" * 64 in page
