"""The whole rehearsal, once: every pipeline as CodeBuild runs it, then each injected failure.

Builds the real image with podman/buildah (a minute or two) and runs every stage against the
fakes; the failure cases reuse the pushed image and the registered versions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.imaging import builder_missing
from tools.rehearsal.faults import FAULTS
from tools.rehearsal.plan import plan
from tools.rehearsal.run import report, run_rehearsal

ROOT = Path(__file__).resolve().parents[3]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.image,
    pytest.mark.skipif(builder_missing() is not None, reason=f"image tools: {builder_missing()}"),
]


def test_every_pipeline_and_every_injected_failure_behave_as_on_aws(synth_dir: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    results = run_rehearsal(
        root=ROOT, synth_dir=synth_dir, stages=plan(faults=FAULTS), region="us-east-1", on_line=lines.append, keep=tmp_path / "work"
    )
    table = report(results, load="-")
    assert all(r.passed for r in results), table + "\n" + "\n".join(lines[-60:])
    names = [r.stage.name for r in results]
    assert "deploy: blue/green update to version 2" in names and "teardown" in names
    failed_as_injected = [r for r in results if r.stage.fault is not None]
    assert {r.stage.fault for r in failed_as_injected} == set(FAULTS)
    assert all(r.exit_code != 0 for r in failed_as_injected)
