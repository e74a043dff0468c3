from __future__ import annotations

import pytest
import sqlglot

from labellake import sql
from labellake.errors import NotFoundError
from labellake.lake import Lake


def test_there_are_queries() -> None:
    assert "batch_status_counts" in sql.names()


@pytest.mark.parametrize("name", sql.names())
@pytest.mark.parametrize("dialect", ["duckdb", "athena", "trino"])
def test_every_file_parses_in_both_engines(name: str, dialect: str) -> None:
    text = sql.load(name)
    statements = sqlglot.parse(text, read=dialect)
    assert len([s for s in statements if s is not None]) == 1
    # And it round-trips into the other engine's dialect.
    other = "athena" if dialect == "duckdb" else "duckdb"
    assert sqlglot.transpile(text, read=dialect, write=other)


@pytest.mark.parametrize("name", sql.names())
def test_every_file_runs_on_an_empty_lake(bare_lake: Lake, name: str) -> None:
    assert bare_lake.query(sql.load(name)).num_rows == 0


def test_unknown_query_name() -> None:
    with pytest.raises(NotFoundError, match="no query named 'nope' in sql/"):
        sql.load("nope")
