"""The container's environment, read into a frozen object when a program starts (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from byoc import constants as c
from byoc.errors import UserError


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"{name} must be a positive whole number, got {raw!r}") from None
    if value < 1:
        raise UserError(f"{name} must be a positive whole number, got {raw!r}")
    return value


def base_dir_from_environ(environ: Mapping[str, str] | None = None) -> Path:
    """``SAGEMAKER_BASE_DIR`` alone; it cannot fail, so a failure can always be reported under it."""
    env = os.environ if environ is None else environ
    return Path(env.get(c.BASE_DIR) or c.DEFAULT_BASE_DIR)


@dataclass(frozen=True, kw_only=True)
class Environment:
    """Where the SageMaker tree is and how the server is tuned.

    Build it with :meth:`from_environ` at call time, so tests and the local backend can point
    ``SAGEMAKER_BASE_DIR`` anywhere.
    """

    base_dir: Path
    port: int
    workers: int
    timeout_s: int
    max_payload_bytes: int
    log_level: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Environment:
        """Read and validate the variables named in :mod:`byoc.constants`."""
        env = os.environ if environ is None else environ
        return cls(
            base_dir=base_dir_from_environ(env),
            port=_positive_int(env, c.BIND_TO_PORT, c.DEFAULT_PORT),
            # One worker per core: the tree is CPU-bound and the GIL serialises threads.
            workers=_positive_int(env, c.MODEL_SERVER_WORKERS, os.cpu_count() or 1),
            timeout_s=_positive_int(env, c.MODEL_SERVER_TIMEOUT, c.DEFAULT_TIMEOUT_S),
            max_payload_bytes=_positive_int(env, c.MAX_PAYLOAD_MB, c.DEFAULT_MAX_PAYLOAD_MB) * 1024 * 1024,
            log_level=(env.get(c.LOG_LEVEL) or c.DEFAULT_LOG_LEVEL).upper(),
        )

    @property
    def model_dir(self) -> Path:
        return self.base_dir / "model"

    @property
    def config_dir(self) -> Path:
        return self.base_dir / "input" / "config"

    def channel_dir(self, channel: str) -> Path:
        return self.base_dir / "input" / "data" / channel

    @property
    def output_dir(self) -> Path:
        return self.base_dir / "output"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    @property
    def metrics_file(self) -> Path:
        return self.output_dir / "data" / "metrics.json"
