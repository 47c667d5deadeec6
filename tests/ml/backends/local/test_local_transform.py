"""Batch transform through a real serve process: filters, join, multi-file, bad rows, empty input."""

from __future__ import annotations

from pathlib import Path

import pytest
from local_helpers import Project, make_backend

from ml.backends.local import procs
from ml.backends.local.fleet import start_variant, stop_variant
from ml.backends.local.transform import filters
from ml.backends.local.transform.batches import read_batches
from ml.backends.local.transform.runner import KIND
from ml.errors import JobFailedError, UserInputError


def test_default_filters_drop_the_label_and_join_the_prediction_to_the_input(trained: Project, tmp_path: Path) -> None:
    job = trained.backend.transform(data=str(trained.data), output=str(tmp_path), version=1)
    lines = (tmp_path / "iris.csv.out").read_text().splitlines()
    inputs = trained.data.read_text().splitlines()
    assert (job.status, job.records, len(lines)) == ("Completed", 150, 150)
    for source, joined in zip(inputs, lines, strict=True):
        assert joined.startswith(source + ",")  # JoinSource=Input keeps the whole input record
    accuracy = sum(line.split(",")[0] == line.split(",")[-1] for line in lines) / len(lines)
    assert accuracy > 0.9


def test_multi_file_input_with_small_batches_and_an_output_filter(trained: Project, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    rows = trained.data.read_text().splitlines()
    (folder / "a.csv").write_text("\n".join(rows[:100]) + "\n")
    (folder / "b.csv").write_text("\n".join(rows[100:]))  # no final newline
    (folder / "notes.txt").write_text("not a csv")
    backend = make_backend(trained.root, trained.programs, transform_output_filter="$[0,-1]", transform_max_payload_mb=1)
    job = backend.transform(data=str(folder), output=str(tmp_path / "out"), version=1)
    out_a = (tmp_path / "out" / "a.csv.out").read_text().splitlines()
    out_b = (tmp_path / "out" / "b.csv.out").read_text().splitlines()
    assert (job.records, len(out_a), len(out_b)) == (150, 100, 50)
    assert all(len(line.split(",")) == 2 for line in out_a + out_b)  # label and prediction only
    assert not (tmp_path / "out" / "notes.txt.out").exists()


def test_a_malformed_row_fails_the_job_naming_the_record_and_leaves_no_output(trained: Project, tmp_path: Path) -> None:
    rows = trained.data.read_text().splitlines()
    rows[41] = "setosa,5.1,not-a-number,1.4,0.2"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(rows) + "\n")
    with pytest.raises(JobFailedError, match=r"bad\.csv record 42 .*not-a-number.*HTTP 4\d\d"):
        trained.backend.transform(data=str(bad), output=str(tmp_path / "out"), version=1)
    assert list((tmp_path / "out").iterdir()) == []  # no .out and no temp file left behind
    failed = [r for r in trained.backend.store.list("transform-jobs") if r["status"] == "Failed"]
    assert any("record 42" in r["failure_reason"] for r in failed)


def test_several_files_are_all_or_nothing(trained: Project, tmp_path: Path) -> None:
    # SageMaker writes a job's outputs only when the whole job succeeds: two good files before a
    # bad one must not leave their .out files behind.
    folder = tmp_path / "in"
    folder.mkdir()
    rows = trained.data.read_text().splitlines()
    (folder / "a.csv").write_text("\n".join(rows[:50]) + "\n")
    (folder / "b.csv").write_text("\n".join(rows[50:100]) + "\n")
    (folder / "c.csv").write_text("\n".join([*rows[100:110], "setosa,1,2,oops,4"]) + "\n")
    with pytest.raises(JobFailedError, match=r"c\.csv record 11"):
        trained.backend.transform(data=str(folder), output=str(tmp_path / "out"), version=1)
    assert list((tmp_path / "out").iterdir()) == []
    (folder / "c.csv").write_text("\n".join(rows[100:110]) + "\n")
    trained.backend.transform(data=str(folder), output=str(tmp_path / "out"), version=1)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.csv.out", "b.csv.out", "c.csv.out"]


