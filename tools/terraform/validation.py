"""``terraform validate`` of the synthesized stacks with the real ``hashicorp/aws`` provider.

The stacks pin provider 6.69.1 (cdktn-provider-aws 25.8.1); this machine image ships 5.100.0 in a
local plugin directory and nothing can be downloaded. So each stack is validated as a copy that
names 5.100.0 and has the few 6.x-only settings rewritten, from one explicit list
(:data:`REWRITES`); a test pins that list, so it cannot grow silently. The three copies are
modules of one root configuration, so the provider's schema loads once.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROVIDER_VERSION = "5.100.0"
PLUGIN_ROOTS = ("/opt/tf-plugins", "~/.terraform.d/plugins", "/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins")
PLUGIN_DIR_ENV = "BYOC_TF_PLUGIN_DIR"


@dataclass(frozen=True, kw_only=True)
class Rewrite:
    """One 6.x-only setting and what it becomes for provider 5.100.0, with the reason."""

    resource: str
    attribute: str
    old: object  # the value rewritten; DROP: the attribute itself is dropped
    new: object
    why: str


DROP = "<drop>"
REWRITES: tuple[Rewrite, ...] = (
    Rewrite(
        resource="aws_ecr_repository",
        attribute="image_tag_mutability_exclusion_filter",
        old=DROP,
        new=DROP,
        why="added in provider 6.x: 5.100.0 has no exclusion filters",
    ),
    Rewrite(
        resource="aws_ecr_repository",
        attribute="image_tag_mutability",
        old="IMMUTABLE_WITH_EXCLUSION",
        new="IMMUTABLE",
        why="5.100.0 accepts only MUTABLE or IMMUTABLE; without the exclusion filter the nearest is IMMUTABLE",
    ),
)


def rewrite(stack: Mapping[str, Any]) -> dict[str, Any]:
    """The stack as provider 5.100.0 accepts it (see :data:`REWRITES`); the input is not changed."""
    out = copy.deepcopy(dict(stack))
    out["terraform"]["required_providers"]["aws"]["version"] = PROVIDER_VERSION
    for change in REWRITES:
        for body in out.get("resource", {}).get(change.resource, {}).values():
            if change.attribute not in body:
                continue
            if change.old == DROP:
                del body[change.attribute]
            elif body[change.attribute] == change.old:
                body[change.attribute] = change.new
    return out


def find_plugin_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The plugin directory holding hashicorp/aws 5.100.0 (``$BYOC_TF_PLUGIN_DIR`` first)."""
    env = os.environ if environ is None else environ
    roots = [env[PLUGIN_DIR_ENV]] if env.get(PLUGIN_DIR_ENV) else list(PLUGIN_ROOTS)
    for root in roots:
        path = Path(root).expanduser()
        if any((path / "registry.terraform.io" / "hashicorp" / "aws" / PROVIDER_VERSION).glob("*/terraform-provider-aws_*")):
            return path
    return None


def missing_tools(environ: Mapping[str, str] | None = None) -> str | None:
    """Why validation cannot run here, or ``None``."""
    if shutil.which("terraform") is None:
        return "terraform is not on PATH"
    if find_plugin_dir(environ) is None:
        return f"no hashicorp/aws {PROVIDER_VERSION} plugin directory (searched ${PLUGIN_DIR_ENV}, {', '.join(PLUGIN_ROOTS)})"
    return None


def write_root(workdir: Path, stacks: Mapping[str, Mapping[str, Any]]) -> Path:
    """One root configuration with each rewritten stack as a module (state backends dropped)."""
    root = workdir / "root"
    root.mkdir(parents=True)
    modules: dict[str, Any] = {}
    for name, stack in stacks.items():
        body = rewrite(stack)
        body["terraform"].pop("backend", None)  # validation reads no state
        (workdir / name).mkdir()
        (workdir / name / "cdk.tf.json").write_text(json.dumps(body, indent=1), encoding="utf-8")
        modules[name] = {"source": f"../{name}"}
    (root / "main.tf.json").write_text(json.dumps({"module": modules}, indent=1), encoding="utf-8")
    return root


def terraform(argv: list[str], *, cwd: Path, plugin_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull}
    return subprocess.run(["terraform", *argv, "-no-color"], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def validate(stacks: Mapping[str, Mapping[str, Any]], *, workdir: Path, plugin_dir: Path) -> dict[str, Any]:
    """``terraform init -plugin-dir`` then ``terraform validate -json`` of the stacks; the JSON verdict."""
    root = write_root(workdir, stacks)
    init = terraform(["init", "-backend=false", "-input=false", f"-plugin-dir={plugin_dir}"], cwd=root)
    if init.returncode != 0:
        raise RuntimeError(f"terraform init failed:\n{init.stdout[-2000:]}{init.stderr[-2000:]}")
    done = terraform(["validate", "-json"], cwd=root)
    verdict: dict[str, Any] = json.loads(done.stdout)
    return verdict


def problems(verdict: Mapping[str, Any], *, keep: Callable[[Mapping[str, Any]], bool] = lambda _d: True) -> list[str]:
    """Each diagnostic as one line: severity, summary, where."""
    lines = []
    for d in verdict.get("diagnostics", []):
        if keep(d):
            where = d.get("range", {}).get("filename", "")
            lines.append(f"{d.get('severity')}: {d.get('summary')}: {d.get('detail', '')} ({where})")
    return lines
