"""Fixtures for the console: a scratch project whose registry and reports are real files.

Versions are written through the local store exactly as registration leaves them (a training
run per version would cost seconds each; the browser test trains for real). Clients follow
Flask's pattern: settings -> app -> client.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from console_helpers import TEST_SECRET, Project, make_project
from flask import Flask
from flask.testing import FlaskClient

from ml.console import ConsoleSettings, create_app


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path)


@pytest.fixture
def app(project: Project) -> Flask:
    settings = ConsoleSettings(root=project.root, config=project.config, secret_key=TEST_SECRET)
    made = create_app(settings)
    made.config["TESTING"] = True
    return made


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
