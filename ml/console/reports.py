"""``/reports/<path>``: report pages, plots and scores, from the state directory or the data lake."""

from __future__ import annotations

from pathlib import PurePosixPath

from flask import Blueprint, Response

from ml.console.services import services
from ml.console.sources import CONTENT_TYPES, clean_path

blueprint = Blueprint("reports", __name__)


@blueprint.get("/reports/<path:path>")
def serve(path: str) -> Response:
    clean_path(path)  # refused before any file or bucket is touched
    body = services().reports.read(path)
    return Response(body, content_type=CONTENT_TYPES[PurePosixPath(path).suffix])
