"""Partitioned, atomic, idempotent Parquet writes.

A *unit* is the piece of work that produced some rows (a labeling job, a
batch, a document, a benchmark run). Its rows live in files named after it,
``<table>/<col>=<value>/<unit>.parquet``, so writing a unit again replaces its
files instead of appending a second copy. Each file appears atomically (see
ObjectStore.open_output), and files of the unit's previous version that the new
version no longer has are removed only after every new file is in place.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from labellake.errors import LabellakeError
from labellake.lake.catalog import Table
from labellake.lake.store import ObjectStore

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def _check_name(kind: str, value: str) -> str:
    if not _SAFE_NAME.fullmatch(value):
        raise LabellakeError(
            f"{kind} '{value}' cannot name a lake file: use 1-200 letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        )
    return value


def conform(table: Table, data: pa.Table) -> pa.Table:
    """``data`` with the table's columns, order and types; LabellakeError naming the column.
    A column under its former name (a file written before a rename) takes the new one."""
    renamed = {c.formerly: c.name for c in table.columns if c.formerly is not None}
    if any(name in renamed for name in data.column_names):
        current = set(data.column_names)
        data = data.rename_columns(
            [
                renamed[name] if name in renamed and renamed[name] not in current else name
                for name in data.column_names
            ]
        )
    extra = [name for name in data.column_names if name not in table.schema.names]
    if extra:
        raise LabellakeError(
            f"table {table.name}: unknown column(s) {', '.join(extra)}; "
            f"known columns: {', '.join(table.schema.names)}"
        )
    arrays = []
    for field in table.schema:
        if field.name in data.column_names:
            column = data[field.name]
            if column.type != field.type:
                try:
                    column = column.cast(field.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise LabellakeError(
                        f"table {table.name}, column {field.name}: cannot store {column.type} "
                        f"as {field.type} ({exc})"
                    ) from exc
        else:
            column = pa.nulls(data.num_rows, field.type)
        if not field.nullable and column.null_count:
            raise LabellakeError(
                f"table {table.name}, column {field.name}: {column.null_count} row(s) have no "
                "value, but the column is required"
            )
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=table.schema)


def _partition_value(table: Table, column: str, value: object) -> str:
    if value is None:
        raise LabellakeError(f"table {table.name}: partition column {column} has an empty value")
    return _check_name(f"table {table.name}, partition column {column} value", str(value))


def unit_keys(store: ObjectStore, table: Table, unit: str) -> list[str]:
    """Keys of every file the unit has in the table now."""
    file_name = f"{_check_name('unit', unit)}.parquet"
    return [
        key
        for key in store.list(table.name, suffix=".parquet")
        if key.rsplit("/", 1)[-1] == file_name
    ]


def _split(table: Table, data: pa.Table) -> dict[str, pa.Table]:
    """Rows per partition folder, as ``{'job_name=a': rows, ...}`` ('' when unpartitioned)."""
    if not table.partition_by:
        return {"": data}
    keys = data.select(list(table.partition_by)).group_by(list(table.partition_by)).aggregate([])
    parts: dict[str, pa.Table] = {}
    for combo in keys.to_pylist():
        mask = None
        folder = []
        for column in table.partition_by:
            folder.append(f"{column}={_partition_value(table, column, combo[column])}")
            this = pc.equal(data[column], pa.scalar(combo[column], data.schema.field(column).type))
            mask = this if mask is None else pc.and_(mask, this)
        parts["/".join(folder)] = data.filter(mask)
    return parts


def write_unit(store: ObjectStore, table: Table, unit: str, data: pa.Table) -> list[str]:
    """Replace the unit's rows in ``table`` with ``data``; returns the keys written."""
    data = conform(table, data)
    file_name = f"{_check_name('unit', unit)}.parquet"
    before = set(unit_keys(store, table, unit))
    written = []
    for folder, rows in (_split(table, data) if data.num_rows else {}).items():
        key = "/".join(part for part in (table.name, folder, file_name) if part)
        stored = rows.drop_columns(list(table.partition_by)).cast(table.file_schema)
        with store.open_output(key) as stream:
            pq.write_table(stored, stream, compression="zstd")
        written.append(key)
    for stale in sorted(before - set(written)):
        store.delete(stale)
        store.prune(stale)  # the partition folder it leaves empty
    return written


def write_unit_batches(
    store: ObjectStore, table: Table, unit: str, batches: Iterable[pa.Table]
) -> list[str]:
    """Replace the unit's rows in ``table`` with ``batches``, written as they come, so a
    unit larger than memory can be stored. Every row must fall in one partition folder
    (a job's rows in a table partitioned by job); LabellakeError otherwise."""
    file_name = f"{_check_name('unit', unit)}.parquet"
    before = set(unit_keys(store, table, unit))
    folder: str | None = None
    written: list[str] = []
    with contextlib.ExitStack() as stack:
        parquet: pq.ParquetWriter | None = None
        for batch in batches:
            if batch.num_rows == 0:
                continue
            parts = _split(table, conform(table, batch))
            if len(parts) != 1 or (folder is not None and folder not in parts):
                raise LabellakeError(
                    f"table {table.name}: unit {unit} spans several partitions; write it whole"
                )
            ((folder, rows),) = parts.items()
            if parquet is None:
                key = "/".join(part for part in (table.name, folder, file_name) if part)
                stream = stack.enter_context(store.open_output(key))
                parquet = stack.enter_context(
                    pq.ParquetWriter(stream, table.file_schema, compression="zstd")
                )
                written.append(key)
            parquet.write_table(rows.drop_columns(list(table.partition_by)).cast(table.file_schema))
    for stale in sorted(before - set(written)):
        store.delete(stale)
        store.prune(stale)
    return written


def delete_unit(store: ObjectStore, table: Table, unit: str) -> list[str]:
    """Remove every file of the unit from ``table``; returns the keys removed."""
    removed = unit_keys(store, table, unit)
    for key in removed:
        store.delete(key)
    return removed
