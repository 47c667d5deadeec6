"""Batch transform across local instances: as many model servers as transform_instance_count,
files or split parts spread across them as SageMaker spreads S3 objects, output byte-identical."""

from __future__ import annotations

from pathlib import Path

import pytest
from local_helpers import Project, make_backend

from ml.backends.local import procs
from ml.backends.local.transform.runner import KIND
from ml.errors import JobFailedError, UserInputError


def rows(project: Project) -> list[str]:
    return project.data.read_text().splitlines()


def big_file(project: Project, folder: Path, *, copies: int = 40) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "big.csv"
    path.write_text("\n".join(rows(project) * copies) + "\n")
    return path


def run(project: Project, data: Path, out: Path, **config: object) -> dict[str, object]:
    backend = make_backend(project.root, project.programs, transform_max_payload_mb=1, **config)
    job = backend.transform(data=str(data), output=str(out), version=1)
    record = backend.store.get(KIND, job.name)
    assert record is not None and record["status"] == "Completed"
    return record


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_split_file_on_three_instances_is_byte_identical_to_one_instance_unsplit(trained: Project, tmp_path: Path) -> None:
    source = big_file(trained, tmp_path / "in")
    one = run(trained, source, tmp_path / "one", transform_instance_count=1, transform_split_objects=0)
    three = run(trained, source, tmp_path / "three", transform_instance_count=3, transform_split_objects=None)
    assert outputs(tmp_path / "one") == outputs(tmp_path / "three")  # one big.csv.out, no part left over
    assert list(outputs(tmp_path / "three")) == ["big.csv.out"]
    assert (one["split_parts"], one["instance_count"]) == (0, 1)
    assert (three["split_parts"], three["instance_count"]) == (12, 3)  # 4 parts per instance by default
    # SageMaker's mapping: the parts, in key order, in contiguous runs, four to each instance.
    assert three["instance_objects"] == [[f"part-{k:05d}.csv" for k in range(first, first + 4)] for first in (1, 5, 9)]
    assert len({server["pid"] for server in three["servers"]}) == 3  # three model servers really ran


def test_a_split_file_on_one_instance_is_byte_identical_too(trained: Project, tmp_path: Path) -> None:
    source = big_file(trained, tmp_path / "in", copies=10)
    run(trained, source, tmp_path / "whole", transform_split_objects=0)
    split = run(trained, source, tmp_path / "split", transform_split_objects=5)
    assert split["split_parts"] == 5 and len(split["servers"]) == 1
    assert outputs(tmp_path / "whole") == outputs(tmp_path / "split")


def test_multi_file_input_on_three_instances_is_byte_identical_to_one(trained: Project, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    lines = rows(trained)
    for k in range(5):
        (folder / f"f{k}.csv").write_text("\n".join(lines[k * 30 : (k + 1) * 30]) + "\n")
    run(trained, folder, tmp_path / "one")
    three = run(trained, folder, tmp_path / "three", transform_instance_count=3)
    assert outputs(tmp_path / "one") == outputs(tmp_path / "three")
    assert sorted(outputs(tmp_path / "three")) == [f"f{k}.csv.out" for k in range(5)]
    assert three["split_parts"] == 0  # a folder is used as it is, as an S3 prefix is
    assert three["instance_objects"] == [["f0.csv", "f1.csv"], ["f2.csv", "f3.csv"], ["f4.csv"]]


def test_a_failing_part_fails_the_job_naming_the_part_and_the_models_error(trained: Project, tmp_path: Path) -> None:
    source = big_file(trained, tmp_path / "in", copies=12)  # 1,800 records; 12 parts of 150
    lines = source.read_text().splitlines()
    lines[1000] = "setosa,5.1,not-a-number,1.4,0.2"  # record 1,001: in part 7
    source.write_text("\n".join(lines) + "\n")
    backend = make_backend(trained.root, trained.programs, transform_instance_count=3, transform_max_payload_mb=1)
    with pytest.raises(JobFailedError, match=r"big\.csv record 1001 in part-00007\.csv .*not-a-number.*HTTP 400.*is not a number"):
        backend.transform(data=str(source), output=str(tmp_path / "out"), version=1)
    assert list((tmp_path / "out").iterdir()) == []  # no .out, no part output, no temp file
    [failed] = [r for r in backend.store.list(KIND) if r["input_uri"] == str(source)]
    assert failed["status"] == "Failed" and "part-00007.csv" in failed["failure_reason"]
    assert procs.processes_under(backend.layout.transform_dir(failed["name"])) == []  # all three servers stopped


def test_a_quoted_newline_is_refused_before_anything_starts(trained: Project, tmp_path: Path) -> None:
    source = big_file(trained, tmp_path / "in", copies=2)
    source.write_text(source.read_text() + 'setosa,"5.1\n",3.5,1.4,0.2\n')
    backend = make_backend(trained.root, trained.programs, transform_instance_count=2)
    before = len(backend.store.list(KIND))
    with pytest.raises(UserInputError, match=r"big\.csv line 301: a quoted CSV field holds a newline"):
        backend.transform(data=str(source), output=str(tmp_path / "out"), version=1)
    assert len(backend.store.list(KIND)) == before  # no job recorded, no server started
    assert not (tmp_path / "out").exists()
