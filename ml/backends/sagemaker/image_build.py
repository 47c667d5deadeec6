"""``invoke build-image --backend sagemaker``: build from the cached base, push, move ``latest``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ml.backends.records import ImageRecord
from ml.backends.sagemaker import images
from ml.backends.sagemaker.push import login, push_image
from ml.names import TRACKED_IMAGE_TAG, cached_base_image


def build_and_push(
    *,
    ecr: Any,
    repository_url: str,
    repository_name: str,
    project_name: str,
    context_dir: Path,
    tag: str,
    builder: str,
    runner: images.Runner,
    on_log: Callable[[str], None],
) -> ImageRecord:
    """Log in first: the base comes through the build stack's pull-through cache, in this account's
    registry (never Docker Hub). Then build, push under ``tag`` (or reuse what ECR holds for it)
    and point ``latest`` at it."""
    login(ecr=ecr, repository_url=repository_url, builder=builder, runner=runner)
    local_name = f"{repository_name}:{tag}"
    base = cached_base_image(repository_url, project_name)
    images.build_local(builder=builder, context_dir=context_dir, local_name=local_name, base_image=base, runner=runner)
    return push_image(
        ecr=ecr,
        repository_url=repository_url,
        repository_name=repository_name,
        local_name=local_name,
        tag=tag,
        builder=builder,
        runner=runner,
        also_tags=[TRACKED_IMAGE_TAG] if tag != TRACKED_IMAGE_TAG else [],
        on_log=on_log,
        logged_in=True,
    )
