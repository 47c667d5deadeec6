"""``/reports/<path>``: report files from the state directory; no path reaches anything else."""

from __future__ import annotations

import os

import pytest
from console_helpers import Project, put_report, put_version, text_of
from flask.testing import FlaskClient

from ml.console.sources import clean_path
from ml.errors import UserInputError

SECRET_TEXT = "the project's private state"


@pytest.fixture
def secret(project: Project) -> None:
    """Files a traversal would aim at: the records beside reports/, and one outside the project."""
    state = project.root / project.config.local_state_dir
    (state / "reports").mkdir(parents=True, exist_ok=True)
    (state / "secret.html").write_text(SECRET_TEXT, encoding="utf-8")
    (project.root.parent / "outside.html").write_text(SECRET_TEXT, encoding="utf-8")


def test_a_report_page_and_its_image_are_served_with_a_sandboxing_policy(project: Project, client: FlaskClient) -> None:
    put_report(project, put_version(project, 1))
    page = client.get("/reports/scikit-byo-000001/index.html")
    assert page.status_code == 200 and page.content_type == "text/html; charset=utf-8"
    assert "scikit-byo version 1" in text_of(page.get_data(as_text=True))
    assert "sandbox" in page.headers["Content-Security-Policy"]
    scores = client.get("/reports/scikit-byo-000001/scores.json")
    assert scores.content_type == "application/json" and scores.json is not None and scores.json["version"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/reports/../secret.html",
        "/reports/%2e%2e/secret.html",
        "/reports/scikit-byo-000001/../../secret.html",
        "/reports/..%2fsecret.html",
        "/reports/%2e%2e%2f%2e%2e%2foutside.html",
        "/reports//etc/passwd.html",
        "/reports/..\\secret.html",
        "/reports/.hidden.html",
        "/reports/secret.html%00.png",
        "/reports/a/b/c/d/e/f/g/h/i.html",
    ],
)
def test_no_path_leaves_the_reports_folder(project: Project, client: FlaskClient, secret: None, path: str) -> None:
    answer = client.get(path, follow_redirects=True)  # werkzeug merges "//" with a redirect first
    assert answer.status_code in (400, 404), path
    assert SECRET_TEXT not in answer.get_data(as_text=True)


def test_a_symbolic_link_out_of_the_reports_folder_is_not_followed(project: Project, client: FlaskClient, secret: None) -> None:
    reports = project.root / project.config.local_state_dir / "reports"
    os.symlink(project.root.parent / "outside.html", reports / "link.html")
    answer = client.get("/reports/link.html")
    assert answer.status_code == 404
    assert SECRET_TEXT not in answer.get_data(as_text=True)


def test_only_report_file_types_are_served(project: Project, client: FlaskClient) -> None:
    reports = project.root / project.config.local_state_dir / "reports"
    reports.mkdir(parents=True)
    (reports / "notes.txt").write_text("x", encoding="utf-8")
    answer = client.get("/reports/notes.txt")
    assert answer.status_code == 400 and "only .html, .png, .json files are served" in text_of(answer.get_data(as_text=True))


def test_a_missing_report_is_not_found(client: FlaskClient) -> None:
    assert client.get("/reports/scikit-byo-000009/index.html").status_code == 404


@pytest.mark.parametrize("path", ["..", "a/../b.html", "/abs.html", "a//b.html", ".x.html", "a\\b.html", "x.html\x00", "ok.exe"])
def test_clean_path_refuses_anything_but_plain_names(path: str) -> None:
    with pytest.raises(UserInputError):
        clean_path(path)


def test_clean_path_keeps_plain_report_paths() -> None:
    assert clean_path("reports/scikit-byo/000003/confusion.png") == ("reports", "scikit-byo", "000003", "confusion.png")
