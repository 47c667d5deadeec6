"""The serving app rebuilt on Flask, kept only so the Flask-versus-plain-WSGI decision can be re-measured.

It uses the same load, decode, predict and encode pieces as :mod:`byoc.app`; only the framework
differs. ``serve`` does not use it (see docs/container.md for the numbers).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

from byoc import artifact, codec
from byoc.environment import Environment
from byoc.errors import RequestError


def create_app() -> Flask:
    env = Environment.from_environ()
    loaded = artifact.load(env.model_dir)
    predictor = loaded.predictor
    app = Flask(__name__)

    @app.get("/ping")
    def ping() -> Any:
        return Response("healthy\n", mimetype="text/plain")

    @app.post("/invocations")
    def invocations() -> Any:
        try:
            content_type = codec.media_type(request.content_type)
            accept = codec.negotiate(request.headers.get("Accept"), content_type)
            features = codec.decode(request.get_data(), content_type, predictor.n_features)
            return Response(codec.encode(predictor.predict(features), accept), content_type=accept)
        except RequestError as err:
            return Response(str(err) + "\n", status=err.status, mimetype="text/plain")

    return app
