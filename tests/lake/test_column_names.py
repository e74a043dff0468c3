"""Column names work unquoted in users' SQL, and files written before a rename still read."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot

from labellake.lake import Lake, catalog


def every_column() -> list[tuple[str, str]]:
    return [(table.name, column.name) for table in catalog.TABLES for column in table.columns]


@pytest.mark.parametrize(("table", "column"), every_column(), ids=lambda v: str(v))
def test_a_column_needs_no_quotes(table: str, column: str) -> None:
    query = f"SELECT {column} FROM t WHERE {column} IS NOT NULL ORDER BY {column}"
    for dialect in ("duckdb", "trino"):
        sqlglot.parse_one(query, read=dialect)  # raises on a reserved word
    with duckdb.connect() as con:
        con.execute(f'CREATE TABLE t AS SELECT 1 AS "{column}"')
        assert con.execute(query).fetchall() == [(1,)]


def test_view_columns_need_no_quotes(bare_lake: Lake) -> None:
    for view in bare_lake.views:
        for name in bare_lake.query(f"SELECT * FROM {view} LIMIT 0").column_names:
            sqlglot.parse_one(f"SELECT {name} FROM v", read="duckdb")


def test_files_written_before_the_rename_read_under_the_new_names(tmp_path: Path) -> None:
    lake = Lake.from_uri(str(tmp_path / "lake"))
    old = tmp_path / "lake/annotations/job_name=old"
    old.mkdir(parents=True)
    pq.write_table(
        pa.table({"source_ref": ["a"], "shape": ["box"], "left": [12.5]}), old / "old.parquet"
    )
    lake.write(
        "annotations",
        "new",
        pa.table({"job_name": ["new"], "source_ref": ["b"], "shape": ["box"], "box_left": [3.0]}),
    )
    findings = tmp_path / "lake/qa_findings/job_name=old"
    findings.mkdir(parents=True)
    pq.write_table(pa.table({"source_ref": ["a"], "check": ["iou_drop"]}), findings / "old.parquet")
    rows = lake.query("SELECT job_name, box_left FROM annotations ORDER BY job_name")
    assert rows.to_pylist() == [
        {"job_name": "new", "box_left": 3.0},
        {"job_name": "old", "box_left": 12.5},
    ]
    assert lake.read_unit("annotations", "old").column("box_left").to_pylist() == [12.5]
    checks = lake.query("SELECT check_name FROM qa_findings").column("check_name")
    assert checks.to_pylist() == ["iou_drop"]
