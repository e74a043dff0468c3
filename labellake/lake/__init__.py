"""Storage and SQL, with no domain logic: the object store (local folders or s3://), the
table catalog (the one declaration of every table), atomic partitioned Parquet writes,
DuckDB sessions with the user-SQL limits, Glue and Athena. Imports only the core."""

from __future__ import annotations

from labellake.lake.catalog import TABLES, Column, Table, get_table, table_names
from labellake.lake.lake import Lake
from labellake.lake.store import ObjectStore

__all__ = ["TABLES", "Column", "Lake", "ObjectStore", "Table", "get_table", "table_names"]
