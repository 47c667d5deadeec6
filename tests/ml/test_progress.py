"""Stage progress lines."""

from __future__ import annotations

import pytest

from ml.progress import StageClock


def test_stages_print_start_end_and_failure() -> None:
    lines: list[str] = []
    clock = StageClock(total=2, emit=lines.append)
    with clock.stage("train"):
        pass
    with pytest.raises(RuntimeError), clock.stage("deploy"):
        raise RuntimeError("boom")
    assert lines[0] == "[1/2] train ..."
    assert lines[1].startswith("[1/2] train done in ")
    assert lines[3].startswith("[2/2] deploy FAILED after ")
    assert set(clock.timings) == {"train"}
