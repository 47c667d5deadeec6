"""The container's errors, grouped as the SageMaker toolkits group them.

* :class:`UserError`: the caller's input is wrong (data, hyperparameters, request); fixable by them.
* :class:`AlgorithmError`: the model code failed on valid input.
* :class:`PlatformError`: the environment is wrong (unreadable directory, bad artifact).

Request errors carry the HTTP status the server answers with.
"""

from __future__ import annotations


class ContainerError(Exception):
    """Base class; ``str(err)`` is a short message meant for whoever reads ``output/failure``."""

    kind = "Error"


class UserError(ContainerError):
    """Bad input from the user: data, hyperparameters or configuration."""

    kind = "UserError"


class AlgorithmError(ContainerError):
    """The algorithm failed on input that passed validation."""

    kind = "AlgorithmError"


class PlatformError(ContainerError):
    """The container's environment is broken: missing directories, an artifact that fails checks."""

    kind = "PlatformError"


class ArtifactError(PlatformError):
    """The model artifact is missing, tampered with, or made by incompatible library versions."""


class RequestError(UserError):
    """A bad HTTP request; ``status`` is the 4xx the server answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
