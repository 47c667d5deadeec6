"""BYOC_REQUIRE_TOOLS=1 turns a skip into a failure; unset, a skip stays a skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SKIPPING = """
import pytest

def test_needs_a_tool():
    pytest.skip("wrk is not installed")
"""


def _run(tmp_path: Path, required: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_skips.py").write_text(SKIPPING, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "BYOC_REQUIRE_TOOLS"} | ({"BYOC_REQUIRE_TOOLS": required} if required else {})
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "ci_tools", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path)]
    return subprocess.run(argv, cwd=tmp_path, env=env | {"PYTHONPATH": str(REPO / "tests")}, capture_output=True, text=True, check=False)


def test_a_skip_fails_when_tools_are_required(tmp_path: Path) -> None:
    done = _run(tmp_path, "1")
    assert done.returncode == 1, done.stdout
    assert "may not be skipped" in done.stdout and "wrk is not installed" in done.stdout


def test_a_skip_stays_a_skip_on_a_developer_machine(tmp_path: Path) -> None:
    done = _run(tmp_path, None)
    assert done.returncode == 0, done.stdout
    assert "1 skipped" in done.stdout
