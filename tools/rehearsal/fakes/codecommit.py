"""CodeCommit operations moto 5.2 lacks, as the CodeCommit API reference describes them.

Tags, which moto does not keep for CodeCommit (it has no ListTagsForResource), are kept here:
CreateRepository's ``tags``, TagResource, UntagResource and ListTagsForResource on the
repository's ARN. ListBranches is answered here too: the provider calls it after
CreateRepository to decide whether ``default_branch`` can be set yet, and a repository made by
CreateRepository is empty until the first push, so it has no branch. (moto's string timestamps
are corrected for every service in :mod:`tools.rehearsal.fakes.timestamps`.)
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from tools.rehearsal.fakes.motoapp import MotoApp, Reply, error_reply, json_reply


class CodeCommitFake:
    OPERATIONS = frozenset(
        {
            "CreateRepository",
            "DeleteRepository",
            "ListBranches",
            "TagResource",
            "UntagResource",
            "ListTagsForResource",
        }
    )

    def __init__(self, *, moto: MotoApp) -> None:
        self._moto = moto
        self._tags: dict[str, dict[str, str]] = {}  # repository ARN -> tags
        self._lock = threading.Lock()

    def handle(self, operation: str, request: Mapping[str, Any]) -> Reply:
        with self._lock:
            if operation == "ListBranches":
                return self._list_branches(request)
            if operation in ("TagResource", "UntagResource", "ListTagsForResource"):
                return self._tagging(operation, request)
            reply = self._moto.json_call("codecommit", operation, request)
            if reply.ok and operation == "CreateRepository":
                self._tags[reply.json()["repositoryMetadata"]["Arn"]] = dict(request.get("tags") or {})
            if reply.ok and operation == "DeleteRepository":
                self._tags = {arn: t for arn, t in self._tags.items() if not arn.endswith(f":{request.get('repositoryName')}")}
        return reply

    def _list_branches(self, request: Mapping[str, Any]) -> Reply:
        """No branch: nothing is pushed to a repository in the fake (moto's RepositoryDoesNotExistException when absent)."""
        known = self._moto.json_call("codecommit", "GetRepository", {"repositoryName": request.get("repositoryName", "")})
        return known if not known.ok else json_reply({"branches": []})

    def _tagging(self, operation: str, request: Mapping[str, Any]) -> Reply:
        arn = str(request.get("resourceArn", ""))
        if arn not in self._tags:
            return error_reply(status=400, code="RepositoryDoesNotExistException", message=f"{arn} does not exist")
        if operation == "TagResource":
            self._tags[arn].update(request.get("tags") or {})
        elif operation == "UntagResource":
            for key in request.get("tagKeys") or []:
                self._tags[arn].pop(key, None)
        else:
            return json_reply({"tags": dict(self._tags[arn])})
        return json_reply({})
