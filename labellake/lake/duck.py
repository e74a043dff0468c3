"""A DuckDB session over the lake's tables: one view per catalog table, the user-SQL
limits (a timer that interrupts a query past its time, a memory cap with no spilling),
and one-line errors that name a damaged file with the fix instead of echoing DuckDB's
query text.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from labellake.errors import LabellakeError
from labellake.lake.catalog import Column, Table
from labellake.lake.store import ObjectStore

_FILE_IN_MESSAGE = re.compile(r"""['"]([^'"]+\.parquet)['"]""")
ATTEMPTS = 5  # reads retried when a file vanished under them
_VANISHED = ("No files found", "No such file", "Cannot open file")
REPAIR_HINT = "run `labellake lake repair` (it keeps a copy of each damaged file, then rebuilds)"


def column_sql(column: Column, present: set[str], duck_type: dict[str, str]) -> str:
    """The view's expression for ``column`` over files that hold the columns ``present``:
    files written before a rename hold it under its former name."""
    name = f'"{column.name}"'
    former = f'"{column.formerly}"' if column.formerly in present else None
    if column.name in present:
        return f"coalesce({name}, {former}) AS {name}" if former else name
    if former:
        return f"CAST({former} AS {duck_type[column.name]}) AS {name}"
    return f"CAST(NULL AS {duck_type[column.name]}) AS {name}"


class Session:
    """One DuckDB connection with the lake's views."""

    def __init__(self, con: duckdb.DuckDBPyConnection, setup: bool = True) -> None:
        self.con = con
        self.broken: dict[str, str] = {}
        self.signatures: dict[str, Any] = {}  # of the files its views were built from
        # The user-SQL limits, where this session runs user SQL.
        self.memory_limit: str | None = None
        self.timeout_s: float | None = None
        if setup:
            self.con.execute("SET GLOBAL TimeZone = 'UTC'")

    def add_empty_view(self, table: Table, name: str | None = None) -> None:
        """A typed view with no rows (written out in SQL, so every cursor sees it)."""
        columns = ", ".join(
            f'CAST(NULL AS {duck_type(c.type)}) AS "{c.name}"' for c in table.columns
        )
        self.con.execute(
            f'CREATE OR REPLACE VIEW "{name or table.name}" AS SELECT {columns} WHERE false'
        )

    def add_view(
        self, table: Table, store: ObjectStore, replace: bool = False, in_memory: bool = False
    ) -> None:
        """The table's view; with ``in_memory`` its rows are read once into the session."""
        empty = f"_empty_{table.name}"
        self.add_empty_view(table, empty)
        create = "CREATE OR REPLACE VIEW" if replace else "CREATE VIEW"
        has_files = bool(store.list(table.name, suffix=".parquet"))
        if not has_files:
            self.con.execute(f'{create} "{table.name}" AS SELECT * FROM "{empty}"')
            return
        if not store.is_local:
            former = [pa.field(c.formerly, c.type) for c in table.columns if c.formerly is not None]
            dataset = ds.dataset(
                store.path(table.name),
                filesystem=store.filesystem,
                format="parquet",
                schema=pa.schema([*table.schema, *former]),
                partitioning=ds.partitioning(
                    pa.schema([table.schema.field(c) for c in table.partition_by]), flavor="hive"
                )
                if table.partition_by
                else None,
            )
            arrow = f"_arrow_{table.name}"
            self.con.register(arrow, dataset)
            names = set(dataset.schema.names)
            described = self.con.execute(f'DESCRIBE "{empty}"').fetchall()
            types = {name: type_ for name, type_, *_ in described}
            columns = ", ".join(column_sql(c, names, types) for c in table.columns)
            self.con.execute(f'CREATE VIEW "{table.name}" AS SELECT {columns} FROM "{arrow}"')
            return
        depth = "/**" if table.partition_by else ""
        glob = f"{store.path(table.name)}{depth}/*.parquet"
        types = self.con.execute(f'DESCRIBE "{empty}"').fetchall()
        duck_type = {name: type_ for name, type_, *_ in types}
        hive_types = ", ".join(f"'{c}': '{duck_type[c]}'" for c in table.partition_by)
        source = (
            f"read_parquet('{quote(glob)}', union_by_name = true"
            + (f", hive_partitioning = true, hive_types = {{{hive_types}}}" if hive_types else "")
            + ")"
        )
        for attempt in range(ATTEMPTS):
            try:
                present = {
                    row[0]
                    for row in self.con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
                }
                columns = ", ".join(column_sql(c, present, duck_type) for c in table.columns)
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
                if attempt < ATTEMPTS - 1 and vanished(exc):
                    continue  # a unit was rewritten into another partition meanwhile
                self.broken[table.name] = read_error(exc, table.name).message
                self.con.execute(f'{create} "{table.name}" AS SELECT * FROM "{empty}"')
                return

    def limit(self, memory_limit: str, timeout_s: float | None) -> None:
        """The user-SQL limits: a memory cap that spilling to disk cannot get around (set
        before anything is read), and the time after which each query is interrupted."""
        try:
            self.con.execute(f"SET memory_limit = '{quote(memory_limit)}'")
        except duckdb.Error as exc:
            raise LabellakeError(
                f"sql_memory_limit '{memory_limit}' is not a memory size DuckDB takes "
                f"({one_line(exc)}); set it to a size such as '4GB' or '512MB', or a "
                "share of RAM such as '25%' (LABELLAKE_SQL_MEMORY_LIMIT)"
            ) from None
        self.con.execute("SET temp_directory = ''")
        self.memory_limit = memory_limit
        self.timeout_s = timeout_s

    def lock(self, store: ObjectStore) -> None:
        """No file access outside the lake, no extensions, no setting changes."""
        if store.is_local:
            self.con.execute(f"SET allowed_directories = ['{quote(store.root)}/']")
        self.con.execute("SET autoinstall_known_extensions = false")
        self.con.execute("SET autoload_known_extensions = false")
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")

    def check_readable(self, names: set[str]) -> None:
        for name in sorted(names & set(self.broken)):
            raise LabellakeError(self.broken[name])

    def execute(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pa.Table:
        with deadline(self.con, self.timeout_s) as expired:
            try:
                relation = self.con.sql(sql, params=params)
                return relation.to_arrow_table() if relation is not None else pa.table({})
            except duckdb.IOException:
                raise
            except duckdb.InterruptException as exc:
                if expired.is_set():
                    raise LimitReached(
                        f"the query ran longer than {self.timeout_s:g} s and was stopped; "
                        "make it cheaper (filter early, aggregate, add a LIMIT) or raise the "
                        "setting sql_timeout_s (LABELLAKE_SQL_TIMEOUT_S)"
                    ) from None
                raise read_error(exc) from exc
            except duckdb.OutOfMemoryException as exc:
                if self.memory_limit is not None:
                    limit = self.memory_limit + (" of RAM" if self.memory_limit[-1:] == "%" else "")
                    raise LimitReached(
                        f"the query needed more memory than sql_memory_limit ({limit}) and "
                        "was stopped; make it lighter (filter before joining or grouping, add "
                        "a LIMIT) or raise the setting sql_memory_limit "
                        "(LABELLAKE_SQL_MEMORY_LIMIT)"
                    ) from None
                raise read_error(exc) from exc
            except (duckdb.Error, pa.ArrowException) as exc:
                raise read_error(exc) from exc


class LimitReached(LabellakeError):
    """User SQL stopped by sql_timeout_s or sql_memory_limit."""


@contextlib.contextmanager
def deadline(con: duckdb.DuckDBPyConnection, timeout_s: float | None) -> Iterator[threading.Event]:
    """Interrupt ``con``'s query after ``timeout_s`` (DuckDB has no statement timeout);
    the event tells whether it fired."""
    expired = threading.Event()
    if timeout_s is None:
        yield expired
        return

    def interrupt() -> None:
        expired.set()
        with contextlib.suppress(duckdb.Error):  # the query may have just ended
            con.interrupt()

    timer = threading.Timer(timeout_s, interrupt)
    timer.daemon = True
    timer.start()
    try:
        yield expired
    finally:
        timer.cancel()
        timer.join()  # so an interrupt never reaches the connection's next query


def duck_type(arrow_type: pa.DataType) -> str:
    """The DuckDB spelling of a catalog column's Arrow type."""
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP WITH TIME ZONE" if arrow_type.tz else "TIMESTAMP"
    if pa.types.is_map(arrow_type):
        return f"MAP({duck_type(arrow_type.key_type)}, {duck_type(arrow_type.item_type)})"
    if pa.types.is_list(arrow_type):
        return f"{duck_type(arrow_type.value_type)}[]"
    if pa.types.is_struct(arrow_type):
        fields = ", ".join(f'"{f.name}" {duck_type(f.type)}' for f in arrow_type)
        return f"STRUCT({fields})"
    return {
        pa.string(): "VARCHAR",
        pa.int32(): "INTEGER",
        pa.int64(): "BIGINT",
        pa.float64(): "DOUBLE",
        pa.bool_(): "BOOLEAN",
    }[arrow_type]


def vanished(exc: Exception) -> bool:
    return isinstance(exc, duckdb.IOException) and any(text in str(exc) for text in _VANISHED)


def quote(text: str) -> str:
    return text.replace("'", "''")


def read_error(exc: Exception, table: str | None = None) -> LabellakeError:
    """A one-line error for the user; a damaged file is named with the fix."""
    message = one_line(exc)
    found = _FILE_IN_MESSAGE.search(message)
    if found and not isinstance(exc, duckdb.BinderException | duckdb.ParserException):
        where = f"table {table}: " if table else ""
        reason = message.split(": ", 1)[-1].replace(found.group(0), "").replace("File  ", "")
        return LabellakeError(
            f"{where}cannot read {found.group(1)} ({reason.strip()}); the file is damaged: "
            f"{REPAIR_HINT}"
        )
    return LabellakeError(f"query failed: {message}")


def one_line(error: Exception) -> str:
    """DuckDB's message without the echo of the query it appends."""
    return " ".join(str(error).split(" LINE ", 1)[0].split("\nLINE ", 1)[0].split())
