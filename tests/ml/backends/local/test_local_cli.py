"""`invoke` runs the way people run them: from different shells, interrupted with Ctrl-C.

Each run is `python -m invoke ...` in a scratch copy of the project (the `cli_project` fixture),
its environment chosen by the test, its output read line by line.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kill_helpers import FAST, Run, describe, invoke, layout, project_processes, serving_groups, set_context
from local_helpers import Load, url_port

from ml.backends.local.supervise.control import Supervisor
from ml.config import load_config

pytestmark = pytest.mark.slow
STEADY = ("router-front", "router-back", "autoscaler")  # what an update must never restart


@pytest.fixture
def clean(cli_project: Path) -> Iterator[Path]:
    context = (cli_project / "cdktf.json").read_text(encoding="utf-8")
    set_context(cli_project, **FAST)
    yield cli_project
    invoke(cli_project, "teardown")
    (cli_project / "cdktf.json").write_text(context, encoding="utf-8")
    assert project_processes(cli_project) == []


def _supervisor(root: Path) -> Supervisor:
    return Supervisor(folder=layout(root).supervisor_dir(load_config(root / "cdktf.json").endpoint_name))


def _sections(conf: Path, names: tuple[str, ...]) -> dict[str, str]:
    """Each named program's section of the supervisord config, as written."""
    found = re.findall(r"^\[program:([^\]]+)\]\n(.*?)(?=^\[|\Z)", conf.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {name: body for name, body in found if name in names}


def test_an_update_from_another_shell_drops_no_request_and_never_restarts_the_router(clean: Path, tmp_path: Path) -> None:
    # Autoscaling stays on (its program must not restart either) but cannot add instances here.
    set_context(clean, autoscaling_min_instances=2, autoscaling_max_instances=2)
    invoke(clean, "deploy", "--mode", "endpoint", "--version", "1")  # this shell: the test's own environment
    sv = _supervisor(clean)
    before = {name: sv.states()[name].pid for name in STEADY}
    sections = _sections(sv.conf, STEADY)
    assert set(sections) == set(STEADY)
    (tmp_path / "tmp").mkdir()
    # Another shell, as `pipenv run` makes one: another PATH (the venv's bin first, then a reordered
    # system path), another TMPDIR and locale, and variables the first run never saw.
    other = {
        "PATH": f"{Path(sys.executable).parent}:/bin:/usr/bin:/usr/local/bin:{tmp_path}",
        "HOME": os.environ.get("HOME", "/root"),
        "TMPDIR": str(tmp_path / "tmp"),
        "LANG": "C",
        "VIRTUAL_ENV": str(Path(sys.executable).parent.parent),
        "PIPENV_ACTIVE": "1",
        "BYOC_TEST_SHELL": "another one",
    }
    with Load(url_port=url_port(str(describe(clean)["url"])), connections=4) as load:
        Run(clean, "deploy", "--mode", "update", "--version", "2", env=other).finish()
    assert load.result.failures == [], load.result.failures[:5]
    assert load.result.ok > 50 and any(v.startswith("v2-") for v in load.result.variants)
    assert {name: sv.states()[name].pid for name in STEADY} == before, "the update restarted the router or the autoscaler"
    assert _sections(sv.conf, STEADY) == sections, "the update rewrote the router's or the autoscaler's program definition"
    assert describe(clean)["version"] == 2


@pytest.mark.parametrize("moment", ["green (version 2): starting", "% of traffic on version 2; waiting"])
def test_ctrl_c_during_an_update_leaves_the_version_config_and_history_that_serve(clean: Path, moment: str) -> None:
    invoke(clean, "deploy", "--mode", "endpoint", "--version", "1")
    before = describe(clean)
    set_context(clean, local_bluegreen_wait_seconds=600)
    run = Run(clean, "deploy", "--mode", "update", "--version", "2")
    run.wait_for_line(moment)
    run.proc.send_signal(signal.SIGINT)  # Ctrl-C
    assert run.exit_code() != 0
    assert any("rolled back: version 1 serves all traffic" in line for line in run.lines), run.lines
    after = describe(clean)
    assert (after["status"], after["version"], after["config_name"]) == ("InService", 1, before["config_name"])
    assert after["previous_versions"] == []
    history = [str(line) for line in after["history"]]  # type: ignore[attr-defined]
    assert [h.split(" ", 1)[1].split(":")[0] for h in history] == ["created", "update rolled back"], history
    assert "interrupted: KeyboardInterrupt" in history[-1]
    assert serving_groups(clean) == 1, "green still runs"
    set_context(clean, **FAST)
    invoke(clean, "deploy", "--mode", "update", "--version", "2")
    done = describe(clean)
    assert (done["version"], done["previous_versions"]) == (2, [1])
    assert "-v2-" in str(done["config_name"])
