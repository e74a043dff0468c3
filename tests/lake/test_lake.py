from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labellake.errors import LabellakeError, NotFoundError
from labellake.lake import Lake, get_table


def test_empty_lake_has_typed_views(bare_lake: Lake) -> None:
    assert bare_lake.query_user("select count(*) as n from annotations").to_pylist() == [{"n": 0}]
    empty = bare_lake.query("SELECT * FROM annotations")
    assert empty.num_rows == 0
    assert empty.schema.names == get_table("annotations").schema.names
    assert empty.schema.field("points").type == get_table("annotations").schema.field("points").type


def test_query_returns_arrow_with_catalog_types(bare_lake: Lake) -> None:
    created = dt.datetime(2026, 11, 20, 10, 14, 7, tzinfo=dt.UTC)
    bare_lake.write(
        "labels",
        "drive-0042-vehicle",
        pa.table(
            {
                "job_name": ["drive-0042-vehicle"],
                "source_ref": ["s3://example-input/drive-0042/clip-07_seq.json"],
                "label_attribute": ["drive-0042-vehicle-ref"],
                "class_map": pa.array([[("0", "Vehicle")]], pa.map_(pa.string(), pa.string())),
                "human_annotated": [True],
                "creation_date": [created],
            }
        ),
    )
    result = bare_lake.query(
        "SELECT job_name, class_map, creation_date FROM labels WHERE human_annotated = ?",
        [True],
    )
    assert result.to_pylist() == [
        {
            "job_name": "drive-0042-vehicle",
            "class_map": [("0", "Vehicle")],
            "creation_date": created,
        }
    ]


def test_files_missing_a_newer_column_read_it_as_null(bare_lake: Lake, tmp_path: Path) -> None:
    # A file written before `confidence` existed in the catalog.
    folder = tmp_path / "lake/annotations/job_name=old-job"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"frame_no": pa.array([0, 1], pa.int32())}), folder / "old-job.parquet")
    rows = bare_lake.query(
        "SELECT job_name, frame_no, confidence FROM annotations ORDER BY frame_no"
    ).to_pylist()
    assert rows == [
        {"job_name": "old-job", "frame_no": 0, "confidence": None},
        {"job_name": "old-job", "frame_no": 1, "confidence": None},
    ]


def test_partition_values_keep_their_declared_type(bare_lake: Lake) -> None:
    # A job named like a number must stay a string, not be guessed as an integer.
    bare_lake.write("annotations", "12345", pa.table({"job_name": ["12345"], "frame_no": [0]}))
    result = bare_lake.query("SELECT job_name FROM annotations")
    assert result.schema.field("job_name").type == pa.string()


def test_corrupt_parquet_file_is_named_and_other_tables_still_work(
    bare_lake: Lake, tmp_path: Path
) -> None:
    bare_lake.write("annotations", "job-a", pa.table({"job_name": ["job-a"]}))
    bad = tmp_path / "lake/labels/job_name=job-b/job-b.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"this is not parquet" * 10)
    with pytest.raises(
        LabellakeError, match=f"table labels: cannot read {bad}.*run `labellake lake repair`"
    ):
        bare_lake.query_user("SELECT count(*) FROM labels")
    with pytest.raises(LabellakeError, match="cannot read"):
        bare_lake.describe()
    assert bare_lake.query_user("SELECT count(*) AS n FROM annotations").to_pylist() == [{"n": 1}]
    assert bad.read_bytes() == b"this is not parquet" * 10


