"""The curated zone: catalog tables as Parquet files, queried through DuckDB.

Locally each query session is a fresh in-memory DuckDB with one view per
table over ``read_parquet(..., hive_partitioning=true)``. There is no
persistent DuckDB file, so any number of processes read while another writes.
On S3 the views go over Arrow datasets instead (DuckDB's httpfs extension is
not assumed to be installable); Athena is the engine at scale.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from labellake.errors import LabellakeError
from labellake.lake import catalog, writer
from labellake.lake.athena import AthenaEngine
from labellake.lake.catalog import Table
from labellake.lake.glue import GlueCatalog
from labellake.lake.readonly import check_user_sql, referenced_tables
from labellake.lake.store import ObjectStore

_FILE_IN_MESSAGE = re.compile(r"""['"]([^'"]+\.parquet)['"]""")
_ATTEMPTS = 5  # reads retried when a file vanished under them
IN_MEMORY_BYTES = 32 << 20  # tables with fewer Parquet bytes are held in memory
_VANISHED = ("No files found", "No such file", "Cannot open file")


def _one_line(error: Exception) -> str:
    """DuckDB's message without the echo of the query it appends."""
    return " ".join(str(error).split(" LINE ", 1)[0].split("\nLINE ", 1)[0].split())


class Lake:
    """Catalog tables under one root URI: atomic writes and read-only SQL."""

    def __init__(
        self,
        store: ObjectStore,
        tables: tuple[Table, ...] = catalog.TABLES,
        views: dict[str, str] | None = None,
        glue: GlueCatalog | None = None,
        athena: AthenaEngine | None = None,
    ) -> None:
        """``views`` are named SELECTs over the tables (sql/views), queryable like tables;
        with ``glue``, every table and partition written is registered in that catalog."""
        self.store = store
        self.glue = glue
        self.athena = athena  # when set, queries run in Athena instead of DuckDB
        self.tables = {table.name: table for table in tables}
        self.views = dict(views or {})
        clash = set(self.views) & set(self.tables)
        assert not clash, f"views named like tables: {clash}"
        # Locally, one DuckDB connection serves every query; a table's view is rebuilt
        # only when its files change (their names, sizes and times are its signature).
        self._lock = threading.RLock()
        self._shared: _Session | None = None
        self._signatures: dict[str, tuple[tuple[str, int, int], ...] | None] = {}
        # Row count and column types per table, kept while its files are unchanged.
        self._described: dict[str, tuple[object, int, dict[str, str]]] = {}

    @classmethod
    def from_uri(cls, uri: str, **store_options: Any) -> Lake:
        return cls(ObjectStore.from_uri(uri, **store_options))

    def table(self, name: str) -> Table:
        if name not in self.tables:
            return catalog.get_table(name)  # raises NotFoundError listing the tables
        return self.tables[name]

    # -- writes ---------------------------------------------------------------

    def write(self, table: str, unit: str, data: pa.Table) -> list[str]:
        """Replace the rows of ``unit`` in ``table`` (atomic per file, idempotent)."""
        self.store.ensure_root()
        declared = self.table(table)
        written = writer.write_unit(self.store, declared, unit, data)
        if self.glue is not None:
            self.glue.register(declared, written)
        return written

    def delete(self, table: str, unit: str) -> list[str]:
        declared = self.table(table)
        removed = writer.delete_unit(self.store, declared, unit)
        if self.glue is not None:
            emptied = [
                key
                for key in removed
                if not self.store.list(key.rsplit("/", 1)[0], suffix=".parquet")
            ]
            self.glue.drop_partitions(declared, emptied)
        return removed

    def read_unit(self, table: str, unit: str) -> pa.Table:
        """The rows of one unit, read straight from its files (no query session)."""
        declared = self.table(table)
        parts = []
        for key in writer.unit_keys(self.store, declared, unit):
            stored = pq.read_table(pa.BufferReader(self.store.read_bytes(key)))
            for part in key.split("/")[1:-1]:  # col=value folders
                column, _, value = part.partition("=")
                stored = stored.append_column(
                    declared.schema.field(column),
                    pa.array([value] * stored.num_rows).cast(declared.schema.field(column).type),
                )
            parts.append(writer.conform(declared, stored))
        return pa.concat_tables(parts) if parts else declared.empty()

    def files(self, table: str) -> list[str]:
        return self.store.list(self.table(table).name, suffix=".parquet")

    # -- reads ----------------------------------------------------------------

    @contextlib.contextmanager
    def connect(self, names: set[str] | None = None) -> Iterator[_Session]:
        """An in-memory DuckDB session with a view per table (only ``names``, when given).

        Setting up a view reads the footers of its table's files, so a query sets up only
        the tables it reads; a query that reads one of the lake's views gets everything.
        """
        wanted = set(self.tables) if names is None else {n.lower() for n in names}
        with_views = names is None or bool(wanted & set(self.views))
        if with_views:
            wanted |= set(self.tables)
        con = duckdb.connect(":memory:")
        try:
            session = _Session(con)
            for table in self.tables.values():
                if table.name in wanted:
                    session.add_view(table, self)
            if with_views:
                for name, select in self.views.items():
                    session.con.execute(f'CREATE VIEW "{name}" AS {select}')
            session.lock(self.store)
            yield session
        finally:
            con.close()

    def query(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pa.Table:
        """Run trusted SQL (from sql/) and return Arrow."""
        if self.athena is not None:
            if isinstance(params, dict):
                raise LabellakeError("Athena takes positional (?) query parameters only")
            return self.athena.query(sql, params)
        return self._run(sql, params)

    def scan(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pa.Table:
        """Run trusted SQL in process (DuckDB over the lake's files, local or on S3), whatever
        the query engine: the ETL's own reads, which must see the files just written."""
        return self._run(sql, params)

    def query_user(self, sql: str) -> pa.Table:
        """Run SQL typed by a user: read-only, lake tables only."""
        check_user_sql(sql, [*self.tables, *self.views])
        if self.athena is not None:
            return self.athena.query(sql)
        return self._run(sql, None)

    def describe(self) -> list[dict[str, Any]]:
        """Every table with its row count and columns (name, SQL type, description)."""
        described = []
        with self._session_for(set(self.tables)) as session:
            for table in self.tables.values():
                session.check_readable({table.name})
                with self._lock:
                    signature = self._signatures.get(table.name)
                    known = self._described.get(table.name)
                if known is not None and signature is not None and known[0] == signature:
                    _, count, types = known
                else:
                    count = session.execute(f'SELECT count(*) AS n FROM "{table.name}"')
                    count = count.column(0)[0].as_py()
                    types = dict(
                        session.con.execute(
                            f'SELECT column_name, column_type FROM (DESCRIBE "{table.name}")'
                        ).fetchall()
                    )
                    if signature is not None:
                        with self._lock:
                            self._described[table.name] = (signature, count, types)
                described.append(
                    {
                        "name": table.name,
                        "description": table.description,
                        "partition_by": list(table.partition_by),
                        "rows": count,
                        "columns": [
                            {"name": c.name, "type": types[c.name], "description": c.description}
                            for c in table.columns
                        ],
                    }
                )
        return described

    def row_counts(self) -> dict[str, int]:
        return {table["name"]: table["rows"] for table in self.describe()}

    def _run(self, sql: str, params: list[Any] | dict[str, Any] | None) -> pa.Table:
        # A file can vanish between listing and reading when its unit is rewritten
        # into another partition; a fresh session sees the new layout.
        names = referenced_tables(sql)
        if names & set(self.views):
            names |= set(self.tables)  # a view may read any table
        for attempt in range(_ATTEMPTS):
            with self._session_for(names) as session:
                try:
                    session.check_readable(names)
                    return session.execute(sql, params)
                except (duckdb.IOException, LabellakeError) as exc:
                    # A file rewritten while it was read fails in many ways (missing, short,
                    # torn); if the table's files changed meanwhile, read the new layout.
                    changed = self._changed(names, session.signatures)
                    if attempt < _ATTEMPTS - 1 and (_vanished(exc) or changed):
                        self._forget(names)
                        time.sleep(0.01 * 2**attempt)  # let a busy writer finish its rewrite
                        continue
                    if isinstance(exc, LabellakeError):
                        raise
                    raise _read_error(exc) from exc
        raise AssertionError("unreachable")

    def _changed(self, names: set[str], known: dict[str, Any]) -> bool:
        """Whether any of these tables' files changed since the session read them (local).

        ``known`` holds the signatures the session's views were built from; another
        thread may have rebuilt the shared views since, so the latest are no proof."""
        if not self.store.is_local:
            return False
        return any(
            self.store.signature(name, suffix=".parquet") != signature
            for name, signature in known.items()
        )

    @contextlib.contextmanager
    def _session_for(self, names: set[str]) -> Iterator[_Session]:
        """The shared local session, its views brought up to date; a fresh one on S3."""
        if not self.store.is_local:
            with self.connect(names) as session:
                yield session
            return
        with self._lock:
            if self._shared is None:
                self._shared = _Session(duckdb.connect(":memory:"))
                for table in self.tables.values():
                    self._shared.add_empty_view(table)
                for name, select in self.views.items():
                    self._shared.con.execute(f'CREATE VIEW "{name}" AS {select}')
                self._shared.lock(self.store)
            shared = self._shared
            for name in sorted(names & set(self.tables)):
                signature = self.store.signature(name, suffix=".parquet")
                if self._signatures.get(name) != signature:
                    shared.broken.pop(name, None)
                    # Small tables are read once into memory: hundreds of small per-job
                    # files cost more to open on every query than to hold.
                    small = sum(size for _, size, _ in signature) <= IN_MEMORY_BYTES
                    shared.add_view(self.tables[name], self, replace=True, in_memory=small)
                    if name in shared.broken:
                        # Maybe a file torn by a rewrite during the copy: the next query
                        # builds the view again instead of trusting this failure.
                        self._signatures.pop(name, None)
                    else:
                        self._signatures[name] = signature
            cursor = _Session(shared.con.cursor(), setup=False)
            cursor.broken = dict(shared.broken)
            cursor.signatures = {n: self._signatures.get(n) for n in names & set(self.tables)}
        try:
            yield cursor
        finally:
            cursor.con.close()

    def _forget(self, names: set[str]) -> None:
        with self._lock:
            for name in names:
                self._signatures.pop(name, None)


class _Session:
    """One DuckDB connection with the lake's views."""

    def __init__(self, con: duckdb.DuckDBPyConnection, setup: bool = True) -> None:
        self.con = con
        self.broken: dict[str, str] = {}
        self.signatures: dict[str, Any] = {}  # of the files its views were built from
        if setup:
            self.con.execute("SET GLOBAL TimeZone = 'UTC'")

    def add_empty_view(self, table: Table, name: str | None = None) -> None:
        """A typed view with no rows (written out in SQL, so every cursor sees it)."""
        columns = ", ".join(
            f'CAST(NULL AS {_duck_type(c.type)}) AS "{c.name}"' for c in table.columns
        )
        self.con.execute(
            f'CREATE OR REPLACE VIEW "{name or table.name}" AS SELECT {columns} WHERE false'
        )

    def add_view(
        self, table: Table, lake: Lake, replace: bool = False, in_memory: bool = False
    ) -> None:
        """The table's view; with ``in_memory`` its rows are read once into the session."""
        store = lake.store
        empty = f"_empty_{table.name}"
        self.add_empty_view(table, empty)
        create = "CREATE OR REPLACE VIEW" if replace else "CREATE VIEW"
        has_files = bool(store.list(table.name, suffix=".parquet"))
        if not has_files:
            self.con.execute(f'{create} "{table.name}" AS SELECT * FROM "{empty}"')
            return
        if not store.is_local:
            dataset = ds.dataset(
                store.path(table.name),
                filesystem=store.filesystem,
                format="parquet",
                schema=table.schema,
                partitioning=ds.partitioning(
                    pa.schema([table.schema.field(c) for c in table.partition_by]), flavor="hive"
                )
                if table.partition_by
                else None,
            )
            arrow = f"_arrow_{table.name}"
            self.con.register(arrow, dataset)
            self.con.execute(f'CREATE VIEW "{table.name}" AS SELECT * FROM "{arrow}"')
            return
        depth = "/**" if table.partition_by else ""
        glob = f"{store.path(table.name)}{depth}/*.parquet"
        types = self.con.execute(f'DESCRIBE "{empty}"').fetchall()
        duck_type = {name: type_ for name, type_, *_ in types}
        hive_types = ", ".join(f"'{c}': '{duck_type[c]}'" for c in table.partition_by)
        source = (
            f"read_parquet('{_quote(glob)}', union_by_name = true"
            + (f", hive_partitioning = true, hive_types = {{{hive_types}}}" if hive_types else "")
            + ")"
        )
        for attempt in range(_ATTEMPTS):
            try:
                present = {
                    row[0]
                    for row in self.con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
                }
                columns = ", ".join(
                    f'"{c.name}"'
                    if c.name in present
                    else f'CAST(NULL AS {duck_type[c.name]}) AS "{c.name}"'
                    for c in table.columns
                )
                if in_memory:
                    copy = f"_rows_{table.name}"
                    self.con.execute(
                        f'CREATE OR REPLACE TABLE "{copy}" AS SELECT {columns} FROM {source}'
                    )
                    source = f'"{copy}"'
                    columns = "*"
                self.con.execute(f'{create} "{table.name}" AS SELECT {columns} FROM {source}')
                return
            except duckdb.Error as exc:
                if attempt < _ATTEMPTS - 1 and _vanished(exc):
                    continue  # a unit was rewritten into another partition meanwhile
                self.broken[table.name] = _read_error(exc, table.name).message
                self.con.execute(f'{create} "{table.name}" AS SELECT * FROM "{empty}"')
                return

    def lock(self, store: ObjectStore) -> None:
        """No file access outside the lake, no extensions, no setting changes."""
        if store.is_local:
            self.con.execute(f"SET allowed_directories = ['{_quote(store.root)}/']")
        self.con.execute("SET autoinstall_known_extensions = false")
        self.con.execute("SET autoload_known_extensions = false")
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")

    def check_readable(self, names: set[str]) -> None:
        for name in sorted(names & set(self.broken)):
            raise LabellakeError(self.broken[name])

    def execute(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pa.Table:
        try:
            relation = self.con.sql(sql, params=params)
            return relation.to_arrow_table() if relation is not None else pa.table({})
        except duckdb.IOException:
            raise
        except (duckdb.Error, pa.ArrowException) as exc:
            raise _read_error(exc) from exc


def _duck_type(arrow_type: pa.DataType) -> str:
    """The DuckDB spelling of a catalog column's Arrow type."""
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP WITH TIME ZONE" if arrow_type.tz else "TIMESTAMP"
    if pa.types.is_map(arrow_type):
        return f"MAP({_duck_type(arrow_type.key_type)}, {_duck_type(arrow_type.item_type)})"
    if pa.types.is_list(arrow_type):
        return f"{_duck_type(arrow_type.value_type)}[]"
    if pa.types.is_struct(arrow_type):
        fields = ", ".join(f'"{f.name}" {_duck_type(f.type)}' for f in arrow_type)
        return f"STRUCT({fields})"
    return {
        pa.string(): "VARCHAR",
        pa.int32(): "INTEGER",
        pa.int64(): "BIGINT",
        pa.float64(): "DOUBLE",
        pa.bool_(): "BOOLEAN",
    }[arrow_type]


def _vanished(exc: Exception) -> bool:
    return isinstance(exc, duckdb.IOException) and any(text in str(exc) for text in _VANISHED)


def _quote(text: str) -> str:
    return text.replace("'", "''")


def _read_error(exc: Exception, table: str | None = None) -> LabellakeError:
    """A one-line error for the user; a damaged file is named with the fix."""
    message = _one_line(exc)
    found = _FILE_IN_MESSAGE.search(message)
    if found and not isinstance(exc, duckdb.BinderException | duckdb.ParserException):
        where = f"table {table}: " if table else ""
        reason = message.split(": ", 1)[-1].replace(found.group(0), "").replace("File  ", "")
        return LabellakeError(
            f"{where}cannot read {found.group(1)} ({reason.strip()}); the file is damaged: "
            "delete it and re-run the step that wrote it"
        )
    return LabellakeError(f"query failed: {message}")
