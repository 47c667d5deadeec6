"""``invoke pipeline``: the sample's build, train and deploy pipelines, run here in order.

Each stage runs the commands its CodeBuild buildspec runs (``buildspecs/*.yml``), with
``--backend sagemaker`` swapped for ``--backend local``, so a local run exercises the very lines
CodeBuild will execute. Between train and deploy sits the manual approval CodePipeline has: a
prompt on a terminal, or ``approve=True`` for unattended runs. Output streams live, training
logs included, and each stage reports its elapsed time.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ml.errors import JobFailedError, UserInputError
from ml.progress import StageClock

PHASES = ("install", "pre_build", "build", "post_build")
MODES = ("endpoint", "transform", "update")
Emit = Callable[[str], None]
Runner = Callable[[list[str], Path, Emit], int]
Asker = Callable[[str], str]


def buildspec_commands(path: Path, *, variables: Mapping[str, str] | None = None) -> list[list[str]]:
    """The ``invoke`` commands of a buildspec, in phase order, retargeted at the local backend.

    Other lines (``pipenv sync``, runtime set-up) prepare a CodeBuild machine and are skipped:
    this checkout is already set up. ``$NAME`` is expanded from the buildspec's ``env.variables``,
    overridden by ``variables``.
    """
    try:
        spec: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise UserInputError(f"cannot read buildspec {path}: {err}") from err
    env = {**{str(k): str(v) for k, v in (spec.get("env", {}) or {}).get("variables", {}).items()}, **(variables or {})}
    commands = []
    for phase in PHASES:
        for line in ((spec.get("phases") or {}).get(phase) or {}).get("commands", []) or []:
            text = re.sub(r"\$\{?([A-Z_][A-Z0-9_]*)\}?", lambda m: env.get(m.group(1), m.group(0)), str(line))
            words = shlex.split(text)
            if words[:2] == ["pipenv", "run"]:
                words = words[2:]
            if not words or words[0] != "invoke":
                continue
            commands.append(_local(words))
    return commands


def _local(words: list[str]) -> list[str]:
    out = list(words)
    for i, word in enumerate(out):
        if word == "--backend" and i + 1 < len(out):
            out[i + 1] = "local"
        elif word.startswith("--backend="):
            out[i] = "--backend=local"
    if not any(w == "--backend" or w.startswith("--backend=") for w in out):
        out += ["--backend", "local"]
    return out


def run_streaming(command: list[str], cwd: Path, emit: Emit) -> int:
    """Run ``invoke ...`` with this interpreter, streaming every output line as it comes."""
    argv = [sys.executable, "-m", "invoke", *command[1:]]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            emit(f"    {line.rstrip()}")
        return proc.wait()


def _ask_on_terminal(question: str) -> str:
    return input(question)


def run_pipeline(
    *,
    root: Path,
    mode: str = "endpoint",
    approve: bool = False,
    emit: Emit = print,
    runner: Runner = run_streaming,
    ask: Asker | None = None,
    interactive: bool | None = None,
) -> StageClock:
    """build → train → approval → deploy (``mode``) → test, with the buildspecs' own commands."""
    if mode not in MODES:
        raise UserInputError(f"--mode must be endpoint, transform or update, not {mode!r}")
    specs = root / "buildspecs"
    stages = [
        ("build", buildspec_commands(specs / "build.yml")),
        ("train", buildspec_commands(specs / "train.yml")),
        ("deploy", buildspec_commands(specs / "deploy.yml", variables={"DEPLOY_MODE": mode})),
    ]
    testing = mode != "transform"
    clock = StageClock(total=len(stages) + 1 + int(testing), emit=emit)

    def run(stage: str, commands: list[list[str]]) -> None:
        with clock.stage(stage):
            for command in commands:
                emit(f"  $ {shlex.join(command)}")
                code = runner(command, root, emit)
                if code != 0:
                    raise JobFailedError(f"pipeline stage {stage} failed: `{shlex.join(command)}` exited {code}; see its output above")

    run(*stages[0])
    run(*stages[1])
    with clock.stage("approval"):
        _approval(
            root=root,
            approve=approve,
            emit=emit,
            ask=ask or _ask_on_terminal,
            interactive=sys.stdin.isatty() if interactive is None else interactive,
        )
    run(*stages[2])
    if testing:
        run("test", [["invoke", "test-endpoint", "--backend", "local"]])
    emit(f"pipeline finished in {clock.elapsed:.1f}s")
    return clock


def _approval(*, root: Path, approve: bool, emit: Emit, ask: Asker, interactive: bool) -> None:
    from ml.backends.local.backend import LocalBackend
    from ml.config import load_config
    from ml.reports.approval import review

    backend = LocalBackend(config=load_config(root / "cdktf.json"), root=root)
    versions = backend.list_versions()
    if not versions:
        raise JobFailedError("the train stage registered no model version; see its output above")
    newest = max(versions, key=lambda v: v.version)  # whatever order the backend lists them in
    if newest.approval_status == "Approved":
        emit(f"  version {newest.version} is already Approved")
        return
    if newest.approval_status == "Rejected":
        raise UserInputError(f"model version {newest.version} is Rejected; the deploy stage will not run")
    # The candidate's report, and its metrics beside the serving version's, before any decision.
    for line in review(backend, version=newest.version).lines():
        emit(line)
    if not approve:
        if not interactive:
            raise UserInputError(
                f"model version {newest.version} awaits approval and no terminal is attached; "
                f"rerun with --approve, or run `invoke approve {newest.version}` and then `invoke deploy`"
            )
        answer = ask(f"  approve model version {newest.version} (metrics {newest.metrics})? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            backend.approve(version=newest.version, status="Rejected", note="rejected at the pipeline's approval prompt")
            raise UserInputError(f"model version {newest.version} was rejected at the prompt; the deploy stage did not run")
    note = "approved with invoke pipeline --approve" if approve else "approved at the pipeline's approval prompt"
    backend.approve(version=newest.version, status="Approved", note=note)
    emit(f"  approved model version {newest.version}")
