"""Run mutmut over one decision module at a time, in a scratch copy of the project, and score it.

Each target gets its own copy (``ml/``, ``tools/``, ``tests/``, the root conftest and configs)
with a ``[tool.mutmut]`` section naming that one file and its fast tests, so the checkout never
holds ``mutants/`` and one target's run cannot disturb another's. The score is the share of
mutants the tests caught: killed, or made to time out (a mutant that hangs the tests is caught).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tools.mutation.targets import Target

COPIED = ("ml", "tools", "tests", "data", "conftest.py", "cdktf.json", "pyproject.toml")
SHOWN = 60
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".byoc", "mutants", "*.out", ".hypothesis")


@dataclass(frozen=True, kw_only=True)
class Score:
    target: Target
    killed: int
    timeout: int
    survived: int
    no_tests: int
    total: int
    survivors: tuple[str, ...]  # each survivor's name and diff, for the report

    @property
    def caught(self) -> int:
        return self.killed + self.timeout

    @property
    def percent(self) -> float:
        judged = self.caught + self.survived + self.no_tests
        return 100.0 * self.caught / judged if judged else 100.0

    def line(self) -> str:
        return (
            f"{self.target.name:<22} {self.target.path:<40} {self.percent:6.1f}%  "
            f"{self.caught}/{self.total} caught ({self.killed} killed, {self.timeout} timed out), "
            f"{self.survived} survived, {self.no_tests} not covered"
        )


def _config(target: Target) -> str:
    tests = ", ".join(json.dumps(t) for t in target.tests)
    return f"""

[tool.mutmut]
source_paths = ["ml", "tools"]
only_mutate = ["{target.path}"]
also_copy = ["conftest.py", "cdktf.json", "data"]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-m", "not slow and not image", "-x"]
pytest_add_cli_args_test_selection = [{tests}]
"""


def prepare(root: Path, workdir: Path, target: Target) -> Path:
    """A scratch copy of the project for ``target``'s run; returns its folder."""
    folder = workdir / target.slug
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name in COPIED:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=IGNORED, symlinks=True)
        elif source.is_file():
            shutil.copy2(source, folder / name)
    with (folder / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(_config(target))
    return folder


def _mutmut(folder: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    return subprocess.run([mutmut, *args], cwd=folder, capture_output=True, text=True, check=False, timeout=timeout)


def _survivors(folder: Path) -> list[str]:
    listed = _mutmut(folder, "results", timeout=120).stdout.splitlines()
    return [line.split(":")[0].strip() for line in listed if line.strip().endswith(("survived", "no tests"))]


def run_target(
    root: Path, workdir: Path, target: Target, *, children: int, timeout_s: float, say: Callable[[str], None], shown: int = SHOWN
) -> Score:
    folder = prepare(root, workdir, target)
    say(f"mutating {target.path} ({target.name}) in {folder}")
    try:
        ran = _mutmut(folder, "run", "--max-children", str(children), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        # The time box is up: mutmut keeps each mutant's result as it goes, so the score covers
        # what was tested, and the mutants not reached count as not covered.
        say(f"  time box of {timeout_s / 60:g} min reached for {target.path}: scoring the mutants tested so far")
        ran = subprocess.CompletedProcess(args=[], returncode=0, stdout="", stderr="")
    if ran.returncode != 0:
        raise RuntimeError(f"mutmut failed on {target.path} (exit {ran.returncode}):\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}")
    names = _survivors(folder)
    if names:
        # On two busy cores a forked test run now and then fails to kill a mutant it kills when run
        # again; a survivor counts only if it survives a second, separate run.
        with contextlib.suppress(subprocess.TimeoutExpired):
            _mutmut(folder, "run", *names, timeout=timeout_s)
        names = _survivors(folder)
    _mutmut(folder, "export-cicd-stats", timeout=120)
    stats = json.loads((folder / "mutants" / "mutmut-cicd-stats.json").read_text(encoding="utf-8"))
    # Each `mutmut show` is a process of its own: the first ``shown`` with their diff, the rest by name.
    survivors = tuple(f"{name}\n{_mutmut(folder, 'show', name, timeout=120).stdout.strip()}" for name in names[:shown]) + tuple(
        names[shown:]
    )
    return Score(
        target=target,
        killed=int(stats["killed"]),
        timeout=int(stats["timeout"]),
        survived=int(stats["survived"]),
        no_tests=int(stats["no_tests"]),
        total=int(stats["total"]),
        survivors=survivors,
    )


def report(scores: list[Score], *, goal: float) -> str:
    lines = [f"{'module':<22} {'file':<40} {'score':>7}", *(s.line() for s in scores)]
    below = [s.target.name for s in scores if s.percent < goal]
    lines.append(f"below the {goal:g}% goal: {', '.join(below)}" if below else f"every module at or above {goal:g}%")
    for score in scores:
        for survivor in score.survivors:
            lines += ["", f"survived in {score.target.path}:", survivor]
    return "\n".join(lines) + "\n"
