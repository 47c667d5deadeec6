"""Parse a buildspec (version 0.2) and run its phases as CodeBuild does.

CodeBuild's documentation (build-env-ref-cmd): in buildspec version 0.2 all commands of a build
run in the same instance of the default shell, so ``cd`` and ``export`` carry over from command
to command and from phase to phase (0.1 ran each command in its own shell). Phases run in order
install, pre_build, build, post_build; the first command that exits non-zero fails its phase and
the build, and no later command runs. ``runtime-versions`` cannot be honoured here (the
rehearsal uses this machine's Python); it is reported, not silently ignored. Any other key
(``on-failure``, ``finally``, ``artifacts``, ...) is refused: our buildspecs do not use them, and
a rehearsal that ignored them would pass where CodeBuild would not.
"""

from __future__ import annotations

import shlex
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from ml.errors import UserInputError

Phase = Literal["install", "pre_build", "build", "post_build"]
PHASES: tuple[Phase, ...] = ("install", "pre_build", "build", "post_build")
PHASE_KEYS = frozenset({"commands", "runtime-versions"})
TOP_KEYS = frozenset({"version", "env", "phases"})
_STATUS_FD = 3


class BuildspecError(UserInputError):
    """A buildspec this rehearsal cannot run faithfully."""


@dataclass(frozen=True, kw_only=True)
class Buildspec:
    variables: dict[str, str]
    commands: dict[Phase, tuple[str, ...]]
    runtime_versions: dict[str, str] = field(default_factory=dict)


def parse_buildspec(text: str, *, origin: str) -> Buildspec:
    document = yaml.safe_load(text)
    if not isinstance(document, dict):
        raise BuildspecError(f"{origin}: a buildspec is a YAML mapping")
    if str(document.get("version")) != "0.2":
        raise BuildspecError(f"{origin}: only buildspec version 0.2 is rehearsed, not {document.get('version')!r}")
    if unknown := set(document) - TOP_KEYS:
        raise BuildspecError(
            f"{origin}: the rehearsal does not model {', '.join(sorted(unknown))}; extend tools/rehearsal/buildspec.py first"
        )
    env = document.get("env") or {}
    if set(env) - {"variables"}:
        raise BuildspecError(f"{origin}: only env.variables is rehearsed, not {', '.join(sorted(set(env) - {'variables'}))}")
    commands: dict[Phase, tuple[str, ...]] = {}
    runtimes: dict[str, str] = {}
    for phase, body in (document.get("phases") or {}).items():
        if phase not in PHASES:
            raise BuildspecError(f"{origin}: unknown phase {phase!r}; CodeBuild's phases are {', '.join(PHASES)}")
        if unknown := set(body or {}) - PHASE_KEYS:
            raise BuildspecError(f"{origin}: phase {phase} uses {', '.join(sorted(unknown))}, which the rehearsal does not model")
        commands[phase] = tuple(str(c) for c in (body or {}).get("commands") or [])
        runtimes.update({str(k): str(v) for k, v in ((body or {}).get("runtime-versions") or {}).items()})
    variables = {str(k): str(v) for k, v in (env.get("variables") or {}).items()}
    return Buildspec(variables=variables, commands=commands, runtime_versions=runtimes)


@dataclass(frozen=True, kw_only=True)
class PhaseResult:
    phase: Phase
    status: Literal["SUCCEEDED", "FAILED", "NOT_RUN"]
    failed_command: str = ""
    exit_code: int = 0


@dataclass(frozen=True, kw_only=True)
class BuildResult:
    phases: tuple[PhaseResult, ...]
    output: str

    @property
    def succeeded(self) -> bool:
        return all(p.status != "FAILED" for p in self.phases)

    @property
    def failure(self) -> PhaseResult | None:
        return next((p for p in self.phases if p.status == "FAILED"), None)


def shell_script(spec: Buildspec, *, status_file: Path) -> str:
    """One bash script for the whole build: each command verbatim, its status checked after it.

    Phase and command outcomes go to ``status_file`` (on file descriptor 3, opened by the script
    itself, so no variable is added to the build's environment) and the output stays as is.
    """
    lines = [f"exec {_STATUS_FD}>>{shlex.quote(str(status_file))}", "set +e"]
    for phase in PHASES:
        for index, command in enumerate(spec.commands.get(phase, ())):
            lines += [
                f"echo '[rehearsal] {phase}: running command {index}' >&2",
                f'echo "{phase} {index} start" >&{_STATUS_FD}',
                command,
                f'__rc=$?; echo "{phase} {index} $__rc" >&{_STATUS_FD}',
                "if [ $__rc -ne 0 ]; then exit $__rc; fi",
            ]
        lines.append(f'echo "{phase} done 0" >&{_STATUS_FD}')
    return "\n".join(lines) + "\n"


def _results(spec: Buildspec, status_lines: list[str], returncode: int) -> tuple[PhaseResult, ...]:
    finished: set[str] = set()
    failed: tuple[str, int, int] | None = None
    started: tuple[str, int] | None = None
    for line in status_lines:
        phase, index, code = line.split()
        if index == "done":
            finished.add(phase)
        elif code == "start":
            started = (phase, int(index))
        else:
            started = None
            if code != "0":
                failed = (phase, int(index), int(code))
    if failed is None and started is not None:
        # The command ended the shell itself (`exit N`): its phase fails with the shell's status.
        failed = (started[0], started[1], returncode or 1)
    results = []
    for phase in PHASES:
        if phase not in spec.commands:
            continue
        if failed and failed[0] == phase:
            results.append(PhaseResult(phase=phase, status="FAILED", failed_command=spec.commands[phase][failed[1]], exit_code=failed[2]))
        else:
            results.append(PhaseResult(phase=phase, status="SUCCEEDED" if phase in finished else "NOT_RUN"))
    return tuple(results)


def run_build(spec: Buildspec, *, cwd: Path, environ: Mapping[str, str], on_line: Callable[[str], None] | None = None) -> BuildResult:
    """Run every phase in one ``bash`` (CodeBuild's 0.2 semantics) in ``cwd`` with exactly ``environ``."""
    with tempfile.TemporaryDirectory(prefix="buildspec-") as tmp:
        script, status = Path(tmp) / "build.sh", Path(tmp) / "status"
        script.write_text(shell_script(spec, status_file=status), encoding="utf-8")
        status.touch()
        output: list[str] = []
        with subprocess.Popen(
            ["bash", str(script)],
            cwd=cwd,
            env=dict(environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                output.append(line)
                if on_line is not None:
                    on_line(line.rstrip("\n"))
        lines = status.read_text(encoding="utf-8").splitlines()
    return BuildResult(phases=_results(spec, lines, process.returncode), output="".join(output))


def describe_runtime(spec: Buildspec) -> list[str]:
    return [f"runtime-versions {k}: {v} is not honoured (this machine's interpreter runs)" for k, v in spec.runtime_versions.items()]
