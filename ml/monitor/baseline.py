"""The training baseline of a model version: Model Monitor's statistics/constraints plus labels.json.

Training writes them to ``model/baseline/`` (``ml/container/byoc/baseline.py``), so they are in
the version's ``model.tar.gz``: a local path or an ``s3://`` URI. The archive is read as a stream
and only the three members are kept.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError

from ml.errors import AwsError, NotFoundError

FILES = ("statistics.json", "constraints.json", "labels.json")
MEMBER_DIR = "baseline"


class MissingBaselineError(NotFoundError):
    """The served version's artifact holds no baseline (trained before baselines were written)."""


@dataclass(frozen=True, kw_only=True)
class FeatureBaseline:
    name: str
    minimum: float
    maximum: float
    edges: tuple[float, ...]  # the KLL buckets' bounds: len(counts) + 1 values
    counts: tuple[float, ...]
    completeness: float  # share of training values present


@dataclass(frozen=True, kw_only=True)
class Baseline:
    source: str
    features: tuple[FeatureBaseline, ...]
    classes: dict[str, int]  # training label -> count


def _feature(stats: Mapping[str, Any], constraint: Mapping[str, Any]) -> FeatureBaseline:
    numbers = stats["numerical_statistics"]
    buckets = numbers["distribution"]["kll"]["buckets"]
    edges = (*(float(b["lower_bound"]) for b in buckets), float(buckets[-1]["upper_bound"]))
    return FeatureBaseline(
        name=str(stats["name"]),
        minimum=float(numbers["min"]),
        maximum=float(numbers["max"]),
        edges=edges,
        counts=tuple(float(b["count"]) for b in buckets),
        completeness=float(constraint.get("completeness", 1.0)),
    )


def parse(documents: Mapping[str, Any], *, source: str) -> Baseline:
    """Build a :class:`Baseline` from the three parsed JSON documents, keyed by file name."""
    try:
        constraints = {c["name"]: c for c in documents["constraints.json"]["features"]}
        features = tuple(_feature(s, constraints.get(s["name"], {})) for s in documents["statistics.json"]["features"])
        classes = {str(k): int(v) for k, v in documents["labels.json"]["classes"].items()}
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise MissingBaselineError(
            f"the baseline in {source} is incomplete or not Model Monitor's format ({type(err).__name__}: {err}); "
            "retrain the version with this project's train"
        ) from None
    return Baseline(source=source, features=features, classes=classes)


def _missing(source: str, missing: list[str]) -> MissingBaselineError:
    return MissingBaselineError(
        f"no baseline in {source} (missing {', '.join(f'{MEMBER_DIR}/{m}' for m in missing)}): the version was trained before "
        "training wrote baselines; retrain it (invoke train) and deploy the new version, then monitor again"
    )


def load_dir(folder: Path) -> Baseline:
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise _missing(str(folder), missing)
    return parse({name: json.loads((folder / name).read_text(encoding="utf-8")) for name in FILES}, source=str(folder))


def _from_tar(stream: IO[bytes], source: str) -> Baseline:
    wanted = {f"{MEMBER_DIR}/{name}": name for name in FILES}
    found: dict[str, Any] = {}
    # "r|gz" reads forward only: the model's other members stream past without being kept.
    with tarfile.open(fileobj=stream, mode="r|gz") as archive:
        for member in archive:
            name = wanted.get(member.name.removeprefix("./"))
            if name and member.isfile():
                handle = archive.extractfile(member)
                if handle is not None:
                    found[name] = json.loads(handle.read())
    missing = [name for name in FILES if name not in found]
    if missing:
        raise _missing(source, missing)
    return parse(found, source=source)


def load_artifact(uri: str, *, s3_client: Any = None) -> Baseline:
    """The baseline inside a version's ``model.tar.gz`` (a local path, or s3:// with a client)."""
    if not uri.startswith("s3://"):
        path = Path(uri)
        if not path.is_file():
            raise MissingBaselineError(
                f"the model artifact {uri} does not exist; the version's files were removed - retrain it (invoke train)"
            )
        with path.open("rb") as handle:
            return _from_tar(handle, uri)
    if s3_client is None:
        raise AwsError(f"{uri} is in S3; run the monitor with --backend sagemaker so it has an S3 client")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"]
    except (ClientError, BotoCoreError) as err:
        raise AwsError(f"cannot read the model artifact {uri}: {err}") from err
    try:
        return _from_tar(body, uri)
    finally:
        body.close()
