"""The original sample's serving design, for the bench: Flask, pandas in and out, gunicorn sync workers.

Runs only inside the bench's throwaway environment (:mod:`tools.bench.peers`), so it imports
nothing from this project. The request path is the sample's ``predictor.py``: the body is read
with ``pandas.read_csv(header=None)``, predicted by the scikit-learn estimator, and written back
with ``DataFrame.to_csv``. The estimator is the ``model.skops`` that ``byoc.train`` wrote
(``PEER_MODEL_FILE``), loaded once per worker with skops rather than the sample's pickle, so the
same tree is served without unpickling.
"""

from __future__ import annotations

import io
import os
from typing import Any

import flask
import pandas as pd  # type: ignore[import-untyped]  # no stubs in the project's environment
import skops.io


def create_app() -> Any:
    model = skops.io.load(os.environ["PEER_MODEL_FILE"], trusted=os.environ["PEER_TRUSTED_TYPES"].split(","))
    app = flask.Flask(__name__)

    @app.route("/ping", methods=["GET"])
    def ping() -> Any:
        return flask.Response(response="\n", status=200 if model is not None else 404, mimetype="application/json")

    @app.route("/invocations", methods=["POST"])
    def transformation() -> Any:
        if flask.request.content_type != "text/csv":
            return flask.Response(response="This predictor only supports CSV data", status=415, mimetype="text/plain")
        data = pd.read_csv(io.StringIO(flask.request.data.decode("utf-8")), header=None)
        predictions = model.predict(data.to_numpy())
        out = io.StringIO()
        pd.DataFrame({"results": predictions}).to_csv(out, header=False, index=False)
        return flask.Response(response=out.getvalue(), status=200, mimetype="text/csv")

    return app
