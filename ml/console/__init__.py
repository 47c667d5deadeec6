"""The web console: versions, approvals, endpoints, live updates, monitor runs and reports.

A Flask application (:func:`create_app`, the factory) served by granian (``invoke console``). It
reads and changes everything through the same :class:`ml.backends.base.Backend` the tasks use,
so every page works on both backends, and it keeps no state of its own.
"""

from __future__ import annotations

from ml.console.app import create_app
from ml.console.settings import ConsoleSettings

__all__ = ["ConsoleSettings", "create_app"]
