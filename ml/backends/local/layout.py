"""Where everything the local backend keeps lives, under ``<root>/<local_state_dir>``.

One place names the paths so that the store, the process manager and the router never disagree
about them, and so that ``docs/local-mode.md`` can describe one layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ml.errors import UserInputError

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def safe_name(name: str, *, what: str) -> str:
    """Reject names that would escape the state directory or confuse nginx's config."""
    if not _SAFE.match(name):
        raise UserInputError(f"{what} {name!r} is not a valid name; use letters, digits, '.', '_' or '-' (at most 128)")
    return name


@dataclass(frozen=True, kw_only=True)
class Layout:
    root: Path  # the project checkout
    state: Path  # <root>/.byoc by default

    @classmethod
    def for_project(cls, *, root: Path, state_dir: str) -> Layout:
        return cls(root=root, state=root / state_dir)

    @property
    def lock_file(self) -> Path:
        return self.state / "lock"

    @property
    def records(self) -> Path:
        return self.state / "records"

    def record_dir(self, kind: str) -> Path:
        return self.records / kind

    def job_dir(self, job_name: str) -> Path:
        """A training job's SAGEMAKER_BASE_DIR (input/, model/, output/)."""
        return self.state / "jobs" / safe_name(job_name, what="training job name")

    def endpoint_dir(self, endpoint: str) -> Path:
        """Everything one endpoint runs works under here: its router and its variants."""
        return self.state / "endpoints" / safe_name(endpoint, what="endpoint name")

    def variant_dir(self, endpoint: str, variant_id: str) -> Path:
        """A serving variant's SAGEMAKER_BASE_DIR (model/ holds the extracted artifact)."""
        return self.endpoint_dir(endpoint) / "variants" / variant_id

    def capture_root(self, prefix: str) -> Path:
        """The local data lake's capture prefix: ``<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/``, as on S3."""
        return self.state / prefix

    def supervisor_dir(self, endpoint: str) -> Path:
        """The endpoint's supervisord: its config, log, pid file, and the health checker's record."""
        return self.endpoint_dir(endpoint) / "supervisor"

    def router_dir(self, endpoint: str) -> Path:
        """nginx's prefix: conf/, logs/ and temp folders of this endpoint's router."""
        return self.endpoint_dir(endpoint) / "router"

    def transform_dir(self, job_name: str) -> Path:
        return self.state / "transforms" / safe_name(job_name, what="transform job name")

    @property
    def container_code(self) -> Path:
        """The container's programs (package ``byoc``), run from the checkout by the process runtime."""
        return self.root / "ml" / "container"
