"""The monitor's EventBridge schedule follows the endpoint: on while it exists, off after teardown.

The deploy stack creates the rule disabled (there is no endpoint yet, and every run would fail
and notify), a deploy enables it once the endpoint is InService, and teardown disables it, so a
torn-down project starts no failing build every day. EnableRule and DisableRule change only the
rule's state; Terraform ignores that attribute (modules/monitor_schedule.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ml.backends.sagemaker.aws_errors import aws_call, error_code


class MonitorSchedule:
    def __init__(self, *, events: Any, rule: str, on_log: Callable[[str], None] | None = None) -> None:
        self._events, self.rule = events, rule
        self._log = on_log or (lambda _line: None)

    def _state(self) -> str | None:
        """``ENABLED``/``DISABLED``, or ``None`` when the rule does not exist (the deploy stack is older or absent)."""
        with aws_call(service="events", action=f"reading the monitor schedule {self.rule}"):
            try:
                return str(self._events.describe_rule(Name=self.rule)["State"])
            except ClientError as err:
                if error_code(err) != "ResourceNotFoundException":
                    raise
        self._log(f"no EventBridge rule {self.rule}: the monitor schedule is not deployed")
        return None

    def _set(self, enabled: bool) -> bool:
        """Set the rule's state; ``False`` when there was nothing to change (absent, or already so)."""
        state = self._state()
        if state is None or state == ("ENABLED" if enabled else "DISABLED"):
            return False
        verb = "enabling" if enabled else "disabling"
        with aws_call(service="events", action=f"{verb} the monitor schedule {self.rule}"):
            (self._events.enable_rule if enabled else self._events.disable_rule)(Name=self.rule)
        return True

    def enable(self) -> None:
        if self._set(True):
            self._log(f"monitor schedule {self.rule} enabled")

    def disable(self) -> list[str]:
        """Disable the schedule; what teardown reports (nothing when it was already off, so teardown repeats cleanly)."""
        return [f"schedule/{self.rule} (disabled)"] if self._set(False) else []
