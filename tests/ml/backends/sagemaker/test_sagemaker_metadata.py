"""Defect 1: lineage in CustomerMetadataProperties must fit the API's alphabet and limits, and round-trip."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml.backends.sagemaker import metadata
from ml.backends.sagemaker.backend import SageMakerBackend
from ml.errors import UserInputError
from tools.awscheck.requests import check_request

_CREATE = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateModelPackage")


def _accepted(props: dict[str, str]) -> bool:
    return check_request(_CREATE, {"ModelPackageGroupName": "g", "CustomerMetadataProperties": props}) == []


@given(st.text(max_size=60))
def test_any_text_escapes_into_the_alphabet_and_back(text: str) -> None:
    encoded = metadata.encode(text)
    assert metadata.decode(encoded) == text
    if encoded:
        # Every character is in the alphabet (lengths are encode_properties' concern, below).
        assert _accepted({"k": encoded[: metadata.MAX_VALUE], encoded[: metadata.MAX_KEY]: "v"})


def test_hyperparameters_get_a_key_each_and_round_trip() -> None:
    hyperparameters = {"max_depth": "3", "layers": '{"a": [1, 2]}', "weird key=1": "ä,b", "empty": ""}
    fields = {"training_job": "job-1", "data_version": "training=3/L4kq+x.y_z"}
    props = metadata.encode_properties(fields, hyperparameters=hyperparameters, metrics={"validation:accuracy": 0.9667})
    assert _accepted(props)
    assert props["hp.max_depth"] == "3" and props["metric.validation:accuracy"] == "0.9667"
    lineage, metrics = metadata.decode_properties(props)
    assert lineage == {**fields, "hyperparameters": {k: v for k, v in hyperparameters.items() if v}}
    assert metrics == {"validation:accuracy": 0.9667}


def test_what_cannot_fit_is_counted_not_truncated() -> None:
    many = {f"p{i:02d}": str(i) for i in range(60)}
    props = metadata.encode_properties({"training_job": "job-1", "huge": "x" * 300}, hyperparameters=many, metrics={})
    assert _accepted(props)
    # Full, less the room kept for what is added later (the report's URI): it always fits.
    assert len(props) == metadata.MAX_ENTRIES - len(metadata.RESERVED_KEYS)
    assert _accepted(metadata.with_property(props, metadata.REPORT, "s3://lake/reports/g/000001/index.html", owner="v1"))
    assert "huge" not in props  # never cut short: a truncated value would lie
    lineage, _ = metadata.decode_properties(props)
    assert lineage["omitted"] == str(1 + 60 - 47)
    assert lineage["training_job"] == "job-1"  # the complete record stays findable


def test_registered_version_lists_its_hyperparameters(backend: SageMakerBackend, clients: Any) -> None:
    job = backend.train(hyperparameters={"max_depth": "4", "criterion": "gini,entropy"})
    version = backend.register(job_name=job.name)
    [listed] = backend.list_versions()
    assert listed.lineage.hyperparameters == {"max_depth": "4", "max_leaf_nodes": "5", "random_state": "0", "criterion": "gini,entropy"}
    assert listed.lineage.hyperparameters == version.lineage.hyperparameters == job.hyperparameters
    assert listed.training_job == job.name


def test_a_property_past_the_api_limit_is_refused_with_the_fix() -> None:
    full = {f"k{i}": "v" for i in range(metadata.MAX_ENTRIES)}
    with pytest.raises(UserInputError, match="already has 50 CustomerMetadataProperties.*CustomerMetadataPropertiesToRemove"):
        metadata.with_property(full, metadata.REPORT, "s3://lake/x", owner="model version 3")
    assert metadata.with_property(full, "k0", "replaced", owner="v")["k0"] == "replaced"  # replacing needs no room


def test_escaping_is_quoted_printable_per_utf8_byte() -> None:
    assert metadata.encode("a b_c.d:e/f+g-h@1") == "a b_c.d:e/f+g-h@1"  # the safe subset stays as it is
    assert metadata.encode("é=,{") == "=C3=A9=3D=2C=7B"
    assert metadata.decode("=C3=A9=3D=2C=7B") == "é=,{"
    assert metadata.decode("=c3=a9") == "=c3=a9"  # only the encoder's own (upper-case) escapes are undone
    assert metadata.decode("=FF") == "\ufffd"  # a broken byte cannot crash a listing


def test_keys_and_values_at_the_api_limits_fit_and_one_more_character_does_not() -> None:
    fields = {"k" * metadata.MAX_KEY: "v", "x" * (metadata.MAX_KEY + 1): "v", "full": "y" * metadata.MAX_VALUE, "over": "z" * 257}
    props = metadata.encode_properties(fields, hyperparameters={}, metrics={})
    assert set(props) == {"k" * metadata.MAX_KEY, "full", metadata.OMITTED}
    assert props[metadata.OMITTED] == "2" and _accepted(props)
    assert metadata.OMITTED not in metadata.encode_properties({"a": "b"}, hyperparameters={}, metrics={})


def test_an_added_property_may_be_as_long_as_the_api_allows_and_no_longer() -> None:
    assert metadata.with_property({}, "report", "r" * metadata.MAX_VALUE, owner="v1")["report"] == "r" * metadata.MAX_VALUE
    with pytest.raises(UserInputError, match=r"^'report' of model version 3 is longer than SageMaker's 256 characters once escaped: ,,,"):
        metadata.with_property({}, "report", "," * 86, owner="model version 3")  # 86 x '=2C' is 258 characters
    assert metadata.with_property({}, "ré port", "ü", owner="v")["r=C3=A9 port"] == "=C3=BC"  # the name is escaped too


def test_metrics_are_written_compactly_and_read_back_as_numbers() -> None:
    props = metadata.encode_properties({}, hyperparameters={"z": "1", "a": "2"}, metrics={"loss": 1e-05, "acc": 1.0})
    assert list(props) == ["metric.acc", "metric.loss", "hp.a", "hp.z"]  # metrics, then hyperparameters, each sorted
    assert (props["metric.acc"], props["metric.loss"]) == ("1", "1e-05")
    lineage, metrics = metadata.decode_properties(props)
    assert metrics == {"acc": 1.0, "loss": 1e-05} and lineage == {"hyperparameters": {"a": "2", "z": "1"}}
