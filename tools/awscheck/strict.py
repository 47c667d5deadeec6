"""Turn on the request check (:mod:`tools.awscheck.requests`) in the processes the tests and the rehearsal start.

Production code never imports this: the check needs the dev-only ``regex`` package, and what it
guards against is our own code, not the user's requests. The test suite checks its own process
with :func:`~tools.awscheck.requests.install_on_every_client`; for the tasks it starts as
subprocesses, and for the buildspecs' commands the CodeBuild rehearsal runs, it passes
:func:`strict_environment`: the folder ``strict_site/`` goes first on ``PYTHONPATH``, and its
``sitecustomize`` loads the checker by path and patches botocore the moment botocore's client
module is imported. A process that never uses AWS pays nothing, and no package of this
repository is put on the path (a rehearsal's exported tree must import its own ``ml``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

SITE_DIR = Path(__file__).resolve().parent / "strict_site"


def strict_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` for a subprocess whose botocore clients must check every request."""
    rest = [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(SITE_DIR)]
    return {**environ, "PYTHONPATH": os.pathsep.join([str(SITE_DIR), *rest])}


def is_strict(environ: Mapping[str, str]) -> bool:
    """Whether ``environ`` makes a subprocess check its requests."""
    return str(SITE_DIR) in environ.get("PYTHONPATH", "").split(os.pathsep)
