"""One error hierarchy for everything a user can see.

Every error a user can fix says what to change. Tasks turn these into a non-zero exit with the
message, so the message is written for the person at the terminal, not for a stack trace.
"""

from __future__ import annotations


class ByocError(Exception):
    """Base class: an error with a message meant for the user."""


class ConfigError(ByocError):
    """A configuration value is missing or malformed; the message names the key and the form."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"cdktf.json context key {key!r}: {problem}")


class UserInputError(ByocError):
    """The user asked for something that cannot be done as asked (bad flag, unknown version)."""


class NotFoundError(ByocError):
    """A named resource (model version, endpoint, stack output) does not exist."""


class StateError(ByocError):
    """Recorded state is missing, locked too long or inconsistent."""


class JobFailedError(ByocError):
    """A training job, transform job or deployment finished in a failed state."""


class DeployRolledBackError(JobFailedError):
    """A blue/green update was rolled back; the old fleet still serves."""


class TimeoutExpiredError(ByocError):
    """A wait passed its deadline; the message names the resource and the deadline."""


class AwsError(ByocError):
    """An AWS call failed; the message says what to check (permission, missing resource)."""
