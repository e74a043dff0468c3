"""The curated zone: catalog tables as Parquet files, queried through DuckDB.

Locally each query session is a fresh in-memory DuckDB with one view per
table over ``read_parquet(..., hive_partitioning=true)``. There is no
persistent DuckDB file, so any number of processes read while another writes.
On S3 the views go over Arrow datasets instead (DuckDB's httpfs extension is
not assumed to be installable); Athena is the engine at scale.

User SQL runs in a DuckDB of its own, under two limits: a time limit
(``sql_timeout_s``; DuckDB has none, so a timer interrupts the query) and a
memory cap (``sql_memory_limit``, 25% of RAM unless given) with spilling to
disk turned off, so the cap is a cap. Either ends the query with a
LabellakeError naming the setting; the trusted queries of the portal and the
ETL never share that cap.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from labellake.errors import DamagedLakeError, LabellakeError, NotFoundError
from labellake.lake import catalog, writer
from labellake.lake.athena import AthenaEngine
from labellake.lake.catalog import Table
from labellake.lake.duck import (
    ATTEMPTS,
    REPAIR_HINT,
    LimitReached,
    Session,
    duck_type,
    one_line,
    read_error,
    vanished,
)
from labellake.lake.glue import GlueCatalog
from labellake.lake.readonly import check_user_sql, referenced_tables
from labellake.lake.sqlworkers import LakeSpec, SqlWorkers
from labellake.lake.store import ObjectStore

IN_MEMORY_BYTES = 32 << 20  # tables with fewer Parquet bytes are held in memory
# Errors that a query causes by itself, whatever the files hold: no reason to look for damage.
_NOT_DAMAGE = (
    duckdb.BinderException,
    duckdb.CatalogException,
    duckdb.ConversionException,
    duckdb.InterruptException,
    duckdb.NotImplementedException,
    duckdb.OutOfMemoryException,
    duckdb.OutOfRangeException,
    duckdb.ParserException,
    duckdb.PermissionException,
    duckdb.SyntaxException,
    duckdb.TypeMismatchException,
)
DEFAULT_SQL_MEMORY_LIMIT = "25%"  # of RAM, in DuckDB's own notation


class Lake:
    """Catalog tables under one root URI: atomic writes and read-only SQL."""

    def __init__(
        self,
        store: ObjectStore,
        tables: tuple[Table, ...] = catalog.TABLES,
        views: dict[str, str] | None = None,
        glue: GlueCatalog | None = None,
        athena: AthenaEngine | None = None,
        sql_timeout_s: float | None = None,
        sql_memory_limit: str | None = None,
        isolate_user_sql: bool = False,
    ) -> None:
        """``views`` are named SELECTs over the tables (sql/views), queryable like tables;
        with ``glue``, every table and partition written is registered in that catalog.
        User SQL (``query_user``) is stopped after ``sql_timeout_s`` seconds (None: never)
        and when it needs more than ``sql_memory_limit`` (a DuckDB size such as '4GB' or
        '25%' of RAM; None: 25%); with ``isolate_user_sql`` it runs in worker processes
        that are killed past either limit (servers: the API and the portal)."""
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
        self._shared: Session | None = None
        self._signatures: dict[str, tuple[tuple[str, int, int], ...] | None] = {}
        # User SQL has a DuckDB of its own: its memory cap is per database, and must not
        # starve the portal's own queries.
        self.sql_timeout_s = sql_timeout_s
        self.sql_memory_limit = sql_memory_limit
        self._user_shared: Session | None = None
        self.isolate_user_sql = isolate_user_sql
        self._workers: SqlWorkers | None = None
        self._user_signatures: dict[str, tuple[tuple[str, int, int], ...] | None] = {}
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

    def write_batches(self, table: str, unit: str, batches: Iterable[pa.Table]) -> list[str]:
        """Replace the rows of ``unit`` in ``table`` with ``batches``, streamed to one file
        (atomic, idempotent): for units larger than memory."""
        self.store.ensure_root()
        declared = self.table(table)
        written = writer.write_unit_batches(self.store, declared, unit, batches)
        if self.glue is not None:
            self.glue.register(declared, written)
        return written

    def delete(self, table: str, unit: str) -> list[str]:
        """Remove the unit's files from ``table``, and the partition folders left empty."""
        declared = self.table(table)
        removed = writer.delete_unit(self.store, declared, unit)
        for key in removed:
            self.store.prune(key)
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
            data = self.store.read_bytes(key)
            try:
                stored = pq.read_table(pa.BufferReader(data))
            except (OSError, ValueError, pa.ArrowException) as exc:
                raise self.damage_error({key: _parquet_reason(exc)}) from exc
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

    def damaged_files(
        self, names: Iterable[str] | None = None, deep: bool = False
    ) -> dict[str, str]:
        """The files of these tables (every table by default) that cannot be read: key -> why.

        Each file is fetched and its footer parsed; with ``deep``, every page is decoded
        too. Nothing is remembered: a file put right is good on the next call. A file that
        cannot be fetched at all raises LabellakeError (the store, not the file, is at fault).
        """
        wanted = set(self.tables) if names is None else set(names) & set(self.tables)
        damaged = {}
        for name in sorted(wanted):
            for key in self.files(name):
                reason = _unreadable(self.store, key, deep)
                if reason is not None:
                    damaged[key] = reason
        return damaged

    def damage_error(self, damaged: dict[str, str]) -> DamagedLakeError:
        """One line naming every damaged file (its URI) and the fix."""
        named = "; ".join(
            f"table {key.split('/', 1)[0]}: cannot read {self.store.uri(key)} ({reason})"
            for key, reason in sorted(damaged.items())
        )
        which = "the file is" if len(damaged) == 1 else f"these {len(damaged)} files are"
        return DamagedLakeError(f"{named}; {which} damaged: {REPAIR_HINT}", damaged)

    def _damage_behind(self, error: Exception, names: set[str]) -> DamagedLakeError | None:
        """After a failed read of these tables: their damaged files as the error to raise.

        None when the query failed for a reason of its own, when no file is damaged, or
        when the files cannot even be fetched (the original error says more then)."""
        if isinstance(error, DamagedLakeError):
            return error
        cause = error.__cause__ if isinstance(error, LabellakeError) else error
        if isinstance(cause, _NOT_DAMAGE):
            return None
        try:
            damaged = self.damaged_files(names, deep=True)
        except LabellakeError:
            return None
        return self.damage_error(damaged) if damaged else None

    # -- reads ----------------------------------------------------------------

    @contextlib.contextmanager
    def connect(self, names: set[str] | None = None, user: bool = False) -> Iterator[Session]:
        """An in-memory DuckDB session with a view per table (only ``names``, when given).

        Setting up a view reads the footers of its table's files, so a query sets up only
        the tables it reads; a query that reads one of the lake's views gets everything.
        A ``user`` session runs under the user-SQL limits.
        """
        wanted = set(self.tables) if names is None else {n.lower() for n in names}
        with_views = names is None or bool(wanted & set(self.views))
        if with_views:
            wanted |= set(self.tables)
        con = duckdb.connect(":memory:")
        try:
            session = Session(con)
            if user:
                session.limit(self._memory_limit(), self.sql_timeout_s)
            for table in self.tables.values():
                if table.name in wanted:
                    session.add_view(table, self.store)
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
        if self.isolate_user_sql:
            return self._user_workers().query(sql)
        return self._run(sql, None, user=True)

    def _user_workers(self) -> SqlWorkers:
        with self._lock:
            if self._workers is None:
                spec = LakeSpec(
                    self.store.filesystem,
                    self.store.root,
                    self.store.scheme,
                    tuple(self.tables.values()),
                    self.views,
                    self.sql_timeout_s,
                    self.sql_memory_limit or DEFAULT_SQL_MEMORY_LIMIT,
                )
                self._workers = SqlWorkers(spec)
            return self._workers

    def describe(self, skip_damaged: bool = False) -> list[dict[str, Any]]:
        """Every table with its row count and columns (name, SQL type, description).

        Damaged files raise one DamagedLakeError naming all of them; with ``skip_damaged``
        their tables are listed with ``rows`` None and ``damaged``: {file key: why}.
        """
        described = []
        damaged: dict[str, str] = {}
        with self._session_for(set(self.tables)) as session:
            for table in self.tables.values():
                try:
                    count, types = self._count(session, table)
                    lost: dict[str, str] = {}
                except LabellakeError as exc:
                    damage = self._damage_behind(exc, {table.name})
                    if damage is None:
                        raise
                    damaged.update(damage.damaged)
                    count, lost = None, damage.damaged
                    types = {c.name: duck_type(c.type) for c in table.columns}
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
                        "damaged": lost,
                    }
                )
        if damaged and not skip_damaged:
            raise self.damage_error(damaged)
        return described

    def _count(self, session: Session, table: Table) -> tuple[int, dict[str, str]]:
        """The table's row count and column types, kept while its files are unchanged."""
        session.check_readable({table.name})
        with self._lock:
            signature = self._signatures.get(table.name)
            known = self._described.get(table.name)
        if known is not None and signature is not None and known[0] == signature:
            _, count, types = known
            return count, types
        count = session.execute(f'SELECT count(*) AS n FROM "{table.name}"').column(0)[0].as_py()
        types = dict(
            session.con.execute(
                f'SELECT column_name, column_type FROM (DESCRIBE "{table.name}")'
            ).fetchall()
        )
        if signature is not None:
            with self._lock:
                self._described[table.name] = (signature, count, types)
        return count, types

    def row_counts(self) -> dict[str, int]:
        return {table["name"]: table["rows"] for table in self.describe()}

    def _run(
        self, sql: str, params: list[Any] | dict[str, Any] | None, user: bool = False
    ) -> pa.Table:
        # A file can vanish between listing and reading when its unit is rewritten
        # into another partition; a fresh session sees the new layout.
        names = referenced_tables(sql)
        if names & set(self.views):
            names |= set(self.tables)  # a view may read any table
        for attempt in range(ATTEMPTS):
            with self._session_for(names, user=user) as session:
                try:
                    session.check_readable(names)
                    return session.execute(sql, params)
                except LimitReached:
                    raise  # running it again would only hit the limit again
                except (duckdb.IOException, LabellakeError) as exc:
                    # A file rewritten while it was read fails in many ways (missing, short,
                    # torn); if the table's files changed meanwhile, read the new layout.
                    changed = self._changed(names, session.signatures)
                    if attempt < ATTEMPTS - 1 and (vanished(exc) or changed):
                        self._forget(names)
                        time.sleep(0.01 * 2**attempt)  # let a busy writer finish its rewrite
                        continue
                    damage = self._damage_behind(exc, names)
                    if damage is not None and damage is not exc:
                        raise damage from exc
                    if isinstance(exc, LabellakeError):
                        raise
                    raise read_error(exc) from exc
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
    def _session_for(self, names: set[str], user: bool = False) -> Iterator[Session]:
        """The shared local session (the user-SQL one for ``user``), its views brought up
        to date; a fresh one on S3."""
        if not self.store.is_local:
            with self.connect(names, user=user) as session:
                yield session
            return
        signatures = self._user_signatures if user else self._signatures
        with self._lock:
            shared = self._user_shared if user else self._shared
            if shared is None:
                shared = self._new_shared(user)
                if user:
                    self._user_shared = shared
                else:
                    self._shared = shared
            for name in sorted(names & set(self.tables)):
                signature = self.store.signature(name, suffix=".parquet")
                if signatures.get(name) != signature:
                    shared.broken.pop(name, None)
                    # Small tables are read once into memory: hundreds of small per-job
                    # files cost more to open on every query than to hold.
                    small = sum(size for _, size, _ in signature) <= IN_MEMORY_BYTES
                    shared.add_view(self.tables[name], self.store, replace=True, in_memory=small)
                    if name in shared.broken:
                        # Maybe a file torn by a rewrite during the copy: the next query
                        # builds the view again instead of trusting this failure.
                        signatures.pop(name, None)
                    else:
                        signatures[name] = signature
            cursor = Session(shared.con.cursor(), setup=False)
            cursor.broken = dict(shared.broken)
            cursor.signatures = {n: signatures.get(n) for n in names & set(self.tables)}
            cursor.memory_limit = shared.memory_limit
            cursor.timeout_s = shared.timeout_s
        try:
            yield cursor
        finally:
            cursor.con.close()

    def _new_shared(self, user: bool) -> Session:
        """The shared connection with a view per table (empty until a query reads it)."""
        shared = Session(duckdb.connect(":memory:"))
        try:
            if user:
                shared.limit(self._memory_limit(), self.sql_timeout_s)
            for table in self.tables.values():
                shared.add_empty_view(table)
            for name, select in self.views.items():
                shared.con.execute(f'CREATE VIEW "{name}" AS {select}')
            shared.lock(self.store)
        except BaseException:
            shared.con.close()
            raise
        return shared

    def _memory_limit(self) -> str:
        return self.sql_memory_limit or DEFAULT_SQL_MEMORY_LIMIT

    def _forget(self, names: set[str]) -> None:
        with self._lock:
            for name in names:
                self._signatures.pop(name, None)
                self._user_signatures.pop(name, None)


def _unreadable(store: ObjectStore, key: str, deep: bool) -> str | None:
    """Why the Parquet file at ``key`` cannot be read (its footer; with ``deep``, every
    page), or None if it reads. A file gone meanwhile was rewritten, not damaged.

    The bytes are fetched first, so a store that cannot be reached (LabellakeError) is
    never taken for a damaged file."""
    try:
        data = store.read_bytes(key)
    except NotFoundError:
        return None
    except OSError as exc:
        raise LabellakeError(
            f"cannot fetch {store.uri(key)} ({one_line(exc)}); check that the lake is reachable"
        ) from exc
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        if deep:
            for group in range(parquet.num_row_groups):
                parquet.read_row_group(group)
    except (OSError, ValueError, pa.ArrowException) as exc:
        return _parquet_reason(exc)
    return None


def _parquet_reason(exc: Exception) -> str:
    """pyarrow's complaint about a Parquet file, without the name of the buffer it read
    or the garbage bytes it quotes from the file."""
    text = re.sub(r"^Could not open Parquet input source '[^']*': ", "", one_line(exc))
    text = "".join(char if char.isprintable() else " " for char in text)
    return " ".join(text.split()).rstrip(":") or type(exc).__name__
