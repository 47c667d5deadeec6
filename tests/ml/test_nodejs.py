"""ml.nodejs: synthesis refuses a Node older than package.json's engines.node with one clear
error, and looks where jsii looks (JSII_NODE, then PATH). Fake node programs, no real Node."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml.errors import ByocError
from ml.nodejs import NodeVersionError, minimum_node, require_node

ROOT = Path(__file__).resolve().parents[2]


def _fake_node(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    node = folder / "node"
    node.write_text(f"#!/bin/sh\necho {version}\n")
    node.chmod(0o755)
    return node


def test_the_minimum_is_package_json_engines() -> None:
    assert minimum_node(ROOT) == (22, 19, 0)


@pytest.mark.parametrize(
    ("version", "ok"),
    [("v20.20.2", False), ("v22.18.9", False), ("v22.19.0", True), ("v22.100.0", True), ("v24.1.0", True), ("garbage", False)],
)
def test_path_node_is_accepted_only_from_the_minimum(tmp_path: Path, version: str, ok: bool) -> None:
    node = _fake_node(tmp_path / "bin", version)
    environ = {"PATH": str(node.parent)}
    if ok:
        assert require_node(root=ROOT, environ=environ) == str(node)
        return
    with pytest.raises(NodeVersionError, match=r"Node\.js >= 22\.19\.0") as caught:
        require_node(root=ROOT, environ=environ)
    assert isinstance(caught.value, ByocError)  # tasks turn it into a one-line exit
    assert str(node) in str(caught.value) and "bash .ci/setup" in str(caught.value)


def test_jsii_node_wins_over_path(tmp_path: Path) -> None:
    old = _fake_node(tmp_path / "old", "v20.20.2")
    new = _fake_node(tmp_path / "new", "v22.23.3")
    assert require_node(root=ROOT, environ={"PATH": str(old.parent), "JSII_NODE": str(new)}) == str(new)
    with pytest.raises(NodeVersionError, match="v20.20.2"):
        require_node(root=ROOT, environ={"PATH": str(new.parent), "JSII_NODE": str(old)})


def test_no_node_at_all_says_so(tmp_path: Path) -> None:
    with pytest.raises(NodeVersionError, match="none is on PATH"):
        require_node(root=ROOT, environ={"PATH": str(tmp_path)})


def test_a_node_that_cannot_run_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "node"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(NodeVersionError, match="--version` failed"):
        require_node(root=ROOT, environ={"PATH": str(tmp_path)})


def test_an_engines_range_other_than_at_least_is_refused(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"engines": {"node": "^22.19.0"}}))
    with pytest.raises(NodeVersionError, match=r"engines\.node must read >=X\.Y\.Z, not '\^22\.19\.0'"):
        minimum_node(tmp_path)