def test_empty_input_completes_with_an_empty_output(trained: Project, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    job = trained.backend.transform(data=str(empty), output=str(tmp_path), version=1)
    assert (job.status, job.records) == ("Completed", 0)
    assert (tmp_path / "empty.csv.out").read_bytes() == b""


def test_missing_input_says_what_to_pass(trained: Project, tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="does not exist; pass a CSV file or folder"):
        trained.backend.transform(data=str(tmp_path / "nope.csv"), version=1)


def test_batches_stay_under_the_payload_cap_and_keep_record_numbers(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"".join(b"%d,1.0,2.0\n" % i for i in range(1, 1001)))
    batches = list(read_batches(path, max_bytes=1000))
    assert all(len(b.data) <= 1000 for b in batches)
    assert sum(b.count for b in batches) == 1000
    assert [b.first for b in batches[:2]] == [1, batches[0].count + 1]
    assert batches[-1].data.endswith(b"1000,1.0,2.0")


def test_a_record_larger_than_the_payload_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_bytes(b"1," + b"9" * 5000 + b"\n")
    with pytest.raises(JobFailedError, match="record 1 of wide.csv is larger than MaxPayloadInMB"):
        list(read_batches(path, max_bytes=1000))


@pytest.mark.parametrize(
    ("path", "expected"),
    [("$", b"a,b,c\nd,e,f"), ("$[1:]", b"b,c\ne,f"), ("$[0,-1]", b"a,c\nd,f"), ("$[:2]", b"a,b\nd,e"), ("$[1]", b"b\ne")],
)
def test_jsonpath_selectors(path: str, expected: bytes) -> None:
    assert filters.apply(filters.parse_selector(path), b"a,b,c\nd,e,f", 2) == expected


def test_drop_first_falls_back_when_a_record_has_one_field() -> None:
    assert filters.apply(filters.parse_selector("$[1:]"), b"a,b\nc", 2) == b"b\n"


@pytest.mark.parametrize("path", ["$.features", "[1:]", "$[a:b]", "$[1:2:3]"])
def test_unsupported_jsonpath_is_refused_with_the_accepted_forms(path: str) -> None:
    with pytest.raises(UserInputError, match="JSONPath"):
        filters.parse_selector(path)


def test_input_refused_while_the_server_starts_still_stops_the_server(trained: Project, tmp_path: Path) -> None:
    # The client reads its input while the model server starts: a job that fails on its first
    # batch must still wait for that server and stop it, not leave it serving.
    wide = tmp_path / "wide.csv"
    wide.write_bytes(b"setosa," + b"9" * 2_000_000 + b"\n")
    backend = make_backend(trained.root, trained.programs, transform_max_payload_mb=1)
    with pytest.raises(JobFailedError, match="record 1 of wide.csv is larger than MaxPayloadInMB"):
        backend.transform(data=str(wide), output=str(tmp_path / "out"), version=1)
    [failed] = [r for r in backend.store.list(KIND) if r["input_uri"] == str(wide)]
    assert failed["status"] == "Failed"
    assert procs.processes_under(backend.layout.transform_dir(failed["name"])) == []


def test_a_server_that_dies_at_start_fails_the_job_with_its_reason(trained: Project, tmp_path: Path) -> None:
    trained.programs.broken[1] = "exit"
    try:
        with pytest.raises(JobFailedError, match="failed its health check: .*exited before becoming healthy"):
            trained.backend.transform(data=str(trained.data), output=str(tmp_path / "out"), version=1)
    finally:
        del trained.programs.broken[1]
    assert list((tmp_path / "out").iterdir()) == []  # no .out and no temp file left behind


@pytest.mark.slow
def test_a_transform_server_stopped_while_a_worker_still_starts_shuts_down_by_itself(trained: Project, tmp_path: Path) -> None:
    """A 150-row job ends before serve's second worker has started; its stop must not wait out the
    SIGTERM grace and end in a SIGKILL (granian loses a SIGTERM that lands in a starting worker)."""
    version = trained.backend.registry.get(1)
    for run in range(5):
        server = start_variant(
            programs=trained.programs, version=version, base_dir=tmp_path / f"server-{run}", workers=2, extra_env={"BYOC_LOG_LEVEL": "INFO"}
        )
        stop_variant(server)  # at once, as a job whose one mini-batch the first worker answered
        log = (tmp_path / f"server-{run}" / "serve.log").read_text(encoding="utf-8")
        assert "Granian shutdown completed" in log, f"run {run}: granian did not shut down by itself (killed):\n{log[-2000:]}"
