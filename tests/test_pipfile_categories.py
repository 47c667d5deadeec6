"""The CodeBuild install categories: each buildspec syncs only what its tasks import.

The lock's category sections repeat the [packages] entries (same pins, same hashes), hold the
whole dependency closure, and what the buildspecs' tasks import is in them: a task module that
imports a package outside its category fails here, in a process where every other distribution
of the lock cannot be imported, as it would fail in a slim CodeBuild install.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
LOCK = json.loads((ROOT / "Pipfile.lock").read_text(encoding="utf-8"))
PIPFILE = tomllib.loads((ROOT / "Pipfile").read_text(encoding="utf-8"))
CATEGORIES = ("codebuild", "codebuild-reports")
# What each category's buildspecs run, by the modules those tasks import (tasks.py's lazy imports).
TASK_MODULES = {
    "codebuild": ["tasks", "ml.backends.sagemaker.backend", "ml.report", "ml.destroy", "ml.preflight", "botocore.config", "boto3"],
    "codebuild-reports": [
        "tasks",
        "ml.backends.sagemaker.backend",
        "ml.report",
        "ml.reports.aws",
        "ml.reports.figure",
        "ml.reports.predict",
        "ml.monitor.project",
        "ml.monitor.window",
        "matplotlib.backends.backend_agg",
        "boto3",
    ],
}
ENV = {"python_version": "3.11", "python_full_version": "3.11.7", "sys_platform": "linux", "platform_system": "Linux",
       "platform_machine": "x86_64", "implementation_name": "cpython", "platform_python_implementation": "CPython",
       "os_name": "posix", "extra": ""}  # fmt: skip


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize("category", CATEGORIES)
def test_a_category_repeats_the_default_pins_and_holds_its_whole_closure(category: str) -> None:
    section = {norm(k): v for k, v in LOCK[category].items()}
    default = {norm(k): v for k, v in LOCK["default"].items()}
    assert {norm(k) for k in PIPFILE[category]} <= set(section)
    for name, entry in section.items():
        assert entry == default[name], f"{category}: {name} differs from [packages]' lock entry"
        for requirement in md.requires(name) or []:
            req = Requirement(requirement)
            if req.marker is None or req.marker.evaluate(ENV):
                assert norm(req.name) in section, f"{category}: {name} needs {req.name}, which the category does not install"


def test_every_buildspec_syncs_a_category() -> None:
    for spec in sorted((ROOT / "buildspecs").glob("*.yml")):
        install = yaml.safe_load(spec.read_text(encoding="utf-8"))["phases"]["install"]["commands"]
        (sync,) = [c for c in install if c.startswith("pipenv sync")]
        assert sync.removeprefix("pipenv sync --categories ") in CATEGORIES, spec.name


BLOCKER = """
import importlib.abc, importlib.metadata as md, sys
blocked = set(sys.argv[1].split(","))
top = {t for t, dists in md.packages_distributions().items() if any(d.lower().replace("_", "-") in blocked for d in dists)}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in top:
            raise ImportError(f"{name} is not in this CodeBuild category (its distribution is not installed there)")
        return None
sys.meta_path.insert(0, Block())
import importlib
for module in sys.argv[2:]:
    importlib.import_module(module)
"""


@pytest.mark.parametrize("category", CATEGORIES)
def test_the_tasks_import_nothing_outside_their_category(category: str) -> None:
    allowed = {norm(k) for k in LOCK[category]}
    blocked = sorted({norm(k) for section in ("default", "develop") for k in LOCK[section]} - allowed)
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER, ",".join(blocked), *TASK_MODULES[category]],
        cwd=ROOT,
        # Without the suite's request checker (tools/, dev-only): CodeBuild's build runs without it.
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
