"""In CI a test skipped because a tool is missing is a failure, not a quiet skip.

``.ci/run`` exports ``BYOC_REQUIRE_TOOLS=1``: on that fresh machine buildah, wrk, nginx, the
registry and checkov's environment were all just installed, so a skip can only mean the set-up
broke. On a developer's machine (the variable unset) the skips stay skips, with their reasons.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

REQUIRE_TOOLS_ENV = "BYOC_REQUIRE_TOOLS"


def tools_required() -> bool:
    return os.environ.get(REQUIRE_TOOLS_ENV) == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if tools_required() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{REQUIRE_TOOLS_ENV}=1 (CI): this test may not be skipped; install what it needs. Skip reason: {reason}"
