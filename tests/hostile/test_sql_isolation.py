"""A server runs user SQL in worker processes: a query DuckDB cannot interrupt (one
function call that builds a huge value) is killed at sql_timeout_s plus a grace, or when
the worker outgrows sql_memory_limit, and the next query runs in a fresh worker."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pytest

from labellake.errors import LabellakeError, NotFoundError
from labellake.lake import Lake, ObjectStore
from labellake.lake.sqlworkers import GRACE_S, memory_bytes

# One call of range() builds a 100M-element list before DuckDB looks at its interrupt flag.
UNSTOPPABLE = "SELECT count(*) AS n FROM (SELECT unnest(range(100000000)) AS a) s"
# A 3 GB string, allocated outside DuckDB's buffer manager (memory_limit does not see it).
BALLOON = "SELECT length(repeat(repeat('x', 1000000), 3000)) AS n"


def served_lake(tmp_path: Path, **limits: object) -> Lake:
    lake = Lake(ObjectStore.from_uri(tmp_path / "lake"), isolate_user_sql=True, **limits)
    lake.write("batches", "b1", pa.table({"batch_id": ["b1"], "status": ["COMPLETE"]}))
    return lake


def test_a_query_duckdb_cannot_interrupt_is_killed(tmp_path: Path) -> None:
    lake = served_lake(tmp_path, sql_timeout_s=0.5)
    assert lake.query_user("SELECT count(*) AS n FROM batches").to_pylist() == [{"n": 1}]
    started = time.monotonic()
    with pytest.raises(LabellakeError, match="ran longer than 0.5 s and was stopped"):
        lake.query_user(UNSTOPPABLE)
    assert time.monotonic() - started < 0.5 + GRACE_S + 5
    # A fresh worker answers the next query.
    assert lake.query_user("SELECT status FROM batches").to_pylist() == [{"status": "COMPLETE"}]


def test_a_query_that_outgrows_the_memory_cap_is_killed(tmp_path: Path) -> None:
    lake = served_lake(tmp_path, sql_timeout_s=60, sql_memory_limit="256MB")
    started = time.monotonic()
    with pytest.raises(LabellakeError, match=r"more memory than sql_memory_limit \(256MB\)"):
        lake.query_user(BALLOON)
    assert time.monotonic() - started < 30
    assert lake.query_user("SELECT 1 AS ok").to_pylist() == [{"ok": 1}]


def test_errors_keep_their_kind_across_the_process(tmp_path: Path) -> None:
    lake = served_lake(tmp_path, sql_timeout_s=5)
    with pytest.raises(NotFoundError, match="unknown table 'nope'"):
        lake.query_user("SELECT * FROM nope")
    with pytest.raises(LabellakeError, match="Referenced column"):
        lake.query_user("SELECT no_such_column FROM batches")


@pytest.mark.parametrize(
    "text,expected",
    [("2GB", 2 * 10**9), ("512MiB", 512 << 20), ("1.5 GB", 1_500_000_000), ("100", 100)],
)
def test_memory_sizes(text: str, expected: int) -> None:
    assert memory_bytes(text) == expected
    assert 0 < memory_bytes("25%") < memory_bytes("50%")
    with pytest.raises(LabellakeError, match="sql_memory_limit 'lots'"):
        memory_bytes("lots")
