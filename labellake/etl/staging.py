"""One job's annotations on local disk while it loads, so memory stays flat as jobs grow.

Readers hand over rows in chunks; each chunk goes straight to a Parquet file in a
temporary folder. Everything derived from the whole job is then computed from that
file: DuckDB sorts it by data object, track and frame (out of core), the QA checks run
over a few data objects at a time, and the summaries and the audit comparison are
DuckDB queries over the file. The lake receives the sorted file in row batches.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from labellake.lake import get_table
from labellake.lake.writer import conform

GROUP_ROWS = 200_000  # rows of whole data objects handed to the QA checks at once
DUCKDB_MEMORY = "512MB"  # DuckDB spills to the staging folder past this: the peak stays flat


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


class StagedAnnotations:
    """A job's `annotations` rows, written to a local Parquet file as they arrive."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.schema = get_table("annotations").schema
        self._raw = folder / "annotations-raw.parquet"
        self._sorted = folder / "annotations.parquet"
        self._writer: pq.ParquetWriter | None = None
        self.rows = 0

    def add(self, rows: pa.Table) -> int:
        """Append ``rows`` (any subset of the catalog's columns); returns how many."""
        if rows.num_rows == 0:
            return 0
        rows = conform(get_table("annotations"), rows)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._raw, self.schema, compression="zstd")
        self._writer.write_table(rows)
        self.rows += rows.num_rows
        return rows.num_rows

    def finish(self) -> Path:
        """The rows sorted by data object, track and frame, in one Parquet file."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._sorted.exists():
            return self._sorted
        if self.rows == 0:
            pq.write_table(self.schema.empty_table(), self._sorted)
            return self._sorted
        with self.duckdb() as con:
            con.execute(
                f"COPY (SELECT * FROM read_parquet('{_quote(self._raw)}') "
                "ORDER BY source_ref, object_id, frame_no) "
                f"TO '{_quote(self._sorted)}' (FORMAT parquet, COMPRESSION zstd, "
                "ROW_GROUP_SIZE 100000)"
            )
        self._raw.unlink()
        return self._sorted

    @contextlib.contextmanager
    def duckdb(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB connection that spills to the staging folder."""
        con = duckdb.connect()
        try:
            con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
            con.execute(f"SET temp_directory = '{_quote(self.folder / 'spill')}'")
            con.execute("SET preserve_insertion_order = false")
            yield con
        finally:
            con.close()

    def view(self, con: duckdb.DuckDBPyConnection, name: str = "annotations") -> None:
        """``name`` in ``con`` reads the sorted rows."""
        path = _quote(self.finish())
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{path}')")

    def batches(self, rows: int = 65_536) -> Iterator[pa.Table]:
        """The sorted rows, in the catalog's schema, a batch at a time."""
        with pq.ParquetFile(self.finish()) as parquet:
            for batch in parquet.iter_batches(batch_size=rows):
                yield pa.Table.from_batches([batch]).cast(self.schema)

    def by_data_object(self, rows: int | None = None) -> Iterator[pa.Table]:
        """The sorted rows in groups of whole data objects (a data object's rows are never
        split, however many it has) of about ``rows`` (GROUP_ROWS): a group is over it by
        at most one data object's rows."""
        limit = rows or GROUP_ROWS
        pending: list[pa.Table] = []  # rows held from earlier batches
        size = 0
        for batch in self.batches(min(limit, 65_536)):
            taken = 0  # rows of this batch already held or handed over
            ends = _runs(batch["source_ref"])
            for index, end in enumerate(ends):
                start = ends[index - 1] if index else 0
                new_object = start > 0 or not pending or _starts_object(pending, batch, 0)
                if new_object and size + (start - taken) + (end - start) > limit:
                    held = [t for t in (*pending, batch.slice(taken, start - taken)) if t.num_rows]
                    if held:
                        yield pa.concat_tables(held)
                    pending, size, taken = [], 0, start
            pending.append(batch.slice(taken))
            size += batch.num_rows - taken
        if pending:
            yield pa.concat_tables(pending)


def _starts_object(pending: list[pa.Table], batch: pa.Table, start: int) -> bool:
    """Whether the run at ``start`` of ``batch`` begins a new data object (and does not go on
    with the last one held, cut apart by a batch boundary)."""
    last = pending[-1]["source_ref"][-1].as_py()
    return bool(batch["source_ref"][start].as_py() != last)


def _runs(refs: pa.ChunkedArray) -> list[int]:
    """The end of each run of equal values in ``refs`` (the sorted source_refs of a batch)."""
    import numpy as np

    values = refs.to_numpy(zero_copy_only=False)
    if len(values) == 0:
        return []
    changed = np.flatnonzero(values[1:] != values[:-1]) + 1
    return [*changed.tolist(), len(values)]


@contextlib.contextmanager
def staging_folder() -> Iterator[Path]:
    """A temporary folder for one load, removed afterwards whatever happens."""
    folder = Path(tempfile.mkdtemp(prefix="labellake-load-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
