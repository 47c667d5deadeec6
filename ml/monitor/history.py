"""Which model version answered at a given time, from an endpoint's deployment history (AWS captures).

SageMaker's capture records name the endpoint and the variant, and the variant keeps its name
across blue/green updates, so only the time of a record can tell which version answered it. The
history (:mod:`ml.backends.sagemaker.deployments`) lists each settled deploy as ``[start, settled)``
(both fleets may answer) then ``version`` alone until the next deploy starts. A record the history
cannot place is not guessed at: the reason goes into the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ml.backends.sagemaker.deployments import Deployment
from ml.monitor.run import Attributed


@dataclass(frozen=True, kw_only=True)
class ServingHistory:
    deployments: Sequence[Deployment]  # oldest first
    current: int  # the version of the config the endpoint runs now (DescribeEndpoint); 0 if unknown

    def version_at(self, moment: datetime) -> Attributed:
        settled = [d for d in self.deployments if d.settled <= moment]
        shifting = [d for d in self.deployments if d.start <= moment < d.settled]
        if shifting:
            d = shifting[-1]
            return Attributed(
                version=None,
                reason=f"answered during the update to version {d.version} ({d.start:%H:%M:%S}-{d.settled:%H:%M:%S}Z), "
                "when the old and the new fleet both answered",
            )
        if not settled:
            return Attributed(version=None, reason="answered before the oldest deployment the endpoint's history records")
        last = settled[-1]
        if len(settled) == len(self.deployments) and self.current and self.current != last.version:
            return Attributed(
                version=None,
                reason=f"answered after the last recorded deployment (version {last.version}), but the endpoint now runs "
                f"version {self.current}: its config was changed outside this project's deploy",
            )
        return Attributed(version=last.version)
