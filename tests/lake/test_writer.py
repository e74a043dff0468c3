from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labellake.errors import LabellakeError
from labellake.lake import Lake


def boxes(job: str, frames: range, label: str = "Vehicle") -> pa.Table:
    return pa.table(
        {
            "job_name": [job] * len(frames),
            "source_ref": ["s3://in/clip-1_seq.json"] * len(frames),
            "frame_no": list(frames),
            "label": [label] * len(frames),
            "shape": ["box"] * len(frames),
            "box_left": [float(f) for f in frames],
        }
    )


def test_rewriting_a_unit_keeps_one_copy(bare_lake: Lake) -> None:
    first = bare_lake.write("annotations", "job-a", boxes("job-a", range(5)))
    second = bare_lake.write("annotations", "job-a", boxes("job-a", range(5)))
    assert first == second == ["annotations/job_name=job-a/job-a.parquet"]
    assert bare_lake.files("annotations") == first
    assert bare_lake.query("SELECT count(*) AS n FROM annotations").to_pylist() == [{"n": 5}]


def test_rewrite_replaces_rows_and_leaves_other_units_alone(bare_lake: Lake) -> None:
    bare_lake.write("annotations", "job-a", boxes("job-a", range(5)))
    bare_lake.write("annotations", "job-b", boxes("job-b", range(3)))
    bare_lake.write("annotations", "job-a", boxes("job-a", range(2), label="Truck"))
    rows = bare_lake.query(
        "SELECT job_name, label, count(*) AS n FROM annotations GROUP BY ALL ORDER BY job_name"
    ).to_pylist()
    assert rows == [
        {"job_name": "job-a", "label": "Truck", "n": 2},
        {"job_name": "job-b", "label": "Vehicle", "n": 3},
    ]


def test_unit_moving_to_another_partition_leaves_no_stale_file(bare_lake: Lake) -> None:
    bare_lake.write(
        "benchmark_results", "run-1", pa.table({"run_id": ["run-1"], "source": ["measured"]})
    )
    bare_lake.write(
        "benchmark_results", "run-1", pa.table({"run_id": ["run-1"], "source": ["published"]})
    )
    assert bare_lake.files("benchmark_results") == [
        "benchmark_results/source=published/run-1.parquet"
    ]
    # The partition folder it left is gone too (an empty one confuses Hive readers).
    root = Path(bare_lake.store.root) / "benchmark_results"
    assert sorted(p.name for p in root.iterdir()) == ["source=published"]


def test_empty_write_removes_the_unit(bare_lake: Lake) -> None:
    bare_lake.write("annotations", "job-a", boxes("job-a", range(5)))
    assert bare_lake.write("annotations", "job-a", boxes("job-a", range(0))) == []
    assert bare_lake.files("annotations") == []


def test_partition_column_lives_in_the_path_not_the_file(bare_lake: Lake, tmp_path: Path) -> None:
    bare_lake.write("annotations", "job-a", boxes("job-a", range(1)))
    stored = pq.read_table(tmp_path / "lake/annotations/job_name=job-a/job-a.parquet")
    assert "job_name" not in stored.column_names
    assert stored.schema.field("frame_no").type == pa.int32()


