"""Any subset of the suite runs on its own: test helpers have names of their own, never ``conftest``.

pytest imports every folder's ``conftest.py`` as a module named ``conftest`` (the folders have no
``__init__``), so a test that imports ``from conftest import X`` gets whichever conftest of the
folders named on the command line was loaded last: ``pytest tests/ml/backends/sagemaker
tests/ml/reports`` once failed at collection with ``cannot import name 'TEST_GROUP' from 'conftest'``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
# Folders with conftests of their own, in an order that once broke collection.
SUBSETS = ["tests/ml/backends/sagemaker", "tests/ml/reports", "tests/tools/rehearsal", "tests/ml/backends/local", "tests/ml/container"]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return found | {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


def test_no_test_module_imports_from_a_conftest() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in TESTS.rglob("*.py") if "conftest" in _imported_modules(p)]
    assert offenders == [], "import shared test helpers from a module with a name of its own, not from conftest"


def test_every_helper_module_name_is_unique_across_the_suite() -> None:
    names = Counter(p.name for p in TESTS.rglob("*.py") if p.name != "conftest.py")
    assert [name for name, count in names.items() if count > 1] == []


@pytest.mark.slow  # one collection of five folders: about 15 s on a quiet machine
def test_folders_with_their_own_conftest_collect_together() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *SUBSETS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "error" not in result.stdout.splitlines()[-1]
