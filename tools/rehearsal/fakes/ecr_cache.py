"""ECR pull-through cache rules, which moto 5.2 does not implement.

The state a rule is, as the ECR API reference's CreatePullThroughCacheRule, DescribePullThroughCacheRules
and DeletePullThroughCacheRule describe it: one rule per ``ecrRepositoryPrefix`` in a registry
(a second is PullThroughCacheRuleAlreadyExistsException), the upstream registry named by its URL
(``public.ecr.aws`` is ``ecr-public``), and PullThroughCacheRuleNotFoundException for a prefix
with no rule. Nothing is pulled through it in the rehearsal: the code rehearsal's builds find
the base image already under the cache's name (tools/rehearsal/run.py).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tools.rehearsal.fakes.motoapp import ACCOUNT, Reply, error_reply, json_reply

# Upstream registry URL -> the API's UpstreamRegistry value (the rules this project can make).
UPSTREAMS = {"public.ecr.aws": "ecr-public", "registry.k8s.io": "k8s", "quay.io": "quay"}


class PullThroughCacheFake:
    OPERATIONS = frozenset({"CreatePullThroughCacheRule", "DescribePullThroughCacheRules", "DeletePullThroughCacheRule"})

    def __init__(self) -> None:
        self._rules: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def handle(self, operation: str, request: Mapping[str, Any]) -> Reply:
        with self._lock:
            return getattr(self, f"_{operation}")(request)  # type: ignore[no-any-return]

    def _CreatePullThroughCacheRule(self, request: Mapping[str, Any]) -> Reply:
        prefix, url = str(request.get("ecrRepositoryPrefix", "")), str(request.get("upstreamRegistryUrl", ""))
        if prefix in self._rules:
            return error_reply(
                status=400,
                code="PullThroughCacheRuleAlreadyExistsException",
                message=f"A pull through cache rule with the prefix '{prefix}' already exists in the registry with id '{ACCOUNT}'",
            )
        if url not in UPSTREAMS:
            return error_reply(status=400, code="UnsupportedUpstreamRegistryException", message=f"Upstream registry {url} is not supported")
        rule = {
            "ecrRepositoryPrefix": prefix,
            "upstreamRegistryUrl": url,
            "createdAt": datetime.now(UTC).timestamp(),
            "registryId": ACCOUNT,
            "upstreamRegistry": UPSTREAMS[url],
        }
        self._rules[prefix] = rule
        return json_reply(rule)

    def _missing(self, prefix: str) -> Reply:
        return error_reply(
            status=400,
            code="PullThroughCacheRuleNotFoundException",
            message=f"The pull through cache rule with the prefix '{prefix}' does not exist in the registry with id '{ACCOUNT}'",
        )

    def _DescribePullThroughCacheRules(self, request: Mapping[str, Any]) -> Reply:
        wanted = list(request.get("ecrRepositoryPrefixes") or self._rules)
        for prefix in wanted:
            if prefix not in self._rules:
                return self._missing(prefix)
        return json_reply({"pullThroughCacheRules": [self._rules[p] for p in wanted]})

    def _DeletePullThroughCacheRule(self, request: Mapping[str, Any]) -> Reply:
        prefix = str(request.get("ecrRepositoryPrefix", ""))
        if prefix not in self._rules:
            return self._missing(prefix)
        rule = self._rules.pop(prefix)
        return json_reply({k: v for k, v in rule.items() if k != "upstreamRegistry"})
