"""gunicorn settings for ``serve``: import the serving code in the master, before workers fork.

Serving imports only the app, numpy and the algorithm's predictor code (the decision tree walks
exported numpy arrays; scikit-learn, scipy and skops, about 3 s of CPU and 130 MB, are left to
training). Done once in the master, every worker (and every restarted worker) starts from those
pages, shared copy-on-write. Only code is imported here: each worker still loads and
verifies the model itself in ``create_app`` (this is not ``--preload``), so a restarted worker
checks the artifact again.
"""

from __future__ import annotations

import importlib

# The app and the algorithm's predictor (the latter is otherwise imported only when a model loads).
_SERVING_MODULES = ("byoc.app", "byoc.decision_tree")


def on_starting(server: object) -> None:
    """gunicorn's hook, run once in the master before the first worker is forked."""
    del server
    for name in _SERVING_MODULES:
        importlib.import_module(name)
