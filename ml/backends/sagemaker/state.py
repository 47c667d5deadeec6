"""Small facts the backend keeps between task runs: the last pushed image, endpoint history.

Everything else is read back from AWS (tags, descriptions), so this file is a convenience, not
the source of truth: deleting it loses only "which image did I push last" and rollback history.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ml.atomic import atomic_write_json
from ml.backends.records import ImageRecord
from ml.config import ProjectConfig
from ml.errors import NotFoundError, StateError

STATE_FILE = "state.json"


class BackendState:
    """``<root>/<local_state_dir>/sagemaker/state.json``, rewritten atomically on every change."""

    def __init__(self, *, path: Path) -> None:
        self.path = path

    @classmethod
    def for_project(cls, *, config: ProjectConfig, root: Path) -> BackendState:
        return cls(path=root / config.local_state_dir / "sagemaker" / STATE_FILE)

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError as err:
            raise StateError(f"{self.path} is not valid JSON ({err}); delete it and re-run `invoke build-image`") from err
        if not isinstance(data, dict):
            raise StateError(f"{self.path} should hold a JSON object; delete it and re-run `invoke build-image`")
        return data

    def _save(self, data: dict[str, Any]) -> None:
        atomic_write_json(self.path, data)  # a crash never leaves a half-written file behind

    def record_image(self, image: ImageRecord) -> None:
        data = self.load()
        data["image"] = image.to_dict()
        self._save(data)

    def last_image(self) -> ImageRecord:
        raw = self.load().get("image")
        if not isinstance(raw, dict):
            raise NotFoundError("no image has been pushed from this checkout; run `invoke build-image` first")
        return ImageRecord.from_dict(raw)

    def deployed_versions(self, endpoint_name: str) -> list[int]:
        """Model versions this checkout put on ``endpoint_name``, oldest first."""
        history = self.load().get("endpoints", {}).get(endpoint_name, [])
        return [int(v) for v in history]

    def record_deployment(self, endpoint_name: str, version: int) -> None:
        data = self.load()
        history = [int(v) for v in data.setdefault("endpoints", {}).get(endpoint_name, [])]
        if not history or history[-1] != version:
            history.append(version)
        data["endpoints"][endpoint_name] = history[-20:]
        self._save(data)

    def forget_endpoint(self, endpoint_name: str) -> None:
        data = self.load()
        if data.get("endpoints", {}).pop(endpoint_name, None) is not None:
            self._save(data)
