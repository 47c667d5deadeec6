"""The layers of docs/architecture.md, enforced: the product never reaches into its tooling.

``ml/`` and the container's ``byoc`` may not import ``tools`` (anywhere, lazy imports included:
read from the source), nor a package only the development environment installs (checked by
importing every module in a process where those packages cannot be imported, and by reading every
import, lazy ones too, against the runtime packages of Pipfile.lock). ``modules/`` may import only
the shared names and the configuration of ``ml``, which are the bottom of ``ml``: they import
nothing above them.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ML = REPO / "ml"
CONTAINER = ML / "container"
# What modules/ may import from ml: the configuration and the names both layers share.
MODULES_MAY_IMPORT = {"ml.config", "ml.names"}
# The bottom of ml, and what each may import from the project: modules/ loads them, so they stay small.
BOTTOM = {"ml.names": set(), "ml.config": {"ml.names", "ml.errors", "ml.aws_limits"}, "ml.errors": set(), "ml.aws_limits": set()}


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports, at any depth (lazy imports in functions included)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return found


def _sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if ".venv" not in p.parts)


def dev_only_modules() -> set[str]:
    """Top-level import names of the packages Pipfile.lock installs only with ``--dev``."""
    lock = json.loads((REPO / "Pipfile.lock").read_text(encoding="utf-8"))
    dev_only = {name.lower() for name in set(lock["develop"]) - set(lock["default"])}
    modules = {
        module
        for module, distributions in metadata.packages_distributions().items()
        if any(d.lower().replace("_", "-") in dev_only for d in distributions)
    }
    return {m for m in modules if m.isidentifier() and not m.startswith("_")}


@pytest.mark.parametrize("layer", [ML, CONTAINER / "byoc"], ids=["ml", "byoc"])
def test_the_product_never_imports_the_tooling(layer: Path) -> None:
    offenders = [f"{p.relative_to(REPO)} imports {m}" for p in _sources(layer) for m in _imports(p) if m.split(".")[0] == "tools"]
    assert offenders == []


def test_modules_import_only_the_configuration_and_shared_names_of_ml() -> None:
    offenders = [
        f"{p.relative_to(REPO)} imports {m}"
        for p in [*_sources(REPO / "modules"), REPO / "main.py"]
        for m in _imports(p)
        if m.split(".")[0] == "ml" and m not in MODULES_MAY_IMPORT
    ]
    assert offenders == []


def test_the_bottom_of_ml_imports_nothing_above_it() -> None:
    offenders = [
        f"{module} imports {m}"
        for module, allowed in BOTTOM.items()
        for m in _imports(REPO / (module.replace(".", "/") + ".py"))
        if m.split(".")[0] in {"ml", "tools", "modules"} and m not in allowed
    ]
    assert offenders == []


def runtime_modules() -> set[str]:
    """Top-level import names of the packages Pipfile.lock installs without ``--dev``."""
    lock = json.loads((REPO / "Pipfile.lock").read_text(encoding="utf-8"))
    runtime = {name.lower() for name in lock["default"]}
    return {
        module
        for module, distributions in metadata.packages_distributions().items()
        if any(d.lower().replace("_", "-") in runtime for d in distributions)
    }


def test_every_import_of_the_product_is_the_standard_library_the_project_or_a_runtime_package() -> None:
    # Importing every module (below) cannot see an import inside a function; reading the source can.
    allowed = runtime_modules() | set(sys.stdlib_module_names) | {"ml", "byoc", "__future__"}
    assert "boto3" in allowed and not {"moto", "pytest", "regex"} & allowed  # the check can fail
    offenders = [
        f"{p.relative_to(REPO)} imports {m}"
        for p in _sources(ML)
        if CONTAINER not in p.parents
        for m in _imports(p)
        if m.split(".")[0] not in allowed
    ]
    assert offenders == []


def test_the_container_imports_only_its_own_package_and_never_ml() -> None:
    offenders = [
        f"{p.relative_to(REPO)} imports {m}"
        for p in _sources(CONTAINER)
        for m in _imports(p)
        if m.split(".")[0] in {"ml", "tools", "modules"}
    ]
    assert offenders == []


_IMPORT_ALL = """
import importlib, importlib.abc, json, sys
blocked = set(json.loads(sys.argv[1]))

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is a development-only package")
        return None

sys.meta_path.insert(0, Refuse())
failed = []
for name in json.loads(sys.argv[2]):
    try:
        importlib.import_module(name)
    except ImportError as err:
        failed.append(f"{name}: {err}")
print(json.dumps(failed))
"""


def _module_names() -> list[str]:
    names = []
    for path in _sources(ML):
        if CONTAINER in path.parents or path.name == "__main__.py":
            continue  # a __main__ runs its program when imported
        parts = path.relative_to(REPO).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    for path in _sources(CONTAINER / "byoc"):
        if path.name != "__main__.py":
            names.append(".".join(path.relative_to(CONTAINER).with_suffix("").parts).removesuffix(".__init__"))
    return names


def test_every_product_module_imports_without_the_development_packages() -> None:
    blocked = dev_only_modules() | {"tools"}
    assert {"moto", "pytest", "regex", "policy_sentry", "hypothesis"} <= blocked  # the check can fail
    names = _module_names()
    assert "ml.backends.sagemaker.clients" in names and "byoc.serve" in names
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, json.dumps(sorted(blocked)), json.dumps(names)],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO}:{CONTAINER}"},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert json.loads(out.stdout.splitlines()[-1]) == []
