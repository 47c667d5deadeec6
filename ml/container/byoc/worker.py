"""What each granian worker runs: the WSGI app, loaded once, under a request watchdog.

granian (the model server, chosen by measurement: docs/benchmarks/serving.md) has no
per-request timeout; gunicorn's sync workers had one (a worker silent for ``--timeout`` is
killed and replaced). :class:`Watchdog` keeps that contract: a request running longer than
``MODEL_SERVER_TIMEOUT`` ends the worker process, and granian, started with
``--respawn-failed-workers``, starts a fresh one, which loads and verifies the model again.
A Python thread cannot be stopped from outside, so ending the process is the only sure way to
free a worker stuck in a request.

granian calls :func:`create_app` once in every worker (``--factory``). It wraps the model's app,
:func:`byoc.app.create_app`, unless ``BYOC_WSGI_APP`` names another (``module:attribute`` or
``module:factory()``): the server-contract tests (a deliberately slow app) and the benchmark's
no-op ceiling run serve's own granian command line that way, from their own folders, so the
image carries none of their code.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from byoc.environment import Environment
from byoc.logs import configure

log = logging.getLogger(__name__)

APP_VARIABLE = "BYOC_WSGI_APP"
DEFAULT_APP = "byoc.app:create_app()"
# Exit status of a worker the watchdog ended; granian logs it and respawns the worker.
TIMED_OUT_EXIT = 70

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Watchdog:
    """Wraps a WSGI app; ends this process when one request outlives ``timeout_s``."""

    def __init__(self, *, app: Wsgi, timeout_s: float, exit_process: Callable[[int], object] = os._exit) -> None:
        self._app = app
        self._timeout_s = timeout_s
        self._exit = exit_process
        self._lock = threading.Lock()
        # Start times of the requests in flight, keyed by a per-request token.
        self._started: dict[int, float] = {}
        self._next = 0
        threading.Thread(target=self._watch, name="byoc-watchdog", daemon=True).start()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            token = self._next
            self._next += 1
            self._started[token] = time.monotonic()
        try:
            # The app builds its whole answer before returning (one bytes chunk), so the request
            # is done when the call returns.
            return self._app(environ, start_response)
        finally:
            with self._lock:
                del self._started[token]

    def overdue(self, now: float) -> bool:
        with self._lock:
            return any(now - started > self._timeout_s for started in self._started.values())

    def _watch(self) -> None:
        period = min(1.0, self._timeout_s / 4)
        while True:
            time.sleep(period)
            if self.overdue(time.monotonic()):
                log.error("a request ran past MODEL_SERVER_TIMEOUT=%gs; ending worker %d to be respawned", self._timeout_s, os.getpid())
                logging.shutdown()
                self._exit(TIMED_OUT_EXIT)
                return


def _load(spec: str) -> Wsgi:
    # gunicorn's spelling: "module:attribute" names a WSGI callable, "module:factory()" a factory,
    # called here once per worker (the model app loads and verifies the model in it).
    module_name, _, attribute = spec.partition(":")
    name = attribute.removesuffix("()")
    if not module_name or not name.isidentifier():
        raise ValueError(f"{APP_VARIABLE}={spec!r}: expected module:attribute or module:factory(), e.g. {DEFAULT_APP}")
    target: Any = getattr(importlib.import_module(module_name), name)
    app: Wsgi = target() if attribute.endswith("()") else target
    return app


def create_app() -> Watchdog:
    """granian's factory: build the named app once in this worker and put it under the watchdog."""
    env = Environment.from_environ()
    configure(env.log_level)
    return Watchdog(app=_load(os.environ.get(APP_VARIABLE) or DEFAULT_APP), timeout_s=env.timeout_s)
