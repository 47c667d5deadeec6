"""``invoke rehearse --infrastructure``: ``cdktf deploy`` rehearsed with the real Terraform AWS provider.

The three synthesized stacks (in the validation copy of :mod:`tools.terraform.validation`) are
applied in order against moto's server behind the fake-AWS front, with the provider's
``endpoints`` pointed at it; then each is planned again and the plan must show no changes (what
moto answers must read back as what was asked, or Terraform would fight it forever); then
``invoke teardown --backend sagemaker`` runs from an exported tree against the same state; then
``terraform destroy`` in reverse order. Where moto answers wrongly the front corrects it, each
correction citing the API reference (docs/aws-fidelity.md).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml.names import STACKS
from tools.terraform.validation import find_plugin_dir, rewrite, terraform

STACK_ORDER: tuple[str, ...] = tuple(stack.value for stack in STACKS)  # deploy order; destroy reverses it
# Every service the stacks' resources and data sources call, by the provider's endpoint names.
PROVIDER_SERVICES = (
    "cloudwatch",
    "codebuild",
    "codecommit",
    "codepipeline",
    "ecr",
    "events",
    "iam",
    "kms",
    "logs",
    "s3",
    "sagemaker",
    "sns",
    "sts",
)
# Terraform's default is 10 operations at once; the provider mostly waits (S3 settles for about a
# minute), so more at once shortens an apply without loading the machine.
PARALLELISM = "-parallelism=30"
FAKE_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}  # moto's fake credentials


@dataclass(kw_only=True)
class Step:
    name: str
    seconds: float
    ok: bool
    note: str = ""


@dataclass(kw_only=True)
class InfraResult:
    steps: list[Step] = field(default_factory=list)
    wall_seconds: float = 0.0  # less than the steps' sum: the re-plans run at once

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)


def against_fake(stack: Mapping[str, Any], *, endpoint_url: str) -> dict[str, Any]:
    """The validation copy of ``stack`` with its provider pointed at the fake AWS endpoint."""
    out = rewrite(stack)
    for provider in out["provider"]["aws"]:
        provider.update(
            access_key=FAKE_KEYS["AWS_ACCESS_KEY_ID"],
            secret_key=FAKE_KEYS["AWS_SECRET_ACCESS_KEY"],
            skip_credentials_validation=True,
            skip_metadata_api_check="true",
            skip_region_validation=True,
            s3_use_path_style=True,
            endpoints=[dict.fromkeys(PROVIDER_SERVICES, endpoint_url)],
        )
    return out


def lay_out(workdir: Path, stacks: Mapping[str, Mapping[str, Any]], *, endpoint_url: str) -> dict[str, Path]:
    """``<workdir>/cdktf.out/stacks/<Stack>/cdk.tf.json`` as ``cdktf deploy`` runs them: the local
    state files land in ``<workdir>`` (the stacks' relative backend paths), where the other
    stacks' ``terraform_remote_state`` and the product's state reader find them."""
    dirs: dict[str, Path] = {}
    for name in STACK_ORDER:
        stack_dir = workdir / "cdktf.out" / "stacks" / name
        stack_dir.mkdir(parents=True)
        body = against_fake(stacks[name], endpoint_url=endpoint_url)
        (stack_dir / "cdk.tf.json").write_text(json.dumps(body, indent=1), encoding="utf-8")
        dirs[name] = stack_dir
    return dirs


def _run_step(name: str, action: Callable[[], tuple[bool, str]]) -> Step:
    started = time.monotonic()
    try:
        ok, note = action()
    except (OSError, subprocess.SubprocessError, RuntimeError, ValueError) as err:
        ok, note = False, f"{type(err).__name__}: {err}"
    return Step(name=name, seconds=time.monotonic() - started, ok=ok, note=note)


def _record(result: InfraResult, step: Step, on_line: Callable[[str], None]) -> bool:
    result.steps.append(step)
    note = f"  - {step.note}" if step.note else ""
    on_line(f"[infrastructure] {'PASS' if step.ok else 'FAIL'} {step.seconds:6.1f} s  {step.name}{note}")
    return step.ok


def _timed(result: InfraResult, name: str, action: Callable[[], tuple[bool, str]], on_line: Callable[[str], None]) -> bool:
    return _record(result, _run_step(name, action), on_line)


def _timed_together(result: InfraResult, actions: Mapping[str, Callable[[], tuple[bool, str]]], on_line: Callable[[str], None]) -> bool:
    """Independent read-only steps (the re-plans) at once; each is timed and reported as its own step."""
    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        steps = list(pool.map(_run_step, actions.keys(), actions.values()))
    recorded = [_record(result, step, on_line) for step in steps]  # every one reported, not only up to a failure
    return all(recorded)


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    return (done.stdout + done.stderr).strip()[-3000:]


def _init(stack_dir: Path, plugin_dir: Path) -> tuple[bool, str]:
    done = terraform(["init", "-input=false", f"-plugin-dir={plugin_dir}"], cwd=stack_dir)
    return done.returncode == 0, "" if done.returncode == 0 else _tail(done)


def _apply(stack_dir: Path) -> tuple[bool, str]:
    done = terraform(["apply", "-input=false", "-auto-approve", PARALLELISM], cwd=stack_dir)
    return done.returncode == 0, "" if done.returncode == 0 else _tail(done)


def _replan(stack_dir: Path) -> tuple[bool, str]:
    """``plan -detailed-exitcode``: 0 is no changes, 2 is a diff (named), 1 an error."""
    done = terraform(["plan", "-input=false", "-detailed-exitcode"], cwd=stack_dir)
    if done.returncode == 0:
        return True, "no changes"
    changed = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith(("#", "~", "+", "-"))]
    return False, ("changes: " + "; ".join(changed[:40])) if done.returncode == 2 else _tail(done)


def _destroy(stack_dir: Path) -> tuple[bool, str]:
    done = terraform(["destroy", "-input=false", "-auto-approve", PARALLELISM], cwd=stack_dir)
    return done.returncode == 0, "" if done.returncode == 0 else _tail(done)


def _teardown(*, root: Path, workdir: Path, commit: str, endpoint_url: str) -> tuple[bool, str]:
    """``invoke teardown --backend sagemaker`` from an exported tree holding the stacks' state."""
    from tools.rehearsal.source import export_tree

    tree = export_tree(root, commit=commit, destination=workdir / "operator")
    for name in STACK_ORDER:
        shutil.copy2(workdir / f"terraform.{name}.tfstate", tree / f"terraform.{name}.tfstate")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BYOC_OUTPUTS_"))}
    env.update(FAKE_KEYS, AWS_ENDPOINT_URL=endpoint_url, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "teardown", "--backend", "sagemaker"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done.returncode == 0, " | ".join(_tail(done).splitlines()[-6:])


def run_infrastructure(
    *, root: Path, stacks: Mapping[str, Mapping[str, Any]], workdir: Path, region: str, commit: str, on_line: Callable[[str], None]
) -> InfraResult:
    """Apply, re-plan (no changes), teardown, destroy; every step timed, a failed init or apply stops it."""
    from tools.rehearsal.front import FakeAwsServer, make_front, reset_moto
    from tools.rehearsal.registry import LoopbackRegistry

    plugin_dir = find_plugin_dir()
    if plugin_dir is None:
        raise RuntimeError("no hashicorp/aws 5.100.0 plugin directory; see tools/terraform/validation.py")
    result = InfraResult()
    started = time.monotonic()
    reset_moto()
    with LoopbackRegistry(workdir=workdir / "registry") as registry:
        front = make_front(region=region, registry=registry.client, fault=None, mutability={})
        with FakeAwsServer(app=front) as server:
            dirs = lay_out(workdir, stacks, endpoint_url=server.url)
            applied = all(
                _timed(result, f"init {name}", functools.partial(_init, dirs[name], plugin_dir), on_line)
                and _timed(result, f"apply {name}", functools.partial(_apply, dirs[name]), on_line)
                for name in STACK_ORDER
            )
            # A failed init or apply leaves nothing to plan or destroy; past that every step runs,
            # so one rehearsal shows every diff and still destroys what it made. The re-plans only
            # read, so they run at once; the destroys go in reverse order (each reads the state of
            # the stacks before it).
            if applied:
                replans = {f"re-plan {name}: no changes": functools.partial(_replan, dirs[name]) for name in STACK_ORDER}
                _timed_together(result, replans, on_line)
                teardown = functools.partial(_teardown, root=root, workdir=workdir, commit=commit, endpoint_url=server.url)
                _timed(result, "invoke teardown --backend sagemaker", teardown, on_line)
                for name in reversed(STACK_ORDER):
                    _timed(result, f"destroy {name}", functools.partial(_destroy, dirs[name]), on_line)
    reset_moto()
    result.wall_seconds = time.monotonic() - started
    return result


def rehearse_infrastructure(*, root: Path, synth_dir: Path, region: str, keep: bool, on_line: Callable[[str], None]) -> InfraResult:
    """:func:`run_infrastructure` on the synthesized stacks in a fresh working folder (kept with ``keep``)."""
    from tools.rehearsal.source import snapshot_commit
    from tools.rehearsal.world import load_stacks

    workdir = Path(tempfile.mkdtemp(prefix="byoc-infrastructure-"))
    try:
        stacks = load_stacks(synth_dir, STACK_ORDER)
        return run_infrastructure(root=root, stacks=stacks, workdir=workdir, region=region, commit=snapshot_commit(root), on_line=on_line)
    finally:
        if keep:
            on_line(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def report(result: InfraResult, *, load: str) -> str:
    lines = [f"{'RESULT':<6} {'SECONDS':>7}  STEP", "-" * 72]
    for s in result.steps:
        lines.append(f"{'PASS' if s.ok else 'FAIL':<6} {s.seconds:7.1f}  {s.name}" + (f"  - {s.note}" if s.note and not s.ok else ""))
    passed = f"{sum(s.ok for s in result.steps)}/{len(result.steps)} steps passed"
    lines += ["-" * 72, f"{passed} in {result.wall_seconds:.1f} s wall clock, the re-plans at once (loadavg {load})"]
    return "\n".join(lines)
