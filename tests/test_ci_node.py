""".ci/node: .ci/setup keeps a new enough Node and otherwise installs the locked one, never
overwriting a node that is there; run in a scratch copy with fake node programs, so the
machine's own Node and PATH are never touched."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine().lower()]
LOCKED_VERSION = "v22.23.3"
TOOLS = ("dirname", "sed", "cmp", "install", "uname")


def _fake_node(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A scratch project: .ci/node, package.json's engines, and a 'locked' node from npm ci."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "node", tmp_path / ".ci" / "node")
    engines = json.loads((ROOT / "package.json").read_text())["engines"]
    (tmp_path / "package.json").write_text(json.dumps({"engines": engines}))
    _fake_node(tmp_path / "node_modules" / f"node-linux-{ARCH}" / "bin" / "node", LOCKED_VERSION)
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in TOOLS:
        found = shutil.which(name)
        assert found, f"{name} is needed to run .ci/node"
        (tools / name).symlink_to(found)
    (tools / "python3").symlink_to(Path(sys.executable).resolve())
    return tmp_path


def _run(project: Path, *args: str, path: list[Path]) -> subprocess.CompletedProcess[str]:
    search = ":".join(str(p) for p in [*path, project / "tools"])
    return subprocess.run(
        ["/bin/bash", str(project / ".ci" / "node"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": search},
    )


@pytest.mark.parametrize(
    ("version", "kept"),
    [
        ("v20.20.2", False),
        ("v22.18.9", False),
        ("v22.19.0", True),
        ("v22.100.0", True),  # numeric, not text, comparison
        ("v23.0.0", True),
        ("v24.1.0", True),
        ("not-a-version", False),
    ],
)
def test_check_keeps_only_a_node_at_least_the_package_json_minimum(project: Path, version: str, kept: bool) -> None:
    system = _fake_node(project / "system" / "node", version).parent
    result = _run(project, "check", path=[system])
    assert (result.returncode == 0) is kept, result.stdout + result.stderr
    assert version in result.stdout and "22.19.0" in result.stdout


def test_check_fails_without_any_node(project: Path) -> None:
    result = _run(project, "check", path=[])
    assert result.returncode == 1
    assert "none on PATH" in result.stdout


def test_install_puts_the_locked_node_first_on_path_and_leaves_the_old_one(project: Path) -> None:
    old = _fake_node(project / "system" / "node", "v20.20.2")
    prefix = project / "prefix"
    result = _run(project, "install", str(prefix), path=[prefix / "bin", old.parent])
    assert result.returncode == 0, result.stderr
    assert (prefix / "bin" / "node").read_bytes() == (project / "node_modules" / f"node-linux-{ARCH}" / "bin" / "node").read_bytes()
    assert old.read_text() == "#!/bin/sh\necho v20.20.2\n"
    assert _run(project, "check", path=[prefix / "bin", old.parent]).returncode == 0
    # Running setup again is harmless: the same binary is already there.
    assert _run(project, "install", str(prefix), path=[prefix / "bin", old.parent]).returncode == 0


def test_install_never_overwrites_another_node(project: Path) -> None:
    prefix = project / "prefix"
    theirs = _fake_node(prefix / "bin" / "node", "v20.11.0")
    result = _run(project, "install", str(prefix), path=[prefix / "bin"])
    assert result.returncode == 1
    assert "exists and is not the locked Node" in result.stderr
    assert theirs.read_text() == "#!/bin/sh\necho v20.11.0\n"


def test_install_fails_when_path_would_still_find_the_old_node(project: Path) -> None:
    old = _fake_node(project / "system" / "node", "v20.20.2")
    prefix = project / "prefix"
    result = _run(project, "install", str(prefix), path=[old.parent, prefix / "bin"])
    assert result.returncode == 1
    assert f"put {prefix}/bin ahead of it on PATH" in result.stderr


def test_install_names_the_missing_npm_ci(project: Path) -> None:
    shutil.rmtree(project / "node_modules")
    result = _run(project, "install", str(project / "prefix"), path=[])
    assert result.returncode == 1
    assert "run `npm ci`" in result.stderr
    assert not (project / "prefix").exists()
