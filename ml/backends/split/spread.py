"""Which transform instance gets which input object, as SageMaker maps S3 objects to instances.

"Batch Transform partitions the Amazon S3 objects in the input by key and maps Amazon S3 objects
to instances" (SageMaker guide, "Batch transform for inference"); "If you have one input file but
initialize multiple compute instances, only one instance processes the input file and the rest
of the instances are idle." AWS does not publish the mapping itself; this one partitions the
keys, sorted, into contiguous runs of nearly equal count, the first instances taking one more
when the count does not divide. Output never depends on the mapping: every object has its own
``.out``, its records in input order, whichever instance ran it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def spread(objects: Sequence[T], *, instances: int) -> list[list[T]]:
    """``objects`` (already in key order) in ``instances`` runs; a run is empty when there are
    fewer objects than instances, as an instance idles on SageMaker then."""
    if instances < 1:
        raise ValueError(f"a transform job has at least one instance, not {instances}")
    share, extra = divmod(len(objects), instances)
    runs: list[list[T]] = []
    start = 0
    for index in range(instances):
        size = share + (1 if index < extra else 0)
        runs.append(list(objects[start : start + size]))
        start += size
    return runs
