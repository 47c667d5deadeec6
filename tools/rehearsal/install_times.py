"""How long a CodeBuild install phase takes: the whole Pipfile against each buildspec's category.

Each measurement syncs a fresh virtual environment in a throwaway copy of ``Pipfile`` and
``Pipfile.lock`` (never the project's own environment), the way CodeBuild's install phase does:
first with an empty pip cache (what a fresh build host pays, downloads included), then again in
another fresh environment with the cache warm (the install alone). Run it with
``python -m tools.rehearsal.install_times [WORKDIR]``; docs/rehearsal.md has the figures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# (label, the install command's extra arguments): before, the whole [packages]; after, the categories.
VARIANTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pipenv sync (whole Pipfile)", ()),
    ("pipenv sync --categories codebuild (build, deploy)", ("--categories", "codebuild")),
    ("pipenv sync --categories codebuild-reports (train, monitor)", ("--categories", "codebuild-reports")),
)


def sync_seconds(*, workdir: Path, extra: Sequence[str], cache: Path) -> float:
    """Seconds for ``pipenv sync`` in a fresh environment under ``workdir``; raises if it fails."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    for name in ("Pipfile", "Pipfile.lock"):
        shutil.copy2(ROOT / name, workdir / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPENV_", "VIRTUAL_ENV", "PIP_"))}
    env.update(PIPENV_VENV_IN_PROJECT="1", PIPENV_NOSPIN="1", PIPENV_YES="1", PIPENV_VERBOSITY="-1")
    env.update(PIP_CACHE_DIR=str(cache), PIPENV_CACHE_DIR=str(cache))  # pipenv passes its own cache to pip
    started = time.monotonic()
    done = subprocess.run(["pipenv", "sync", *extra], cwd=workdir, env=env, capture_output=True, text=True, timeout=3600, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"pipenv sync {' '.join(extra)} failed: {(done.stdout + done.stderr)[-1500:]}")
    return seconds


def measure(base: Path) -> Iterator[str]:
    """One line per variant, as each is measured."""
    yield f"{'cold cache':>10} {'warm cache':>10}  install"
    yield "-" * 80
    for index, (label, extra) in enumerate(VARIANTS):
        cache = base / f"cache-{index}"
        cold = sync_seconds(workdir=base / f"cold-{index}", extra=extra, cache=cache)
        warm = sync_seconds(workdir=base / f"warm-{index}", extra=extra, cache=cache)
        size = sum(f.stat().st_size for f in (base / f"warm-{index}" / ".venv").rglob("*") if f.is_file()) / 2**20
        yield f"{cold:9.1f}s {warm:9.1f}s  {label}; environment {size:.0f} MiB"


if __name__ == "__main__":
    where = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="byoc-install-times-"))
    for line in measure(where):
        print(line, flush=True)
    print(f"(throwaway environments under {where}; load average {os.getloadavg()[0]:.1f})")
