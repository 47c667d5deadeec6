"""Serving the console with granian, the project's WSGI server (never Flask's development server).

granian starts one worker process that calls :func:`ml.console.app.from_environ`; the settings
reach it through the environment (:meth:`ConsoleSettings.environ`). Its blocking threads serve
requests side by side, so a page's live view keeps answering while a form waits on AWS.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from ml.console.settings import ConsoleSettings, is_loopback
from ml.errors import UserInputError

APP_TARGET = "ml.console.app:from_environ"
CODE_ROOT = Path(__file__).resolve().parents[2]  # the checkout holding the ml package
THREADS = 8


def console_url(settings: ConsoleSettings, *, port: int) -> str:
    host = settings.host if ":" not in settings.host else f"[{settings.host}]"
    url = f"http://{host}:{port}/"
    return url + (f"?token={quote(settings.token)}" if settings.token else "")


def check_bind(*, host: str, port: int, allow_remote: bool) -> None:
    """Refuse what the user did not ask for explicitly: a non-loopback address, a bad port."""
    if not 1 <= port <= 65535:
        raise UserInputError(f"--port must be 1-65535, not {port}")
    if not is_loopback(host) and not allow_remote:
        raise UserInputError(
            f"--host {host} is not loopback: anyone who reaches it could approve models. "
            "Add --allow-remote to bind there anyway (every request then needs the printed token)"
        )


def serve(settings: ConsoleSettings, *, port: int, say: Callable[[str], None] = print) -> None:
    """Run the console until interrupted (Ctrl-C); says its URL first."""
    from granian.constants import Interfaces
    from granian.server import Server

    os.environ.update(settings.environ())  # for the worker process granian starts
    server = Server(
        APP_TARGET,
        address=settings.host,
        port=port,
        interface=Interfaces.WSGI,
        workers=1,
        blocking_threads=THREADS,
        factory=True,
        log_access=False,
        working_dir=CODE_ROOT,  # where the worker imports ml from, whichever project it serves
    )
    say(f"console of {settings.config.project_name} ({settings.backend} backend): {console_url(settings, port=port)}")
    say("press Ctrl-C to stop it")
    server.serve()