def test_user_sql_cannot_read_files_even_past_the_guard(bare_lake: Lake, tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    bare_lake.write("annotations", "job-a", pa.table({"job_name": ["job-a"]}))
    with bare_lake.connect() as session, pytest.raises(LabellakeError, match="disabled"):
        session.execute(f"SELECT * FROM read_csv('{secret}')")
    with bare_lake.connect() as session, pytest.raises(LabellakeError, match="locked"):
        session.execute("SET enable_external_access = true")


def test_unknown_table_in_user_sql(bare_lake: Lake) -> None:
    with pytest.raises(NotFoundError, match="unknown table 'annotation'"):
        bare_lake.query_user("SELECT * FROM annotation")


def test_malformed_query_is_one_line(bare_lake: Lake) -> None:
    with pytest.raises(LabellakeError, match="malformed query: syntax error") as caught:
        bare_lake.query_user("SELECT * FORM annotations")
    assert "\n" not in str(caught.value)


def test_runtime_error_is_a_user_error(bare_lake: Lake) -> None:
    with pytest.raises(LabellakeError, match='query failed: .*"nocol"'):
        bare_lake.query_user("SELECT nocol FROM annotations")


def test_s3_lake_write_and_query_on_moto(moto_endpoint: str, s3_bucket: str) -> None:
    lake = Lake.from_uri(f"s3://{s3_bucket}/lake", endpoint_url=moto_endpoint)
    rows = pa.table({"job_name": ["job-s3", "job-s3"], "frame_no": [0, 1], "shape": ["box"] * 2})
    lake.write("annotations", "job-s3", rows)
    lake.write("annotations", "job-s3", rows)
    assert lake.files("annotations") == ["annotations/job_name=job-s3/job-s3.parquet"]
    result = lake.query_user(
        "SELECT job_name, frame_no, label FROM annotations ORDER BY frame_no"
    ).to_pylist()
    assert result == [
        {"job_name": "job-s3", "frame_no": 0, "label": None},
        {"job_name": "job-s3", "frame_no": 1, "label": None},
    ]
    assert lake.row_counts()["annotations"] == 2
    assert lake.delete("annotations", "job-s3") == ["annotations/job_name=job-s3/job-s3.parquet"]
    assert lake.row_counts()["annotations"] == 0


def test_read_unit_returns_the_rows_with_partition_columns(bare_lake: Lake) -> None:
    bare_lake.write(
        "annotations", "job-a", pa.table({"job_name": ["job-a"] * 2, "frame_no": [3, 4]})
    )
    bare_lake.write("annotations", "job-b", pa.table({"job_name": ["job-b"], "frame_no": [9]}))
    rows = bare_lake.read_unit("annotations", "job-a")
    assert rows.schema == get_table("annotations").schema
    assert rows.select(["job_name", "frame_no"]).to_pylist() == [
        {"job_name": "job-a", "frame_no": 3},
        {"job_name": "job-a", "frame_no": 4},
    ]
    assert bare_lake.read_unit("annotations", "nothing").num_rows == 0


def test_times_come_back_in_utc_whatever_the_local_zone(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    lake = Lake.from_uri(str(tmp_path / "lake"))
    created = dt.datetime(2026, 11, 20, 10, 14, 7, tzinfo=dt.UTC)
    lake.write("batches", "b1", pa.table({"batch_id": ["b1"], "created_at": [created]}))
    script = (
        "from labellake.lake import Lake; import sys; lake = Lake.from_uri(sys.argv[1]); "
        "lake.query('SELECT 1 FROM batches'); "
        "print(lake.query('SELECT created_at FROM batches').column(0)[0].as_py())"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "lake")],
        env={**os.environ, "TZ": "America/New_York"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert shown == "2026-11-20 10:14:07+00:00"


def test_table_list_follows_every_rewrite(bare_lake: Lake) -> None:
    """Row counts are kept between calls only while the table's files are unchanged."""
    for n in (1, 3, 2):
        bare_lake.write("annotations", "job-a", pa.table({"job_name": ["job-a"] * n}))
        assert bare_lake.row_counts()["annotations"] == n
        assert bare_lake.row_counts()["annotations"] == n
    bare_lake.delete("annotations", "job-a")
    assert bare_lake.row_counts()["annotations"] == 0
