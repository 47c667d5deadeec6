"""gunicorn settings for ``serve``: import the serving code in the master, before workers fork.

Importing skops, scikit-learn and scipy costs about 3 s of CPU and most of a worker's memory.
Done once in the master, every worker (and every restarted worker) starts from those pages,
shared copy-on-write, in milliseconds. Only code is imported here: each worker still loads and
verifies the model itself in ``create_app`` (this is not ``--preload``), so a restarted worker
checks the artifact again.
"""

from __future__ import annotations

import importlib

# The app and the model's class (the latter is otherwise imported only when a model loads).
_SERVING_MODULES = ("byoc.app", "byoc.decision_tree")


def on_starting(server: object) -> None:
    """gunicorn's hook, run once in the master before the first worker is forked."""
    del server
    for name in _SERVING_MODULES:
        importlib.import_module(name)