def test_crash_mid_write_leaves_no_visible_file(
    bare_lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare_lake.write("annotations", "job-a", boxes("job-a", range(5)))

    def crash(table: pa.Table, where, **kwargs) -> None:  # type: ignore[no-untyped-def]
        where.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr("labellake.lake.writer.pq.write_table", crash)
    with pytest.raises(OSError, match="disk full"):
        bare_lake.write("annotations", "job-a", boxes("job-a", range(9)))
    with pytest.raises(OSError, match="disk full"):
        bare_lake.write("annotations", "job-new", boxes("job-new", range(9)))
    monkeypatch.undo()
    on_disk = sorted(
        str(p.relative_to(tmp_path / "lake")) for p in (tmp_path / "lake").rglob("*") if p.is_file()
    )
    assert on_disk == ["annotations/job_name=job-a/job-a.parquet"]
    assert bare_lake.query("SELECT count(*) AS n FROM annotations").to_pylist() == [{"n": 5}]


@pytest.mark.parametrize(
    "data,message",
    [
        (pa.table({"job_name": ["a"], "colour": ["red"]}), "unknown column.*colour"),
        (pa.table({"job_name": ["a"], "frame_no": ["first"]}), "column frame_no: cannot store"),
        (
            pa.table(
                {"job_name": [None], "frame_no": [1]},
                schema=pa.schema([("job_name", pa.string()), ("frame_no", pa.int64())]),
            ),
            "column job_name: 1 row",
        ),
        (pa.table({"job_name": ["a/b"]}), "partition column job_name value 'a/b'"),
    ],
    ids=["unknown-column", "wrong-type", "missing-required", "unsafe-partition"],
)
def test_bad_rows_are_refused_and_write_nothing(
    bare_lake: Lake, data: pa.Table, message: str
) -> None:
    with pytest.raises(LabellakeError, match=message):
        bare_lake.write("annotations", "job-a", data)
    assert bare_lake.files("annotations") == []


@pytest.mark.parametrize("unit", ["", "../x", "a/b", ".hidden", "x" * 201])
def test_unsafe_unit_names_are_refused(bare_lake: Lake, unit: str) -> None:
    with pytest.raises(LabellakeError, match="cannot name a lake file"):
        bare_lake.write("annotations", unit, boxes("a", range(1)))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.lists(st.sampled_from(["job-a", "job-b", "job-c"]), max_size=8),
    second=st.lists(st.sampled_from(["job-a", "job-b", "job-c"]), max_size=8),
)
def test_the_last_write_of_a_unit_wins(
    tmp_path_factory: pytest.TempPathFactory, first: list[str], second: list[str]
) -> None:
    lake = Lake.from_uri(str(tmp_path_factory.mktemp("lake")))
    for rows in (first, second):
        lake.write(
            "qa_findings",
            "run",
            pa.table({"job_name": rows, "check_name": ["size_jump"] * len(rows)}),
        )
    counts = lake.query("SELECT job_name, count(*) AS n FROM qa_findings GROUP BY 1").to_pylist()
    assert {row["job_name"]: row["n"] for row in counts} == {
        job: second.count(job) for job in set(second)
    }


def test_readers_never_fail_while_a_writer_rewrites(bare_lake: Lake) -> None:
    bare_lake.write("annotations", "job-a", boxes("job-a", range(50)))
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: set[int] = set()

    def read() -> None:
        while not stop.is_set():
            try:
                n = bare_lake.query("SELECT count(*) AS n FROM annotations").column("n")[0]
                seen.add(n.as_py())
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)
                return

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    for i in range(40):
        bare_lake.write("annotations", "job-a", boxes("job-a", range(50 + i % 2)))
    stop.set()
    for reader in readers:
        reader.join()
    assert errors == []
    assert seen <= {50, 51}


def test_readers_never_fail_while_a_unit_moves_between_partitions(bare_lake: Lake) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []
    counts: list[int] = []

    def read() -> None:
        while not stop.is_set():
            try:
                counts.append(
                    bare_lake.query("SELECT count(*) AS n FROM benchmark_results")
                    .column("n")[0]
                    .as_py()
                )
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)
                return

    bare_lake.write(
        "benchmark_results", "run-1", pa.table({"run_id": ["run-1"], "source": ["measured"]})
    )
    reader = threading.Thread(target=read)
    reader.start()
    for i in range(40):
        source = ["measured", "published"][i % 2]
        bare_lake.write(
            "benchmark_results", "run-1", pa.table({"run_id": ["run-1"], "source": [source]})
        )
    stop.set()
    reader.join()
    assert errors == []
    # Between the new file appearing and the old one going, a reader may see both.
    assert set(counts) <= {1, 2}
