from __future__ import annotations

import pytest
import sqlglot

from labellake import sql
from labellake.errors import NotFoundError
from labellake.lake import Lake


def test_there_are_queries() -> None:
    assert "batch_status_counts" in sql.names()


@pytest.mark.parametrize("name", sql.names())
def test_every_file_parses_in_duckdb_and_transpiles_to_athena(name: str) -> None:
    text = sql.load(name)
    statements = [s for s in sqlglot.parse(text, read="duckdb") if s is not None]
    assert len(statements) == 1
    athena = sqlglot.transpile(text, read="duckdb", write="athena")[0]
    for dialect in ("athena", "trino"):
        assert sqlglot.parse_one(athena, read=dialect) is not None
    # DuckDB-only spellings must not survive into the Athena text.
    assert "QUANTILE" not in athena.upper().replace("APPROX_PERCENTILE", "")
    assert "::" not in athena


@pytest.mark.parametrize("name", sql.names())
def test_every_file_runs_on_an_empty_lake(bare_lake: Lake, name: str) -> None:
    text = sql.load(name)
    params = [None] * text.count("?") or None
    # The lake as the portal and the engine open it: with the views of sql/views/.
    lake = Lake(bare_lake.store, views=sql.views())
    # Aggregates without GROUP BY answer one row of zeros; everything else answers none.
    assert lake.query(text, params).num_rows <= 1


def test_unknown_query_name() -> None:
    with pytest.raises(NotFoundError, match="no query named 'nope' in sql/"):
        sql.load("nope")
