"""Each rule of the request check on a small service model written here: every shape kind, both
bounds, the exact words of each violation, and what is left to botocore (types, None values)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from botocore.model import ServiceModel

from tools.awscheck.requests import RequestValidationError, Violation, check_request, compiled, install, install_on_every_client

MODEL = ServiceModel(
    {
        "metadata": {"protocol": "json", "serviceId": "Test", "apiVersion": "2026-01-01", "endpointPrefix": "test"},
        "operations": {"Put": {"name": "Put", "http": {"method": "POST", "requestUri": "/"}, "input": {"shape": "PutInput"}}},
        "shapes": {
            "PutInput": {
                "type": "structure",
                "members": {
                    "Name": {"shape": "Name"},
                    "Blob": {"shape": "Blob"},
                    "Count": {"shape": "Count"},
                    "Ratio": {"shape": "Ratio"},
                    "Low": {"shape": "Low"},
                    "High": {"shape": "High"},
                    "Kind": {"shape": "Kind"},
                    "Items": {"shape": "Items"},
                    "Labels": {"shape": "Labels"},
                    "Free": {"shape": "Free"},
                },
            },
            "Name": {"type": "string", "min": 2, "max": 5, "pattern": "[a-z]+"},
            "Blob": {"type": "blob", "min": 2, "max": 4},
            "Count": {"type": "integer", "min": 1, "max": 10},
            "Ratio": {"type": "double", "min": 0.5, "max": 1.5},
            "Low": {"type": "long", "min": 3},
            "High": {"type": "long", "max": 3},
            "Kind": {"type": "string", "enum": ["A", "B"]},
            "Items": {"type": "list", "member": {"shape": "Name"}, "min": 1, "max": 2},
            "Labels": {"type": "map", "key": {"shape": "Name"}, "value": {"shape": "Count"}, "min": 1, "max": 2},
            "Free": {"type": "string"},
        },
    }
)
PUT = MODEL.operation_model("Put")


def _rules(**params: Any) -> list[tuple[str, str]]:
    return [(v.path, v.rule) for v in check_request(PUT, params)]


def test_strings_lengths_patterns_and_enums() -> None:
    assert _rules(Name="abc", Kind="A", Free="anything at all") == []
    assert _rules(Name="ab") == [] and _rules(Name="abcde") == []  # both bounds are allowed
    assert _rules(Name="a") == [("Name", "has length 1, below the minimum 2")]
    assert _rules(Name="abcdef") == [("Name", "has length 6, above the maximum 5")]
    assert _rules(Name="ab1") == [("Name", "is 'ab1', which does not match the pattern '[a-z]+'")]
    assert _rules(Kind="C") == [("Kind", "is 'C', not one of the enum ['A', 'B']")]
    assert _rules(Name="é€") == [("Name", "is 'é€', which does not match the pattern '[a-z]+'")]  # length 2 in UTF-16


def test_blob_sizes_count_bytes() -> None:
    assert _rules(Blob=b"ab") == [] and _rules(Blob=bytearray(b"abcd")) == [] and _rules(Blob="ab") == []
    assert _rules(Blob=b"a") == [("Blob", "has size in bytes 1, below the minimum 2")]
    assert _rules(Blob="éé€") == [("Blob", "has size in bytes 7, above the maximum 4")]  # UTF-8 bytes, not characters


def test_numbers_in_and_out_of_their_range() -> None:
    assert _rules(Count=1, Ratio=1.5, Low=3, High=3) == [] and _rules(Count=10, Ratio=0.5) == []
    assert _rules(Count=0) == [("Count", "is 0, outside the range 1..10")]
    assert _rules(Count=11) == [("Count", "is 11, outside the range 1..10")]
    assert _rules(Ratio=1.6) == [("Ratio", "is 1.6, outside the range 0.5..1.5")]
    assert _rules(Low=2) == [("Low", "is 2, outside the range 3..inf")]
    assert _rules(High=4) == [("High", "is 4, outside the range -inf..3")]
    assert _rules(Count=True, Name=5, Blob=7, Kind=None) == []  # wrong types and None are botocore's to report


def test_lists_and_maps_and_what_is_inside_them() -> None:
    assert _rules(Items=["ab"], Labels={"ab": 1}) == []
    assert _rules(Items=[]) == [("Items", "has length 0, below the minimum 1")]
    assert _rules(Items=["ab", "cd", "ef"]) == [("Items", "has length 3, above the maximum 2")]
    assert _rules(Items=["ab", "x"]) == [("Items[1]", "has length 1, below the minimum 2")]
    assert _rules(Labels={}) == [("Labels", "has size 0, below the minimum 1")]
    assert _rules(Labels={"ab": 1, "cd": 2, "ef": 3}) == [("Labels", "has size 3, above the maximum 2")]
    assert _rules(Labels={"a": 11}) == [
        ("Labels key 'a'", "has length 1, below the minimum 2"),
        ("Labels['a']", "is 11, outside the range 1..10"),
    ]


def test_a_violation_reads_as_one_sentence_and_the_error_lists_them_all() -> None:
    found = check_request(PUT, {"Name": "a", "Count": 0})
    assert [str(v) for v in found] == [
        "Put: parameter Name has length 1, below the minimum 2",
        "Put: parameter Count is 0, outside the range 1..10",
    ]
    error = RequestValidationError(found)
    assert isinstance(error, ParamValidationError) and error.violations == found
    assert "Put: parameter Name has length 1, below the minimum 2\nPut: parameter Count is 0, outside the range 1..10" in str(error)
    assert Violation(operation="Op", path="P", rule="r") == Violation(operation="Op", path="P", rule="r")


def test_java_patterns_become_full_matches_with_supplementary_characters() -> None:
    assert compiled("a|b").fullmatch("ab") is None  # the alternation is grouped before anchoring
    assert compiled("a|b").fullmatch("b") is not None
    assert compiled(r"[\uD800\uDC00-\uDBFF\uDFFF]+").fullmatch("😀") is not None
    assert compiled(r"[\ud800\udc00-\udbff\udfff]+").fullmatch("😀") is not None  # the range in either case


class _Events:
    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}

    def register(self, event: str, handler: Any, unique_id: str) -> None:
        self.handlers.setdefault(unique_id, (event, handler))


def _client() -> Any:
    return type("Client", (), {"meta": type("Meta", (), {"events": _Events()})()})()


def test_install_checks_before_the_parameters_are_built_once_per_recorder() -> None:
    client, seen = _client(), []
    install(client)
    install(client)  # handed over twice: still one check
    install(client, record=seen.extend)
    (event, check), _recording = client.meta.events.handlers.values()
    assert event == "before-parameter-build" and len(client.meta.events.handlers) == 2
    check(params={"Name": "abc"}, model=PUT)  # a valid request passes
    with pytest.raises(RequestValidationError, match="Put: parameter Name has length 1"):
        check(params={"Name": "a"}, model=PUT)
    _event, recording = _recording
    with pytest.raises(RequestValidationError):
        recording(params={"Name": "a"}, model=PUT)
    assert [v.path for v in seen] == ["Name"]


def test_a_value_of_another_type_is_left_to_botocore() -> None:
    assert _rules(Name=["ab"], Free={"a": 1}, Count=[1], Items="ab", Labels=["ab"]) == []


def test_each_recorder_gets_its_own_check() -> None:
    client, first, second = _client(), [], []
    install(client, record=first.extend)
    install(client, record=second.extend)
    assert len(client.meta.events.handlers) == 2
    for _event, check in client.meta.events.handlers.values():
        with pytest.raises(RequestValidationError):
            check(params={"Name": "a"}, model=PUT)
    assert [v.path for v in first] == [v.path for v in second] == ["Name"]


def test_every_client_made_after_the_install_checks_its_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.client import ClientCreator

    # Under the suite's own hook (tests/conftest.py) lies botocore's create_client: start from it.
    cells = [cell.cell_contents for cell in ClientCreator.create_client.__closure__ or ()]
    botocores = next(f for f in cells if getattr(f, "__qualname__", "") == "ClientCreator.create_client")
    monkeypatch.setattr(ClientCreator, "create_client", botocores)
    seen: list[Violation] = []
    undo = install_on_every_client(record=seen.extend)
    assert ClientCreator.create_client is not botocores
    assert install_on_every_client()() is None  # already installed: nothing more to undo
    client = boto3.client("sagemaker", region_name="us-east-1")
    with pytest.raises(RequestValidationError, match="DescribeEndpoint: parameter EndpointName"):
        client.describe_endpoint(EndpointName="not valid!")
    assert [v.path for v in seen] == ["EndpointName"]
    undo()
    assert ClientCreator.create_client is botocores
