"""The cdktf app: three pipeline stacks from the validated ``cdktf.json`` context.

``cdktf synth`` runs this file (``app`` in ``cdktf.json``); ``invoke synth`` calls :func:`synth`.
Importing it builds nothing: the app is made by :func:`build_app`.
"""

from __future__ import annotations

from pathlib import Path

from cdktf import App

from ml.config import ProjectConfig, load_config
from modules.stacks import BuildPipelineStack, DeployPipelineStack, TrainPipelineStack

PROJECT_ROOT = Path(__file__).resolve().parent
STACKS = ("BuildPipelineStack", "TrainPipelineStack", "DeployPipelineStack")


def build_app(*, config: ProjectConfig, outdir: str | None = None, project_root: Path = PROJECT_ROOT) -> App:
    """Compose the stacks; the deploy and train stacks read the others' attributes, not names."""
    app = App(outdir=outdir) if outdir else App()
    build = BuildPipelineStack(app, STACKS[0], config=config, project_root=project_root)
    train = TrainPipelineStack(app, STACKS[1], config=config, project_root=project_root, build=build)
    DeployPipelineStack(app, STACKS[2], config=config, project_root=project_root, build=build, train=train)
    return app


def synth(*, config: ProjectConfig | None = None, outdir: str | None = None) -> App:
    """Write ``<outdir>/stacks/<Stack>/cdk.tf.json`` for the three stacks and return the app."""
    app = build_app(config=config or load_config(PROJECT_ROOT / "cdktf.json"), outdir=outdir)
    app.synth()
    return app


if __name__ == "__main__":
    synth()
