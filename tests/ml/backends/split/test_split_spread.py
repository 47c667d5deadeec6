"""Objects spread over instances: contiguous runs by key, sizes within one of each other."""

from __future__ import annotations

import pytest

from ml.backends.split.spread import spread


def test_objects_in_key_order_go_to_instances_in_contiguous_runs() -> None:
    assert spread(["a", "b", "c", "d", "e"], instances=2) == [["a", "b", "c"], ["d", "e"]]
    assert spread(list(range(8)), instances=4) == [[0, 1], [2, 3], [4, 5], [6, 7]]


def test_one_object_and_several_instances_leaves_the_others_idle() -> None:
    assert spread(["iris.csv"], instances=3) == [["iris.csv"], [], []]


@pytest.mark.parametrize(("count", "instances"), [(0, 1), (1, 1), (7, 3), (12, 5), (100, 100), (3, 7)])
def test_every_object_once_and_runs_differ_by_at_most_one(count: int, instances: int) -> None:
    runs = spread(list(range(count)), instances=instances)
    assert len(runs) == instances
    assert [x for run in runs for x in run] == list(range(count))
    assert max(map(len, runs)) - min(map(len, runs)) <= 1


def test_no_instance_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one instance"):
        spread(["a"], instances=0)
