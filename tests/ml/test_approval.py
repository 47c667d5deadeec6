"""invoke approve's decision: checked before anything is written, a repeat says so, rejecting what serves warns."""

from __future__ import annotations

import dataclasses
from typing import cast

import pytest
from invoke.context import MockContext
from invoke.exceptions import Exit

import tasks
from ml.approval import check, decide
from ml.backends.base import Backend
from ml.backends.records import Endpoint, ModelVersion
from ml.errors import NotFoundError, UserInputError

ENDPOINT = "scikit-byo-endpoint"


class Registry:
    """The verbs ``decide`` uses, over two versions; v1 serves the endpoint unless told otherwise."""

    def __init__(self, *, serving: int | None = 1) -> None:
        self.versions = {n: ModelVersion(group="g", version=n, approval_status="Approved", artifact_uri="a") for n in (1, 2)}
        self.serving, self.approved = serving, []  # type: list[tuple[int, str]]

    def list_versions(self) -> list[ModelVersion]:
        return list(self.versions.values())

    def approve(self, *, version: int, status: str = "Approved", note: str = "") -> ModelVersion:
        self.approved.append((version, status))
        self.versions[version] = dataclasses.replace(self.versions[version], approval_status=status)  # type: ignore[arg-type]
        return self.versions[version]

    def describe_endpoint(self, *, endpoint_name: str) -> Endpoint:
        if self.serving is None:
            raise NotFoundError(f"endpoint {endpoint_name!r} does not exist")
        return Endpoint(name=endpoint_name, status="InService", version=self.serving)


def _decide(registry: Registry, version: int, status: str) -> tuple[ModelVersion, list[str]]:
    return decide(cast(Backend, registry), version=version, checked=check(status=status, note=""), endpoint=ENDPOINT)


def test_approving_an_approved_version_says_so_and_changes_nothing() -> None:
    registry = Registry()
    record, lines = _decide(registry, 2, "Approved")
    assert lines == ["model version 2 is already Approved; nothing changed, no audit entry added"]
    assert registry.approved == [] and record.approval_status == "Approved"


def test_rejecting_the_serving_version_warns_and_says_how_to_take_it_off() -> None:
    registry = Registry(serving=1)
    record, lines = _decide(registry, 1, "Rejected")
    assert record.approval_status == "Rejected" and registry.approved == [(1, "Rejected")]
    (warning,) = lines
    assert warning.startswith(f"warning: model version 1 is serving endpoint {ENDPOINT}; rejecting it does not take it off")
    assert "invoke rollback" in warning


@pytest.mark.parametrize("serving", [2, None])
def test_rejecting_a_version_that_does_not_serve_needs_no_warning(serving: int | None) -> None:
    assert _decide(Registry(serving=serving), 1, "Rejected")[1] == []


def test_a_bad_status_or_note_is_refused_by_the_check() -> None:
    with pytest.raises(UserInputError, match="approval status must be Approved or Rejected, not 'Maybe'"):
        check(status="Maybe", note="")
    with pytest.raises(UserInputError, match="approval note must be one line"):
        check(status="Approved", note="a\nb")


def test_approve_refuses_a_bad_status_before_writing_the_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """`invoke approve 8 --status Maybe` used to write version 8's report, then refuse the flag."""

    def no_side_effects(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the task reached the backend (and the report) before checking its flags")

    monkeypatch.setattr(tasks, "_backend", no_side_effects)
    with pytest.raises(Exit) as caught:
        tasks.approve(MockContext(), "8", status="Maybe")
    assert caught.value.code == 1
    assert "approval status must be Approved or Rejected, not 'Maybe'" in str(caught.value.message)
