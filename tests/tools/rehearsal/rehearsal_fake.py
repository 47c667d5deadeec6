"""The fake AWS front the rehearsal tests share, under a name no other test folder uses (not ``conftest``:
pytest loads each named folder's conftest as ``conftest``, so importing from it picks whichever came last)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from tools.rehearsal.fakes.ecr import Mutability
from tools.rehearsal.front import FrontApp
from tools.rehearsal.registry import LoopbackRegistry

REGION = "us-east-1"


@dataclass
class Fake:
    front: FrontApp
    url: str
    registry: LoopbackRegistry
    mutability: dict[str, Mutability]

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.url)
