"""The README's `npx cdktf synth` (CDK Terrain's CLI through the repo's `cdktf` command) runs the
app as cdktf.json says and writes the same stacks as the in-process synthesis, on a supported
Node: no end-of-life banner, no bytes literals. One CLI synthesis, the suite's costliest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CDKTF = ROOT / "node_modules" / ".bin" / "cdktf"
STACKS = ("BuildPipelineStack", "TrainPipelineStack", "DeployPipelineStack")


def _project_with_an_approver(where: Path) -> Path:
    """The project as the CLI sees it, with cdktf.json naming an approver (it ships none, and the
    stacks refuse to synthesize without one; the CLI replaces any CDKTF_CONTEXT_JSON with the
    file's context). Everything else is a link back to this checkout; main.py is copied so that
    its project root, where it reads cdktf.json, is this folder."""
    where.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in ("cdktf.json", "main.py", "cdktf.out", ".git"):
            (where / entry.name).symlink_to(entry)
    shutil.copy2(ROOT / "main.py", where / "main.py")
    document = json.loads((ROOT / "cdktf.json").read_text(encoding="utf-8"))
    document["context"]["deploy_approval_email"] = "approver@example.org"  # as the session's synthesis
    (where / "cdktf.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    return where


def _addresses(stack: dict[str, Any]) -> set[str]:
    return {f"{kind}.{block}.{name}" for kind in ("resource", "data") for block, items in stack.get(kind, {}).items() for name in items}


@pytest.mark.synth
@pytest.mark.skipif(not CDKTF.exists(), reason="the Node tools are missing: npm ci (or bash .ci/setup)")
def test_cli_synth_writes_the_same_stacks_on_a_supported_node(stacks: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    out = tmp_path / "cli.out"
    result = subprocess.run(
        ["npx", "--no-install", "cdktf", "synth", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=_project_with_an_approver(tmp_path / "project"),
        env={**os.environ, "CHECKPOINT_DISABLE": "1", "PIPENV_PIPFILE": str(ROOT / "Pipfile")},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "end-of-life" not in output and "b'" not in output, output[-4000:]
    for name in STACKS:
        written = json.loads((out / "stacks" / name / "cdk.tf.json").read_text(encoding="utf-8"))
        assert _addresses(written) == _addresses(stacks[name])
        assert written["terraform"] == stacks[name]["terraform"]
        assert written["terraform"]["required_providers"]["aws"]["source"] == "hashicorp/aws"


@pytest.mark.skipif(not CDKTF.exists(), reason="the Node tools are missing: npm ci (or bash .ci/setup)")
def test_the_cdktf_command_is_the_locked_cdktn_cli() -> None:
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/cdktn-cli"]["version"]
    result = subprocess.run(
        ["npx", "--no-install", "cdktf", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == locked  # terraform may add its own warnings below
