"""Helpers for the local backend tests: test-only programs, config, and a load generator."""

from __future__ import annotations

import contextlib
import http.client
import re
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml.backends.local import procs
from ml.backends.local.backend import LocalBackend
from ml.backends.local.capture import CaptureConf
from ml.backends.local.fleet import VERSION_ENV
from ml.backends.local.programs import Launch, ProcessPrograms
from ml.backends.local.records import RouterRecord, Toolchain, Upstream
from ml.backends.local.router import MAX_CLIENTS, Router
from ml.backends.local.supervise.control import Supervisor
from ml.backends.local.training import KIND as TRAINING_KIND
from ml.backends.records import ModelVersion
from ml.config import ProjectConfig, load_config

REPO = Path(__file__).resolve().parents[4]
BROKEN_APP = Path(__file__).with_name("broken_serve_app.py")
FAST_LOCAL = {
    "local_bluegreen_wait_seconds": 0.5,
    "local_bluegreen_baking_seconds": 1.0,
    # The machines running the suite are shared and busy: latency alarms are tested on their own
    # (test_local_alarms.py); here only errors should trip a rollback.
    "alarm_p99_latency_ms": 60000,
    # No autoscaler unless a test asks (test_local_scaling.py): a scaler reacting to the other
    # tests' load would change the processes and instance counts they look at.
    "autoscaling_enabled": False,
}
TRAIN_ROWS = (REPO / "data" / "iris.csv").read_text(encoding="utf-8")
SAMPLE_BODY = b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"


@dataclass
class BreakablePrograms:
    """The real programs, except versions listed in ``broken`` serve the test-only broken app."""

    real: ProcessPrograms
    broken: dict[int, str] = field(default_factory=dict)
    kind: str = "process"

    def train(self, *, base_dir: Path) -> Launch:
        return self.real.train(base_dir=base_dir)

    def serve(self, *, base_dir: Path, port: int, workers: int, extra_env: Mapping[str, str]) -> Launch:
        launch = self.real.serve(base_dir=base_dir, port=port, workers=workers, extra_env=extra_env)
        mode = self.broken.get(int(extra_env.get(VERSION_ENV, "0")))
        if mode is None:
            return launch
        return Launch(argv=[sys.executable, str(BROKEN_APP)], env={**launch.env, "BROKEN_MODE": mode})

    def identity(self) -> str:
        return self.real.identity()


def url_port(url: str) -> int:
    """The port of an endpoint's local URL (``http://127.0.0.1:PORT``)."""
    match = re.search(r":(\d+)$", url)
    assert match, url
    return int(match.group(1))


def recorded_ports(record: Mapping[str, Any] | None) -> set[int]:
    """Every port an endpoint's record names: the router's URL and each instance of each variant."""
    if record is None:
        return set()
    variants = {int(i["port"]) for v in record["fleet"] for i in v["instances"]}
    return variants | ({int(record["router"]["port"])} if record.get("router") else set())


@contextlib.contextmanager
def supervised_router(
    folder: Path, upstreams: list[Upstream], *, capture: CaptureConf | None = None, max_clients: int = MAX_CLIENTS
) -> Iterator[tuple[Router, RouterRecord, Supervisor]]:
    """An endpoint's router alone (no variants of ours behind it), run as an endpoint's is: by its own supervisord."""
    toolchain = Toolchain.discover(sys.executable)
    router = Router(prefix=folder / "router", nginx=toolchain.nginx, capture=capture, max_clients=max_clients)
    record = RouterRecord(port=procs.free_port(), back_port=procs.free_port())
    router.prepare(record=record, upstreams=upstreams)
    supervisor = Supervisor(folder=folder / "supervisor")
    with supervisor.running(router.programs(env=toolchain.env()), toolchain=toolchain):
        router.wait_ready(record=record)
        yield router, record, supervisor


def make_config(**overrides: Any) -> ProjectConfig:
    return load_config(REPO / "cdktf.json", overrides={**FAST_LOCAL, **overrides})


def make_backend(root: Path, programs: BreakablePrograms | None = None, **overrides: Any) -> LocalBackend:
    return LocalBackend(config=make_config(**overrides), root=root, programs=programs)


def add_version(backend: LocalBackend, *, like_job: str, approval_status: str = "Approved") -> ModelVersion:
    """A new version from an existing job's model, without training again.

    Registering one job twice returns its version (the contract), so the job record is copied
    under a fresh name first, as a second identical training run would leave it.
    """
    record = backend.store.get(TRAINING_KIND, like_job)
    assert record is not None, f"no training job {like_job}"
    name = f"{like_job}-r{len(backend.store.list(TRAINING_KIND))}"
    backend.store.put(TRAINING_KIND, name, record | {"name": name})
    return backend.register(job_name=name, approval_status=approval_status)


def fixture_versions(project: Project) -> list[ModelVersion]:
    """The session fixture's two trained versions, oldest first (tests add more beside them)."""
    return sorted(project.backend.list_versions(), key=lambda v: v.version)[:2]


@dataclass(frozen=True)
class Project:
    root: Path
    backend: LocalBackend
    programs: BreakablePrograms
    data: Path


@dataclass
class LoadResult:
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    variants: dict[str, int] = field(default_factory=dict)
    connects: int = 0  # TCP connections the clients opened (keep-alive clients open one each)


class Load:
    """``connections`` client threads POSTing to the router until stopped; counts every failure.

    A failure is anything a client would notice: a connection error, a timeout, or a non-200.
    """

    def __init__(self, *, url_port: int, connections: int = 16, client: str = "keep-alive", pause_s: float = 0.0) -> None:
        self.port = url_port
        self.pause_s = pause_s  # between one client's requests: a paced, light load
        self.connections = connections
        # "keep-alive" clients reuse one connection; "close" clients send Connection: close.
        self.headers = {"Content-Type": "text/csv"} | ({"Connection": "close"} if client == "close" else {})
        self.result = LoadResult()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(connections)]

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self._stop.is_set():
            try:
                if conn.sock is None:  # http.client connects lazily: this request opens a connection
                    with self._lock:
                        self.result.connects += 1
                conn.request("POST", "/invocations", body=SAMPLE_BODY, headers=self.headers)
                answer = conn.getresponse()
                body = answer.read()
                outcome = None if answer.status == 200 and body.count(b"\n") == 2 else f"HTTP {answer.status}: {body[:100]!r}"
                variant = answer.getheader("X-Byoc-Variant", "")
            except (OSError, http.client.HTTPException) as err:
                outcome, variant = f"{type(err).__name__}: {err}", ""
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            with self._lock:
                if outcome is None:
                    self.result.ok += 1
                    self.result.variants[variant] = self.result.variants.get(variant, 0) + 1
                else:
                    self.result.failures.append(outcome)
            if self.pause_s:
                self._stop.wait(self.pause_s)
        conn.close()

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        time.sleep(0.3)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
