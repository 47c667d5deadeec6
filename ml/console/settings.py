"""What one console serves, decided once when it starts: the project, the backend, its secrets.

``invoke console`` builds :class:`ConsoleSettings`, then granian starts a worker process that
builds the app again from the environment (:meth:`ConsoleSettings.from_environ`): the variables
below carry the same values, so the worker and the task agree without a file on disk.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ml.backends import BACKENDS
from ml.config import ProjectConfig, load_config
from ml.demo import namespace
from ml.errors import UserInputError

ROOT_ENV = "BYOC_CONSOLE_ROOT"
BACKEND_ENV = "BYOC_CONSOLE_BACKEND"
HOST_ENV = "BYOC_CONSOLE_HOST"
TOKEN_ENV = "BYOC_CONSOLE_TOKEN"  # noqa: S105 (a name, not a secret)
SECRET_ENV = "BYOC_CONSOLE_SECRET"  # noqa: S105 (a name, not a secret)
DEMO_ENV = "BYOC_CONSOLE_DEMO"
LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, kw_only=True)
class ConsoleSettings:
    """``token`` is empty on loopback (the default) and required everywhere else."""

    root: Path
    config: ProjectConfig
    backend: str = "local"
    host: str = LOOPBACK
    token: str = ""
    secret_key: str = ""  # signs the session cookie that carries the CSRF token
    demo: bool = False  # the main job's namespace (`invoke lifecycle`), its config already applied

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise UserInputError(f"--backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if self.demo and self.backend != "local":
            raise UserInputError("--demo shows `invoke lifecycle`'s local registry and reports; leave out --backend sagemaker")
        if not self.secret_key:
            raise UserInputError("the console needs a secret key to sign its forms; ConsoleSettings.create makes one")
        if not self.loopback and len(self.token) < 16:
            raise UserInputError(f"binding to {self.host} (not loopback) needs a token of at least 16 characters on every request")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @classmethod
    def create(
        cls, *, root: Path, config: ProjectConfig, backend: str = "local", host: str = LOOPBACK, demo: bool = False
    ) -> ConsoleSettings:
        """Fresh secrets for one run of the console; a token only when it listens beyond loopback."""
        token = "" if is_loopback(host) else secrets.token_urlsafe(24)
        shown = namespace(config) if demo else config
        return cls(root=root, config=shown, backend=backend, host=host, token=token, secret_key=secrets.token_hex(32), demo=demo)

    def environ(self) -> dict[str, str]:
        """The variables a granian worker rebuilds these settings from."""
        return {
            ROOT_ENV: str(self.root),
            BACKEND_ENV: self.backend,
            HOST_ENV: self.host,
            TOKEN_ENV: self.token,
            SECRET_ENV: self.secret_key,
            DEMO_ENV: "1" if self.demo else "",
        }

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ConsoleSettings:
        env = os.environ if environ is None else environ
        missing = [name for name in (ROOT_ENV, SECRET_ENV) if not env.get(name)]
        if missing:
            raise UserInputError(f"{', '.join(missing)} not set; start the console with `invoke console`")
        root = Path(env[ROOT_ENV])
        demo = bool(env.get(DEMO_ENV))
        config = load_config(root / "cdktf.json")
        return cls(
            root=root,
            config=namespace(config) if demo else config,
            demo=demo,
            backend=env.get(BACKEND_ENV, "local"),
            host=env.get(HOST_ENV, LOOPBACK),
            token=env.get(TOKEN_ENV, ""),
            secret_key=env[SECRET_ENV],
        )
