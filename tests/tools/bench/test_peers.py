"""The peers' throwaway environments: cache key, reuse, atomic build; their request bodies and command lines."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from ml.errors import ByocError
from tools.bench import peers

REQS = ("flask==3.1.3", "pandas==3.1.1")


def test_venv_key_ignores_order_case_and_blank_lines_but_not_versions_or_python() -> None:
    key = peers.venv_key(REQS, python_version="3.11.7", machine="x86_64")
    assert key == peers.venv_key(("  Pandas==3.1.1", "", "flask==3.1.3"), python_version="3.11.7", machine="x86_64")
    assert key != peers.venv_key(("flask==3.1.2", "pandas==3.1.1"), python_version="3.11.7", machine="x86_64")
    assert key != peers.venv_key(REQS, python_version="3.12.1", machine="x86_64")
    assert key != peers.venv_key(REQS, python_version="3.11.7", machine="aarch64")


class FakeInstaller:
    """Stands in for pip: makes the venv's python file, counts calls, fails when told."""

    def __init__(self, *, fail: bool = False) -> None:
        self.calls: list[tuple[Path, tuple[str, ...]]] = []
        self.fail = fail

    def __call__(self, venv: Path, requirements: Sequence[str]) -> None:
        self.calls.append((venv, tuple(requirements)))
        (venv / "bin").mkdir(parents=True)
        (venv / "bin" / "python").write_text("#!/bin/sh\n")
        if self.fail:
            raise ByocError("pip could not install")


def test_second_call_reuses_the_cached_environment_without_installing(tmp_path: Path) -> None:
    install = FakeInstaller()
    first = peers.ensure_venv(REQS, cache_dir=tmp_path, install=install)
    second = peers.ensure_venv(tuple(reversed(REQS)), cache_dir=tmp_path, install=install)
    assert first == second == tmp_path / "venvs" / peers.venv_key(REQS)
    assert len(install.calls) == 1
    assert (first / "requirements.txt").read_text() == "flask==3.1.3\npandas==3.1.1\n"
    # Other pins, another environment.
    peers.ensure_venv(("flask==3.1.2",), cache_dir=tmp_path, install=install)
    assert len(install.calls) == 2


def test_a_failed_install_leaves_nothing_a_later_run_would_trust(tmp_path: Path) -> None:
    with pytest.raises(ByocError, match="pip could not install"):
        peers.ensure_venv(REQS, cache_dir=tmp_path, install=FakeInstaller(fail=True))
    assert [name for name in os.listdir(tmp_path / "venvs") if not name.endswith(".lock")] == []
    install = FakeInstaller()
    peers.ensure_venv(REQS, cache_dir=tmp_path, install=install)
    assert len(install.calls) == 1


def test_an_interrupted_build_without_its_marker_is_built_again(tmp_path: Path) -> None:
    half = tmp_path / "venvs" / peers.venv_key(REQS)
    (half / "bin").mkdir(parents=True)
    (half / "bin" / "python").write_text("#!/bin/sh\n")
    install = FakeInstaller()
    assert peers.ensure_venv(REQS, cache_dir=tmp_path, install=install) == half
    assert len(install.calls) == 1


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BYOC_BENCH_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert peers.default_cache_dir() == tmp_path / "xdg" / "byoc-bench"
    monkeypatch.setenv("BYOC_BENCH_CACHE", str(tmp_path / "explicit"))
    assert peers.default_cache_dir() == tmp_path / "explicit"


def test_mlflow_gets_a_header_row_and_the_sample_does_not() -> None:
    rows = ["5.1,3.5,1.4,0.2", "6.2,2.9,4.3,1.3"]
    assert peers.csv_body(rows, header=peers.PEERS["mlflow"].csv_header, n_features=4) == "f0,f1,f2,f3\n5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3\n"
    assert peers.csv_body(rows, header=peers.PEERS["sample"].csv_header, n_features=4) == "5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3\n"


def test_peer_env_drops_the_projects_path_and_puts_the_venv_first(tmp_path: Path) -> None:
    env = peers.peer_env({"PYTHONPATH": "/repo", "PATH": "/usr/bin", "HOME": "/root"}, venv=tmp_path, model_dir=tmp_path / "model")
    assert "PYTHONPATH" not in env
    assert env["PATH"] == f"{tmp_path / 'bin'}{os.pathsep}/usr/bin"
    assert env["PEER_MODEL_FILE"] == str(tmp_path / "model" / "model.skops")
    assert env["PEER_TRUSTED_TYPES"].split(",") == list(peers.TRUSTED_TYPES)


def test_server_command_lines_use_the_peers_own_python_and_the_worker_count(tmp_path: Path) -> None:
    mlflow = peers.server_argv(peers.PEERS["mlflow"], tmp_path, port=9001, workers=2, mlflow_model=tmp_path / "m")
    assert mlflow[:5] == [str(tmp_path / "bin" / "python"), "-m", "mlflow", "models", "serve"]
    assert mlflow[mlflow.index("--workers") + 1] == "2"
    assert mlflow[mlflow.index("--env-manager") + 1] == "local"
    sample = peers.server_argv(peers.PEERS["sample"], tmp_path, port=9002, workers=3)
    assert sample[:3] == [str(tmp_path / "bin" / "python"), "-m", "gunicorn"]
    assert sample[sample.index("--workers") + 1] == "3"
    assert sample[-1] == "peers_sample_app:create_app()"
    with pytest.raises(ValueError, match="needs the saved model"):
        peers.server_argv(peers.PEERS["mlflow"], tmp_path, port=9001, workers=2)
