"""Suite-wide safety: no test can reach a real AWS account, read the user's credentials, or pick
up a real CodeBuild run's variables (tests say themselves when they are "inside CodeBuild")."""

from __future__ import annotations

import os

import pytest

# In CI (.ci/run sets BYOC_REQUIRE_TOOLS=1) a skip for a missing tool fails the run: see ci_tools.
pytest_plugins = ["ci_tools"]


@pytest.fixture(autouse=True)
def _fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    for name in list(os.environ):
        if name.startswith(("CODEBUILD_", "BYOC_OUTPUTS_")):
            monkeypatch.delenv(name)
