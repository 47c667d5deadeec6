"""The variant a capture names -> the version the endpoint serves -> that version's artifact baseline."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import cast

import pytest
from monitor_fixtures import ENDPOINT, baseline_documents

from ml.backends.base import Backend
from ml.backends.records import Endpoint, ModelVersion, Variant
from ml.errors import NotFoundError
from ml.monitor.baseline import MissingBaselineError
from ml.monitor.served import ServedBaselines


class TwoVerbs:
    """The two Backend verbs the mapping uses, answering fixed records and counting calls."""

    def __init__(self, endpoint: Endpoint, versions: list[ModelVersion]) -> None:
        self.endpoint, self.versions = endpoint, versions
        self.calls: list[str] = []

    def describe_endpoint(self, *, endpoint_name: str) -> Endpoint:
        self.calls.append(f"describe {endpoint_name}")
        return self.endpoint

    def list_versions(self) -> list[ModelVersion]:
        self.calls.append("list_versions")
        return self.versions


def _artifact(path: Path, classes: dict[str, int]) -> str:
    with tarfile.open(path, "w:gz") as tar:
        for name, document in baseline_documents(classes=classes).items():
            data = json.dumps(document).encode()
            info = tarfile.TarInfo(f"baseline/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def _version(number: int, uri: str) -> ModelVersion:
    return ModelVersion(group="g", version=number, approval_status="Approved", artifact_uri=uri)


def test_each_variant_gets_the_baseline_of_the_version_it_serves(tmp_path: Path) -> None:
    endpoint = Endpoint(name=ENDPOINT, status="InService", variants=(Variant(name="AllTraffic", version=2, weight=1.0),))
    versions = [_version(1, _artifact(tmp_path / "v1.tar.gz", {"old": 1})), _version(2, _artifact(tmp_path / "v2.tar.gz", {"new": 1}))]
    backend = TwoVerbs(endpoint, versions)
    find = ServedBaselines(backend=cast(Backend, backend), endpoint=ENDPOINT)
    version, baseline = find("AllTraffic")
    assert (version, baseline.classes, baseline.source) == (2, {"new": 1}, str(tmp_path / "v2.tar.gz"))
    find("AllTraffic")
    assert backend.calls == [f"describe {ENDPOINT}", "list_versions"]  # read once per run


def test_an_unknown_variant_or_version_is_a_clear_error(tmp_path: Path) -> None:
    endpoint = Endpoint(name=ENDPOINT, status="InService", variants=(Variant(name="AllTraffic", version=3, weight=1.0),))
    find = ServedBaselines(backend=cast(Backend, TwoVerbs(endpoint, [])), endpoint=ENDPOINT)
    with pytest.raises(NotFoundError, match=r"has no variant 'Blue' now \(it serves AllTraffic\)"):
        find("Blue")
    with pytest.raises(MissingBaselineError, match=f"model version 3 served by {ENDPOINT}/AllTraffic is not in the registry"):
        find("AllTraffic")
