"""The README's main job, run for real in a scratch project: every verb, then nothing left running."""

from __future__ import annotations

import shutil
from pathlib import Path

import psutil
import pytest

from ml.backends import make_backend
from ml.backends.local.backend import LocalBackend
from ml.config import load_config
from ml.demo import namespace
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


def _users_work(root: Path) -> LocalBackend:
    """What a user has before running the demo: a registered, approved version serving their endpoint."""
    data = root / "data" / "iris.csv"
    data.parent.mkdir()
    shutil.copy(REPO / "data" / "iris.csv", data)
    backend = LocalBackend(config=load_config(REPO / "cdktf.json"), root=root)
    job = backend.train(data=str(data))
    backend.approve(version=backend.register(job_name=job.name).version, note="mine")
    backend.deploy_endpoint(endpoint_name=backend.config.endpoint_name)
    return backend


def test_main_job_runs_every_stage_apart_from_the_users_work_and_leaves_nothing_running(tmp_path: Path) -> None:
    (tmp_path / "ml").mkdir()
    (tmp_path / "ml" / "container").symlink_to(REPO / "ml" / "container")
    user = _users_work(tmp_path)
    before = (user.describe_endpoint(endpoint_name=user.config.endpoint_name), user.list_versions())
    user_processes = {p.pid for p in _processes_under(tmp_path)}
    config = namespace(load_config(REPO / "cdktf.json"))
    lines: list[str] = []

    try:
        clock = run_lifecycle(config=load_config(REPO / "cdktf.json"), root=tmp_path, emit=lines.append)
        # The user's endpoint and versions are exactly as they were: same version, URL, variants, processes.
        after = user.describe_endpoint(endpoint_name=user.config.endpoint_name)
        assert after.status == "InService"
        assert (after.version, after.url, [(v.name, v.version, v.weight) for v in after.variants]) == (
            before[0].version,
            before[0].url,
            [(v.name, v.version, v.weight) for v in before[0].variants],
        )
        assert user.list_versions() == before[1]
        assert {p.pid for p in _processes_under(tmp_path)} == user_processes
        assert user.invoke(endpoint_name=user.config.endpoint_name, body=b"5.1,3.5,1.4,0.2\n").status_code == 200
    finally:
        user.teardown(endpoint_name=user.config.endpoint_name)

    assert len(clock.timings) == 12, lines
    # The fleet grew under the demo's load to the configured maximum, and no request failed.
    grew = [line for line in lines if "instances (current, desired)" in line]
    assert grew[-1].endswith(f"({config.autoscaling_max_instances}, {config.autoscaling_max_instances})"), grew
    assert any(line.strip().endswith(", 0 failed, while the fleet grew") for line in lines), lines
    predictions = [line for line in lines if line.strip().startswith("expected")]
    assert len(predictions) == 12  # six sample rows, before and after the blue/green update
    # The first model is deep enough to get the evenly spaced sample right.
    assert all(line.split()[1] == line.split()[3] for line in predictions[:6]), predictions
    outputs = list((tmp_path / config.local_state_dir / "lifecycle-transform").glob("*.out"))
    assert len(outputs) == 1
    assert len(outputs[0].read_text().splitlines()) == 150
    versions = make_backend("local", config=config, root=tmp_path).list_versions()
    assert sorted(v.approval_status for v in versions) == ["Approved", "Approved"]
    assert _processes_under(tmp_path) == [], "teardown must stop every router and server it started"
    # It ends by naming the reports it wrote: one per version, each a real file under the state.
    closing = lines[lines.index("reports written (4):") :]
    reports = [Path(line.strip()) for line in closing[1:5]]
    assert [p.parent.name for p in reports[:2]] == [f"{config.model_package_group}-{n:06d}" for n in (1, 2)]
    assert all(p.is_file() and p.is_relative_to(tmp_path / config.local_state_dir) for p in reports)
    assert closing[5].startswith("lifecycle finished in")
    assert lines[-1] == "look around in your browser: invoke console --demo", "the last line names the console on its state"
    assert "serving v1" in reports[1].read_text(encoding="utf-8")
    # The router captured the test traffic, and the monitor judged it against the baseline.
    captured = list((tmp_path / config.local_state_dir / config.capture_prefix / config.endpoint_name).rglob("*.jsonl"))
    assert captured and sum(len(p.read_text().splitlines()) for p in captured) >= 2
    assert reports[2].name.startswith(f"monitor-{config.endpoint_name}-") and reports[2].suffix == ".html"
    # Realistic traffic: each version against its own baseline, and the verdict is OK; then the
    # announced drift demonstration breaches.
    assert "    monitor: OK" in lines, lines
    assert any("DEMONSTRATION, not real traffic" in line for line in lines), lines
    assert any(line.startswith("    drift demo: monitor says BREACH") for line in lines), lines
    assert reports[3].name.startswith(f"monitor-{config.endpoint_name}-") and reports[3].suffix == ".html"
