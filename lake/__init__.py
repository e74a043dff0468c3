"""Storage: object store, table catalog, partitioned Parquet writes, SQL."""

from __future__ import annotations

from labellake.lake.catalog import TABLES, Column, Table, get_table, table_names
from labellake.lake.lake import Lake
from labellake.lake.store import ObjectStore

__all__ = ["TABLES", "Column", "Lake", "ObjectStore", "Table", "get_table", "table_names"]
