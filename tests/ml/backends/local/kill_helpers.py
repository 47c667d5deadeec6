"""Helpers for the kill tests: a scratch copy of the project, invoke runs to SIGKILL, the process table."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from ml.backends.local.backend import LocalBackend
from ml.backends.local.layout import Layout
from ml.config import load_config

REPO = Path(__file__).resolve().parents[4]
# A generous bound on waiting for an event that must come; it is never the thing under test.
EVENT_TIMEOUT_S = 240.0
FAST = {"local_bluegreen_wait_seconds": 0.2, "local_bluegreen_baking_seconds": 0.5, "alarm_p99_latency_ms": 60000}


def scratch_project(root: Path) -> Path:
    """What `invoke` needs to run from ``root``: tasks, the ml package, config, sample data (and tools/,
    where tasks.py finds the bench collection)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.out", ".byoc")
    shutil.copytree(REPO / "ml", root / "ml", ignore=ignore)
    shutil.copytree(REPO / "data", root / "data", ignore=ignore)
    shutil.copytree(REPO / "buildspecs", root / "buildspecs")
    for name in ("tasks.py", "cdktf.json"):
        shutil.copy(REPO / name, root / name)
    (root / "tools").symlink_to(REPO / "tools")
    return root


def set_context(root: Path, **values: object) -> None:
    """Edit the scratch project's cdktf.json context (each invoke run reads it afresh)."""
    path = root / "cdktf.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["context"].update(values)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


class Run:
    """``invoke ARGS`` in the scratch project, its output collected line by line as it comes.

    ``env``: the environment of the shell it runs from (default: this process's).
    """

    def __init__(self, root: Path, *args: str, env: dict[str, str] | None = None) -> None:
        env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "invoke", *args], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_line(self, text: str) -> None:
        """Block until a line containing ``text`` is printed; fail if the run ends first."""
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        with self._changed:
            while not any(text in line for line in self.lines):
                if not self._reader.is_alive() or time.monotonic() > deadline:
                    self.proc.kill()  # never leave a run behind a failed wait: teardown would wait on its claim
                    raise AssertionError(f"never printed {text!r}; output:\n" + "\n".join(self.lines))
                self._changed.wait(timeout=1.0)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._reader.join(timeout=30)
        assert self.proc.stdout is not None
        self.proc.stdout.close()

    def exit_code(self) -> int:
        """Wait for the run to end, whatever its exit status; its output is in ``lines``."""
        code = self.proc.wait(timeout=EVENT_TIMEOUT_S)
        self._reader.join(timeout=30)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code

    def finish(self) -> str:
        code = self.proc.wait(timeout=EVENT_TIMEOUT_S)
        self._reader.join(timeout=30)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        output = "\n".join(self.lines)
        assert code == 0, f"invoke exited {code}:\n{output}"
        return output


def invoke(root: Path, *args: str) -> str:
    """Run ``invoke ARGS`` to the end; it must exit 0. Returns its output."""
    return Run(root, *args).finish()


def project_processes(root: Path) -> list[str]:
    """Every live process of the scratch project, by the process table: working under ``root``,
    or naming it on its command line (nginx's ``-p PREFIX``). Excludes this test process."""
    inside = str(root.resolve())
    found = []
    for proc in psutil.process_iter(["pid", "cwd", "cmdline", "status"]):
        if proc.pid == os.getpid() or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cwd = proc.info["cwd"] or ""
        cmdline = " ".join(proc.info["cmdline"] or [])
        if cwd == inside or cwd.startswith(inside + os.sep) or inside in cmdline:
            found.append(f"{proc.pid}: {cmdline[:160]} (cwd {cwd})")
    return found


def wait_until(check: Callable[[], bool], what: str) -> None:
    """Poll an observable fact (process table, files) until it holds."""
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def processes_under(folder: Path) -> int:
    inside = str(folder.resolve())
    count = 0
    for proc in psutil.process_iter(["cwd"]):
        cwd = proc.info["cwd"] or ""
        if cwd == inside or cwd.startswith(inside + os.sep):
            count += 1
    return count


def layout(root: Path) -> Layout:
    config = load_config(root / "cdktf.json")
    return Layout.for_project(root=root, state_dir=config.local_state_dir)


def endpoint_dir(root: Path) -> Path:
    """The configured endpoint's folder in the scratch project."""
    return layout(root).endpoint_dir(load_config(root / "cdktf.json").endpoint_name)


def describe(root: Path) -> dict[str, object]:
    backend = LocalBackend(config=load_config(root / "cdktf.json"), root=root)
    return backend.describe_endpoint(endpoint_name=backend.config.endpoint_name).to_dict()


def serving_groups(root: Path) -> int:
    """How many variant folders have a live process: after convergence, exactly one."""
    variants = endpoint_dir(root) / "variants"
    return sum(1 for d in variants.iterdir() if processes_under(d)) if variants.is_dir() else 0


def trained_project(root: Path) -> Path:
    """A scratch project with versions 1 and 2 trained and approved (in this process: faster)."""
    scratch_project(root)
    set_context(root, **FAST)
    backend = LocalBackend(config=load_config(root / "cdktf.json"), root=root)
    for depth in ("8", "2"):
        job = backend.train(hyperparameters={"max_depth": depth})
        backend.approve(version=backend.register(job_name=job.name).version, note="cli tests")
    return root
