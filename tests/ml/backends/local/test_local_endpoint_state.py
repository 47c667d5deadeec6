"""The endpoint's record: its history as timed events, what rollback reads from it, its JSON form."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.backends.local.endpoint_state import EndpointEvent, EndpointSettings, EndpointState, EventKind, previous_versions, served_versions
from ml.backends.local.records import CaptureSettings, Instance, ProcessRecord, RouterRecord, ScalingPolicy, Toolchain, Variant
from ml.errors import StateError

SETTINGS = EndpointSettings(
    variant_name="AllTraffic",
    instances=2,
    runtime="process",
    toolchain=Toolchain(python="/venv/bin/python", nginx="/usr/sbin/nginx"),
    scaling=ScalingPolicy(
        min_instances=2, max_instances=4, target_per_minute=70, window_s=5, scale_out_cooldown_s=5, scale_in_cooldown_s=5
    ),
    capture=CaptureSettings(root=Path("/p/.byoc/datacapture"), sampling_percent=20),
)


def _history(*steps: tuple[EventKind, int]) -> tuple[EndpointEvent, ...]:
    return tuple(
        EndpointEvent(at=f"2026-12-04T10:00:{n:02d}.000+00:00", kind=kind, version=v, config_name=f"ep-v{v}-{n}")
        for n, (kind, v) in enumerate(steps)
    )


def test_previous_versions_name_each_earlier_version_once_newest_last() -> None:
    story = _history(("created", 7), ("updated", 8), ("rolled back", 7), ("updated", 3), ("updated", 7), ("updated", 2))
    assert served_versions(story) == [7, 8, 7, 3, 7, 2]
    assert previous_versions(story, 2) == [8, 3, 7]  # rollback's default: 7, served right before 2
    # An update that was rolled back, a recovery or a restore keeps the version: nothing new was served.
    kept = _history(("created", 2), ("update rolled back", 2), ("recovered", 2), ("restored", 2))
    assert served_versions(kept) == [2] and previous_versions(kept, 2) == []


def test_a_rollback_is_remembered_so_the_next_rollback_goes_forward_again() -> None:
    # Deploy 3, update to 2, roll back to 3: the endpoint has served 2, and a second rollback goes there.
    story = _history(("created", 3), ("updated", 2), ("rolled back", 3))
    assert previous_versions(story, 3) == [2]


def test_the_record_round_trips_through_json() -> None:
    variant = Variant(
        id="v2-20261204-100000-000",
        version=2,
        folder=Path("/p/.byoc/endpoints/ep/variants/v2-20261204-100000-000"),
        instances=(
            Instance(port=4100, argv=("python", "-m", "byoc.serve"), env={"A": "1"}, log=Path("/p/serve.log"), cleanup=(("rm", "x"),)),
        ),
        config_name="ep-v2-1",
    )
    state = EndpointState(
        name="ep",
        status="InService",
        settings=SETTINGS,
        config_name="ep-v2-1",
        version=2,
        url="http://127.0.0.1:4000",
        router=RouterRecord(port=4000, back_port=4001, generation=3),
        supervisor=ProcessRecord(pid=42, started=1.5, argv=("supervisord",), log="/p/supervisord.out"),
        fleet=(variant,),
        weights={variant.id: 100},
        history=_history(("created", 1), ("updated", 2)),
    )
    assert EndpointState.from_dict(state.to_dict()) == state
    public = state.public()
    assert public.previous_versions == [1] and len(public.history) == 2
    assert public.history[1].startswith("2026-12-04T10:00:01.000+00:00 updated: version 2 (ep-v2-1)")


def test_a_record_from_before_settings_were_recorded_says_how_to_remove_it() -> None:
    old = {"name": "ep", "status": "InService", "router": {"port": 1, "back_port": 2, "generation": 1}, "fleet": []}
    with pytest.raises(StateError, match="older version of the local backend; `invoke teardown` stops it"):
        EndpointState.from_dict(old)
