"""`invoke rehearse` refuses bad flags before starting anything."""

from __future__ import annotations

import pytest
from invoke.context import MockContext
from invoke.exceptions import Exit

import tasks


def test_an_unknown_pipeline_is_named() -> None:
    with pytest.raises(Exit, match="--pipelines takes build, train, deploy, not bogus") as stopped:
        tasks.rehearse(MockContext(), pipelines="build,bogus")
    assert stopped.value.code == 2


def test_an_unknown_fault_is_named() -> None:
    with pytest.raises(Exit, match="unknown fault 'bogus'") as stopped:
        tasks.rehearse(MockContext(), fault="bogus")
    assert stopped.value.code == 1
