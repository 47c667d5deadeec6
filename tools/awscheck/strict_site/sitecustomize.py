"""Loaded by Python at start-up when this folder is on ``PYTHONPATH`` (see tools/awscheck/strict.py).

It waits for ``botocore.client`` to be imported, then makes every client check its requests
against botocore's service model. The checker is loaded by its file path under a private name,
so no package of this repository lands on ``sys.path`` or in ``sys.modules``. A
``sitecustomize`` further down the path (Debian's, say) still runs: this one would hide it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

_HERE = Path(__file__).resolve().parent
_CHECKER = _HERE.parent / "requests.py"


def _load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_byoc_strict_requests", _CHECKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


class _AfterBotocoreClient(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "botocore.client":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            _load_checker().install_on_every_client()

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _chain() -> None:
    """Run the next ``sitecustomize`` on the path, as if this folder were not there."""
    rest = [p for p in sys.path if p and Path(p).resolve() != _HERE]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


sys.meta_path.insert(0, _AfterBotocoreClient())
_chain()
