"""The README's main job, run for real in a scratch project: every verb, then nothing left running."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from ml.backends import make_backend
from ml.config import load_config
from ml.lifecycle import run_lifecycle

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _processes_under(root: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "environ"]):
        try:
            text = " ".join(process.info["cmdline"] or []) + " ".join((process.info["environ"] or {}).values())
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
        if str(root) in text:
            found.append(process)
    return found


def test_main_job_runs_every_stage_and_leaves_nothing_running(tmp_path: Path) -> None:
    (tmp_path / "ml").mkdir()
    (tmp_path / "ml" / "container").symlink_to(REPO / "ml" / "container")
    config = load_config(REPO / "cdktf.json")
    lines: list[str] = []

    clock = run_lifecycle(config=config, root=tmp_path, emit=lines.append)

    assert len(clock.timings) == 11, lines
    # The fleet grew under the demo's load to the configured maximum, and no request failed.
    grew = [line for line in lines if "instances (current, desired)" in line]
    assert grew[-1].endswith(f"({config.autoscaling_max_instances}, {config.autoscaling_max_instances})"), grew
    assert any(line.strip().endswith(", 0 failed, while the fleet grew") for line in lines), lines
    predictions = [line for line in lines if line.strip().startswith("expected")]
    assert len(predictions) == 12  # six sample rows, before and after the blue/green update
    # The first model is deep enough to get the evenly spaced sample right.
    assert all(line.split()[1] == line.split()[3] for line in predictions[:6]), predictions
    assert (tmp_path / "data" / "iris.csv").is_file(), "the sample data is written when missing"
    outputs = list((tmp_path / config.local_state_dir / "lifecycle-transform").glob("*.out"))
    assert len(outputs) == 1
    assert len(outputs[0].read_text().splitlines()) == 150
    versions = make_backend("local", config=config, root=tmp_path).list_versions()
    assert sorted(v.approval_status for v in versions) == ["Approved", "Approved"]
    assert _processes_under(tmp_path) == [], "teardown must stop every router and server it started"
    # It ends by naming the reports it wrote: one per version, each a real file under the state.
    closing = lines[lines.index("reports written (3):") :]
    reports = [Path(line.strip()) for line in closing[1:4]]
    assert [p.parent.name for p in reports[:2]] == [f"{config.model_package_group}-{n:06d}" for n in (1, 2)]
    assert all(p.is_file() and p.is_relative_to(tmp_path / config.local_state_dir) for p in reports)
    assert closing[4].startswith("lifecycle finished in")
    assert "serving v1" in reports[1].read_text(encoding="utf-8")
    # The router captured the test traffic, and the monitor judged it against the baseline.
    captured = list((tmp_path / config.local_state_dir / config.capture_prefix / config.endpoint_name).rglob("*.jsonl"))
    assert captured and sum(len(p.read_text().splitlines()) for p in captured) >= 2
    assert reports[2].name.startswith(f"monitor-{config.endpoint_name}-") and reports[2].suffix == ".html"
    assert any(line.strip().startswith("monitor: ") for line in lines), lines
