"""The three stacks: each composes the shared constructs of :mod:`modules` from one config."""

from modules.stacks.build import BuildPipelineStack
from modules.stacks.deploy import DeployPipelineStack
from modules.stacks.train import TrainPipelineStack

__all__ = ["BuildPipelineStack", "DeployPipelineStack", "TrainPipelineStack"]
