"""The CDK Terrain (cdktn) app: three pipeline stacks from the validated ``cdktf.json`` context.

``cdktf synth`` (the ``cdktn`` CLI) runs this file (``app`` in ``cdktf.json``); ``invoke synth``
calls :func:`synth`. Importing it builds nothing: the app is made by :func:`build_app`.
"""

from __future__ import annotations

import json
from pathlib import Path

from cdktn import App

from ml.config import ProjectConfig, load_config
from ml.names import Stack
from modules.stacks import BuildPipelineStack, DeployPipelineStack, TrainPipelineStack

PROJECT_ROOT = Path(__file__).resolve().parent
# cdktf.json's top-level field naming the Terraform/OpenTofu releases the stacks must run on;
# cdktn refuses features (S3-native state locking) that an older declared release lacks.
TARGET_VERSIONS = "targetVersions"


def target_versions(project_root: Path = PROJECT_ROOT) -> dict[str, str]:
    """``cdktf.json``'s ``targetVersions``: the CLI passes it to the app in ``CDKTF_CONTEXT_JSON``,
    so an app built without the CLI (``invoke synth``, the tests) reads the same field."""
    document = json.loads((project_root / "cdktf.json").read_text(encoding="utf-8"))
    return dict(document[TARGET_VERSIONS])


def build_app(*, config: ProjectConfig, outdir: str | None = None, project_root: Path = PROJECT_ROOT) -> App:
    """Compose the stacks; the deploy and train stacks read the others' attributes, not names."""
    config.require_deployable()
    app = App(outdir=outdir, context={TARGET_VERSIONS: target_versions(project_root)})
    build = BuildPipelineStack(app, Stack.BUILD.value, config=config, project_root=project_root)
    train = TrainPipelineStack(app, Stack.TRAIN.value, config=config, project_root=project_root, build=build)
    DeployPipelineStack(app, Stack.DEPLOY.value, config=config, project_root=project_root, build=build, train=train)
    return app


def synth(*, config: ProjectConfig | None = None, outdir: str | None = None) -> App:
    """Write ``<outdir>/stacks/<Stack>/cdk.tf.json`` for the three stacks (``ml.names.STACKS``) and return the app."""
    app = build_app(config=config or load_config(PROJECT_ROOT / "cdktf.json"), outdir=outdir)
    app.synth()
    return app


if __name__ == "__main__":
    synth()
