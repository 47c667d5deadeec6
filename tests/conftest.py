"""Suite-wide safety: no test can reach a real AWS account, read the user's credentials, or pick
up a real CodeBuild run's variables (tests say themselves when they are "inside CodeBuild").

Every botocore client any test makes (moto clients, clients made inside ``mock_aws``, clients the
backend makes itself) checks each request against the service model's patterns, lengths, ranges
and enums (:mod:`tools.awscheck.requests`). A violation raises where AWS would answer
ValidationException, and also fails the test at teardown, even if the code swallowed the error.
Processes a test starts (tasks run as subprocesses) check their requests too: every test runs
with :func:`tools.awscheck.strict.strict_environment`, which puts the checker's start-up hook on
``PYTHONPATH``. Production code knows nothing of it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tools.awscheck.requests import Violation, install_on_every_client
from tools.awscheck.strict import strict_environment


class StrictRequests:
    """The violations seen during one test; a test that provokes one on purpose takes it."""

    def __init__(self, log: list[Violation]) -> None:
        self._log, self._start = log, len(log)

    def take(self) -> list[Violation]:
        """The violations so far, acknowledged: they no longer fail the test."""
        taken = self._log[self._start :]
        del self._log[self._start :]
        return taken

    def pending(self) -> list[Violation]:
        return self._log[self._start :]


@pytest.fixture(scope="session", autouse=True)
def _strict_request_log() -> Iterator[list[Violation]]:
    log: list[Violation] = []
    undo = install_on_every_client(record=log.extend)
    yield log
    undo()


@pytest.fixture(autouse=True)
def strict_requests(_strict_request_log: list[Violation], monkeypatch: pytest.MonkeyPatch) -> Iterator[StrictRequests]:
    monkeypatch.setenv("PYTHONPATH", strict_environment(os.environ)["PYTHONPATH"])
    watch = StrictRequests(_strict_request_log)
    yield watch
    broken = watch.take()
    if broken:
        pytest.fail("requests AWS would refuse (ValidationException):\n" + "\n".join(f"  {v}" for v in broken), pytrace=False)


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


@pytest.fixture
def away_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A machine whose local time is not UTC: what is UTC must not depend on it."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
