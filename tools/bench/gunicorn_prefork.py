"""gunicorn settings for the bench's gunicorn stack: import the serving code in the master, before workers fork.

Serving imports only the app, numpy and the algorithm's predictor code. Done once in the master,
every worker starts from those pages, shared copy-on-write; each worker still loads and verifies
the model itself in ``create_app`` (this is not ``--preload``). gunicorn reads this file by path
(``--config``), so it imports nothing of the project's but ``byoc``.
"""

from __future__ import annotations

import importlib

_SERVING_MODULES = ("byoc.app", "byoc.decision_tree")


def on_starting(server: object) -> None:
    """gunicorn's hook, run once in the master before the first worker is forked."""
    del server
    for name in _SERVING_MODULES:
        importlib.import_module(name)
