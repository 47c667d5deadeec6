"""The Node.js that synthesis runs on, checked before jsii starts it.

jsii (under cdktn) starts ``$JSII_NODE``, or else the first ``node`` on PATH. CDK Terrain needs
the release in package.json's ``engines.node``; on an older one jsii still runs, but prints an
end-of-life banner as Python bytes literals. ``invoke synth`` calls :func:`require_node` first so
that such a machine gets one line saying what to do instead. Nothing here imports cdktn.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ml.errors import ByocError

SEMVER = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
FIX = (
    "run `bash .ci/setup` (it installs the Node locked in package-lock.json into /usr/local/bin), "
    "put a Node >= {minimum} first on PATH, or set JSII_NODE to one"
)

Version = tuple[int, int, int]


class NodeVersionError(ByocError):
    """The Node.js that jsii would start is missing or older than package.json's engines.node."""


def _parse(text: str) -> Version | None:
    match = SEMVER.fullmatch(text.strip())
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def minimum_node(root: Path) -> Version:
    """package.json's ``engines.node``, which must read ``>=X.Y.Z``."""
    spec = json.loads((root / "package.json").read_text(encoding="utf-8"))["engines"]["node"]
    version = _parse(spec.removeprefix(">=")) if spec.startswith(">=") else None
    if version is None:
        raise NodeVersionError(f"package.json engines.node must read >=X.Y.Z, not {spec!r}")
    return version


def require_node(*, root: Path, environ: Mapping[str, str] = os.environ) -> str:
    """Return the path of the Node that jsii will start; raise if it is missing or too old."""
    minimum = minimum_node(root)
    wanted = ".".join(map(str, minimum))
    node = environ.get("JSII_NODE") or shutil.which("node", path=environ.get("PATH", os.defpath))
    if not node:
        raise NodeVersionError(f"synthesis needs Node.js >= {wanted} and none is on PATH: {FIX.format(minimum=wanted)}")
    try:
        answer = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as err:
        raise NodeVersionError(
            f"synthesis needs Node.js >= {wanted}; `{node} --version` failed ({err}): {FIX.format(minimum=wanted)}"
        ) from err
    found = _parse(answer)
    if found is None or found < minimum:
        raise NodeVersionError(
            f"synthesis needs Node.js >= {wanted} (package.json engines.node); jsii would start {node}, "
            f"which is {answer.strip() or 'unreadable'}: {FIX.format(minimum=wanted)}"
        )
    return node
