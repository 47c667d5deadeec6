"""The main job's own names and state (``invoke lifecycle``), apart from the user's.

In its own module so that ``invoke console --demo`` can open the main job's registry and reports
without importing the lifecycle's stages (scikit-learn, the monitor).
"""

from __future__ import annotations

import dataclasses

from ml.config import ProjectConfig

NAMESPACE = "lifecycle"  # the main job's own state, under local_state_dir


def namespace(config: ProjectConfig) -> ProjectConfig:
    """The main job's own names and state, apart from the user's: it never touches their endpoints or registry.

    Its records, endpoint, captures and reports live under ``<local_state_dir>/lifecycle``; its
    project (so its endpoint and jobs) and model package group carry a ``-demo`` suffix.
    """
    return dataclasses.replace(
        config,
        local_state_dir=f"{config.local_state_dir}/{NAMESPACE}",
        project_name=f"{config.project_name[:27].rstrip('-')}-demo",
        model_package_group=f"{config.model_package_group[:58].rstrip('-')}-demo",
    )
