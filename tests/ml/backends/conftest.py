"""Fixtures of the contract suite: ``contract`` runs each test once per backend (see contract_world)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from contract_world import Contract, local_world, sagemaker_world, train_local_project


@pytest.fixture(scope="module")
def local_trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_local_project(tmp_path_factory.mktemp("contract-trained"))


@pytest.fixture(params=["local", "sagemaker"])
def contract(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Contract]:
    if request.param == "local":
        yield from local_world(request.getfixturevalue("local_trained"), tmp_path)
    else:
        yield from sagemaker_world(tmp_path)
