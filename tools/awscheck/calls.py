"""Record the AWS calls real code makes, with the parameters it passed, per task.

A botocore ``provide-client-params`` hook sees every operation a client runs (paginated pages
included) with the caller's final keyword arguments. Calls that never reach botocore (a scripted
fake standing in for an API moto lacks, a ``docker push`` speaking the registry protocol) are
added with :meth:`CallRecorder.record` by whoever makes them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Call:
    """One API call: botocore's service name (``sagemaker-runtime``), operation, parameters."""

    task: str
    service: str
    operation: str
    params: Mapping[str, Any] = field(default_factory=dict)
    via: str = "boto3"  # or who else made it: "docker push", "SageMaker (execution role)"

    def label(self) -> str:
        return f"{self.service}.{self.operation}" + ("" if self.via == "boto3" else f" ({self.via})")


class CallRecorder:
    """Collects :class:`Call`s; :meth:`task` names the task the following calls belong to."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._task = ""

    @property
    def current_task(self) -> str:
        return self._task

    @contextmanager
    def task(self, name: str) -> Iterator[None]:
        previous, self._task = self._task, name
        try:
            yield
        finally:
            self._task = previous

    def attach(self, client: Any) -> Any:
        """Hook ``client`` (a botocore client) so each operation it runs is recorded; returns it."""
        service = client.meta.service_model.service_name

        def remember(params: Mapping[str, Any], model: Any, **_: Any) -> None:
            self.record(service, model.name, params)

        client.meta.events.register(f"provide-client-params.{client.meta.service_model.service_id.hyphenize()}.*", remember)
        return client

    def record(self, service: str, operation: str, params: Mapping[str, Any], *, via: str = "boto3") -> None:
        if not self._task:
            raise RuntimeError(f"{service}.{operation} was called outside a task; wrap the code in `with recorder.task(NAME):`")
        self.calls.append(Call(task=self._task, service=service, operation=operation, params=dict(params), via=via))
