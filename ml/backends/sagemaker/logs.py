"""Tail a job's CloudWatch log streams between status polls.

boto3 rather than the sagemaker SDK's ``logs_for_job``: that function runs its own polling loop
with no deadline and no injectable clock, and prints straight to stdout, so it would duplicate
our wait loop instead of adding to it. Tailing here is two calls per poll.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ml.backends.base import LogSink
from ml.backends.sagemaker.aws_errors import aws_call, is_not_found
from ml.names import TRAINING_LOG_GROUP, TRANSFORM_LOG_GROUP

__all__ = ["TRAINING_LOG_GROUP", "TRANSFORM_LOG_GROUP", "LogTailer"]


class LogTailer:
    """Remembers how far each stream was read, so every line is emitted once."""

    def __init__(self, *, logs_client: Any, group: str, job_name: str, sink: LogSink | None) -> None:
        self._logs = logs_client
        self._group = group
        self._prefix = f"{job_name}/"
        self._sink = sink
        self._tokens: dict[str, str] = {}

    def poll(self) -> int:
        """Emit new lines from every stream of the job; return how many were emitted."""
        if self._sink is None:
            return 0
        emitted = 0
        with aws_call(service="logs", action=f"reading logs in {self._group}"):
            try:
                streams = self._logs.describe_log_streams(logGroupName=self._group, logStreamNamePrefix=self._prefix)["logStreams"]
            except ClientError as err:
                # The group and streams appear only once the instance starts; nothing to read yet.
                if is_not_found(err):
                    return 0
                raise
            for stream in streams:
                emitted += self._read_stream(stream["logStreamName"])
        return emitted

    def _read_stream(self, stream: str) -> int:
        assert self._sink is not None
        kwargs: dict[str, Any] = {"logGroupName": self._group, "logStreamName": stream, "startFromHead": True}
        if stream in self._tokens:
            kwargs["nextToken"] = self._tokens[stream]
        emitted = 0
        while True:
            page = self._logs.get_log_events(**kwargs)
            for event in page.get("events", []):
                self._sink(f"[{stream}] {event['message']}")
                emitted += 1
            token = page.get("nextForwardToken")
            # The API returns the same token when there is nothing newer: stop there.
            if not token or token == kwargs.get("nextToken"):
                if token:
                    self._tokens[stream] = token
                return emitted
            self._tokens[stream] = token
            kwargs["nextToken"] = token
