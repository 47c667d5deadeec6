"""The console's guards: loopback hosts, the token beyond loopback, CSRF on every POST, headers."""

from __future__ import annotations

import pytest
from console_helpers import TEST_SECRET, Project, csrf_of, put_version, text_of
from flask.testing import FlaskClient

from ml.console import ConsoleSettings, create_app
from ml.console.serve import check_bind, console_url
from ml.console.settings import ConsoleSettings as Settings
from ml.errors import UserInputError

TEST_TOKEN = "t0ken-for-tests-0123456789"


@pytest.fixture
def remote(project: Project) -> FlaskClient:
    """A console bound beyond loopback: a token is required."""
    settings = ConsoleSettings(root=project.root, config=project.config, host="192.0.2.10", token=TEST_TOKEN, secret_key=TEST_SECRET)
    return create_app(settings).test_client()


def test_post_without_csrf_token_is_refused_before_the_backend(project: Project, client: FlaskClient) -> None:
    put_version(project, 1)
    answer = client.post("/versions/1/approve", data={"note": "x"})
    assert answer.status_code == 403
    assert "CSRF token is missing or stale" in text_of(answer.get_data(as_text=True))
    assert project.backend.list_versions()[0].approval_status == "PendingManualApproval"


def test_post_with_another_sessions_token_is_refused(project: Project, client: FlaskClient) -> None:
    put_version(project, 1)
    csrf_of(client, "/versions/1")  # this browser's session
    answer = client.post("/versions/1/approve", data={"csrf_token": "forged-token-from-elsewhere"})
    assert answer.status_code == 403
    assert project.backend.list_versions()[0].approval_status == "PendingManualApproval"


def test_csrf_token_from_one_browser_does_not_work_in_another(project: Project, app: object, client: FlaskClient) -> None:
    put_version(project, 1)
    token = csrf_of(client, "/versions/1")
    other = client.application.test_client()
    assert other.post("/versions/1/approve", data={"csrf_token": token}).status_code == 403


def test_loopback_console_refuses_a_foreign_host_header(client: FlaskClient) -> None:
    """DNS rebinding: a page on evil.example re-pointed at 127.0.0.1 sends its own Host."""
    assert client.get("/versions", headers={"Host": "evil.example:8765"}).status_code == 400
    assert client.get("/versions", headers={"Host": "127.0.0.1:8765"}).status_code == 200


def test_beyond_loopback_every_request_needs_the_token(remote: FlaskClient) -> None:
    refused = remote.get("/versions")
    assert refused.status_code == 401 and "needs its token" in text_of(refused.get_data(as_text=True))
    assert remote.get("/versions?token=wrong-token-xxxxxxxxxxxx").status_code == 401
    assert remote.get("/reports/x.html").status_code == 401
    assert remote.get("/versions", headers={"Authorization": f"Bearer {TEST_TOKEN}"}).status_code == 200


def test_the_token_in_the_url_becomes_a_cookie_and_leaves_the_address(remote: FlaskClient) -> None:
    first = remote.get(f"/versions?status=Approved&token={TEST_TOKEN}")
    assert first.status_code == 303 and first.headers["Location"] == "/versions?status=Approved"
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert remote.get("/versions?status=Approved").status_code == 200  # the cookie now carries it


def test_a_remote_console_needs_a_long_token(project: Project) -> None:
    with pytest.raises(UserInputError, match="needs a token of at least 16 characters"):
        Settings(root=project.root, config=project.config, host="0.0.0.0", token="short", secret_key=TEST_SECRET)
    made = Settings.create(root=project.root, config=project.config, host="0.0.0.0")
    assert len(made.token) >= 16 and len(made.secret_key) == 64
    assert Settings.create(root=project.root, config=project.config).token == ""


def test_binding_beyond_loopback_needs_the_explicit_flag() -> None:
    with pytest.raises(UserInputError, match="--allow-remote"):
        check_bind(host="0.0.0.0", port=8765, allow_remote=False)
    check_bind(host="0.0.0.0", port=8765, allow_remote=True)
    check_bind(host="127.0.0.1", port=8765, allow_remote=False)
    with pytest.raises(UserInputError, match="--port must be 1-65535"):
        check_bind(host="127.0.0.1", port=0, allow_remote=False)


def test_the_printed_url_carries_the_token_only_beyond_loopback(project: Project) -> None:
    local = Settings.create(root=project.root, config=project.config)
    wide = Settings.create(root=project.root, config=project.config, host="0.0.0.0")
    assert console_url(local, port=8765) == "http://127.0.0.1:8765/"
    assert console_url(wide, port=9000) == f"http://0.0.0.0:9000/?token={wide.token}"


def test_settings_travel_to_the_worker_through_the_environment(project: Project) -> None:
    made = Settings.create(root=project.root, config=project.config, host="0.0.0.0")
    again = Settings.from_environ(made.environ())
    assert (again.root, again.backend, again.host) == (made.root, "local", "0.0.0.0")
    assert (again.token, again.secret_key) == (made.token, made.secret_key)
    with pytest.raises(UserInputError, match="start the console with `invoke console`"):
        Settings.from_environ({})


def test_demo_shows_the_main_jobs_namespace_in_the_worker_too(project: Project) -> None:
    made = Settings.create(root=project.root, config=project.config, demo=True)
    again = Settings.from_environ(made.environ())
    for settings in (made, again):
        assert settings.demo and settings.config.local_state_dir == f"{project.config.local_state_dir}/lifecycle"
        assert settings.config.model_package_group == f"{project.config.model_package_group}-demo"
    assert not Settings.from_environ(Settings.create(root=project.root, config=project.config).environ()).demo
    with pytest.raises(UserInputError, match="--demo shows `invoke lifecycle`'s local registry"):
        Settings.create(root=project.root, config=project.config, backend="sagemaker", demo=True)


def test_pages_carry_a_strict_content_security_policy(client: FlaskClient) -> None:
    answer = client.get("/versions")
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Server-Timing"].startswith("app;dur=")


def test_no_secret_is_rendered(project: Project) -> None:
    settings = ConsoleSettings(root=project.root, config=project.config, host="192.0.2.10", token=TEST_TOKEN, secret_key=TEST_SECRET)
    client = create_app(settings).test_client()
    for path in ("/versions", "/endpoints", "/monitor"):
        page = client.get(path, headers={"Authorization": f"Bearer {TEST_TOKEN}"}).get_data(as_text=True)
        assert TEST_TOKEN not in page and TEST_SECRET not in page and "testing" not in page  # the fake AWS keys
