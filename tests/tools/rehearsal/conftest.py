"""A fake AWS front on loopback, with a real docker-registry behind its ECR image lookups."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rehearsal_fake import REGION, Fake

from tools.rehearsal.fakes.ecr import Mutability
from tools.rehearsal.front import FakeAwsServer, make_front, reset_moto
from tools.rehearsal.registry import LoopbackRegistry


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[LoopbackRegistry]:
    with LoopbackRegistry(workdir=tmp_path / "registry") as started:
        yield started


@pytest.fixture
def fake(registry: LoopbackRegistry) -> Iterator[Fake]:
    reset_moto()
    mutability: dict[str, Mutability] = {}
    front = make_front(region=REGION, registry=registry.client, fault=None, mutability=mutability)
    with FakeAwsServer(app=front) as server:
        yield Fake(front=front, url=server.url, registry=registry, mutability=mutability)
    reset_moto()


# synth_dir: the session's one synthesis, from the root conftest.py (shared with tests/modules).
