"""Fixtures that run the container's programs for real, from the checkout, in temp SageMaker trees."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from container_helpers import SERVE, Server, iris_csv_lines, make_tree, program_env, run_train, stop, wait_until_listening

from ml.backends.local.procs import free_port


def pytest_configure(config: pytest.Config) -> None:
    """Hypothesis keeps its files (constants cache; the tests keep no example database) in the
    temp folder, never in the checkout: no test writes into the working tree."""
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / f"byoc-hypothesis-{os.getuid()}")


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start ``serve`` on 127.0.0.1 and an ephemeral port for a given tree; stopped after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(base_dir: Path, **extra: str) -> Server:
        port = free_port()
        env = program_env(base_dir, SAGEMAKER_BIND_TO_PORT=str(port), BYOC_BIND_HOST="127.0.0.1", MODEL_SERVER_WORKERS="2", **extra)
        with (tmp_path / f"serve-{port}.log").open("wb") as log:
            process = subprocess.Popen([str(SERVE)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_until_listening(url, process)
        return Server(url, process)

    yield start
    for process in started:
        stop(process)


@pytest.fixture(scope="session")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trained iris model for the serving tests (training is the slow part)."""
    root = make_tree(
        tmp_path_factory.mktemp("trained"), training="\n".join(iris_csv_lines()) + "\n", hyperparameters={"max_leaf_nodes": "5"}
    )
    result = run_train(root)
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture(scope="session")
def session_server(trained_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server shared by the read-only serving tests."""
    port = free_port()
    env = program_env(trained_dir, SAGEMAKER_BIND_TO_PORT=str(port), BYOC_BIND_HOST="127.0.0.1", MODEL_SERVER_WORKERS="2")
    with (tmp_path_factory.mktemp("logs") / "serve.log").open("wb") as log:
        process = subprocess.Popen([str(SERVE)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_listening(url, process)
        yield Server(url, process)
    finally:
        stop(process)
