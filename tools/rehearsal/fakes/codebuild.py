"""CodeBuild projects as the API reference describes them; moto 5.2's are not.

moto refuses a CODEPIPELINE project without ``source.location`` ("Project source location is
required"), where the reference says of ProjectSource.location: "For source code settings that
are specified in the source action of a pipeline in CodePipeline, location should not be
specified". It also keeps only part of a project. Here a project is what CreateProject sent,
plus what the Project shape says CodeBuild adds: ``arn``, ``created``, ``lastModified``, the
``badge``, and the documented defaults ("The default is 60 minutes" for ``timeoutInMinutes``;
480 for ``queuedTimeoutInMinutes``, the console's and CloudFormation's documented default;
``PRIVATE`` visibility). BatchGetProjects lists unknown names in ``projectsNotFound``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tools.rehearsal.fakes.motoapp import ACCOUNT, Reply, error_reply, json_reply

DEFAULT_TIMEOUT_MINUTES = 60
DEFAULT_QUEUED_TIMEOUT_MINUTES = 480
# What CreateProject takes that a Project does not hold under the same name.
_REQUEST_ONLY = {"badgeEnabled"}


class CodeBuildFake:
    OPERATIONS = frozenset({"CreateProject", "BatchGetProjects", "UpdateProject", "DeleteProject", "ListProjects"})

    def __init__(self, *, region: str) -> None:
        self._region = region
        self._projects: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def handle(self, operation: str, request: Mapping[str, Any]) -> Reply:
        with self._lock:
            return getattr(self, f"_{operation}")(request)  # type: ignore[no-any-return]

    def _CreateProject(self, request: Mapping[str, Any]) -> Reply:
        name = str(request.get("name", ""))
        if name in self._projects:
            return error_reply(status=400, code="ResourceAlreadyExistsException", message=f"Project already exists: {name}")
        for required in ("source", "artifacts", "environment", "serviceRole"):
            if not request.get(required):
                return error_reply(status=400, code="InvalidInputException", message=f"Invalid input: {required} is required")
        now = datetime.now(UTC).timestamp()
        project = {k: v for k, v in request.items() if k not in _REQUEST_ONLY}
        project.update(
            arn=f"arn:aws:codebuild:{self._region}:{ACCOUNT}:project/{name}",
            created=now,
            lastModified=now,
            badge={"badgeEnabled": bool(request.get("badgeEnabled", False))},
            timeoutInMinutes=request.get("timeoutInMinutes") or DEFAULT_TIMEOUT_MINUTES,
            queuedTimeoutInMinutes=request.get("queuedTimeoutInMinutes") or DEFAULT_QUEUED_TIMEOUT_MINUTES,
            projectVisibility="PRIVATE",
            tags=list(request.get("tags") or []),
        )
        self._projects[name] = project
        return json_reply({"project": project})

    def _BatchGetProjects(self, request: Mapping[str, Any]) -> Reply:
        names = [str(n).rsplit("/", 1)[-1] for n in request.get("names") or []]
        found = [self._projects[n] for n in names if n in self._projects]
        return json_reply({"projects": found, "projectsNotFound": [n for n in names if n not in self._projects]})

    def _UpdateProject(self, request: Mapping[str, Any]) -> Reply:
        name = str(request.get("name", ""))
        if name not in self._projects:
            return error_reply(status=400, code="ResourceNotFoundException", message=f"Project cannot be found: {name}")
        project = self._projects[name]
        project.update({k: v for k, v in request.items() if k not in _REQUEST_ONLY and k != "name"})
        if "badgeEnabled" in request:
            project["badge"] = {"badgeEnabled": bool(request["badgeEnabled"])}
        project["lastModified"] = datetime.now(UTC).timestamp()
        return json_reply({"project": project})

    def _DeleteProject(self, request: Mapping[str, Any]) -> Reply:
        self._projects.pop(str(request.get("name", "")), None)  # DeleteProject of an absent name succeeds
        return json_reply({})

    def _ListProjects(self, request: Mapping[str, Any]) -> Reply:
        return json_reply({"projects": sorted(self._projects)})
