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
DUCKDB_MEMORY = "1GB"  # DuckDB spills to the staging folder past this


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

    def by_data_object(self, rows: int = GROUP_ROWS) -> Iterator[pa.Table]:
        """The sorted rows in groups of whole data objects (a data object's rows are never
        split, however many it has), about ``rows`` at a time."""
        pending: list[pa.Table] = []
        size = 0
        for batch in self.batches():
            refs = batch["source_ref"]
            last = refs[-1]
            cut = batch.num_rows
            if size + batch.num_rows >= rows:
                # Hand over what is complete: every row before the batch's last data object.
                same = pa.compute.equal(refs, last) if last.is_valid else refs.is_null()
                first_of_last = batch.num_rows - _trailing_true(same)
                cut = first_of_last
            if cut:
                pending.append(batch.slice(0, cut))
                size += cut
            if cut < batch.num_rows:
                if pending:
                    yield pa.concat_tables(pending)
                pending, size = [batch.slice(cut)], batch.num_rows - cut
        if pending:
            yield pa.concat_tables(pending)


def _trailing_true(mask: pa.ChunkedArray | pa.Array) -> int:
    values = mask.to_numpy(zero_copy_only=False)
    count = 0
    for value in values[::-1]:
        if not value:
            break
        count += 1
    return count


@contextlib.contextmanager
def staging_folder() -> Iterator[Path]:
    """A temporary folder for one load, removed afterwards whatever happens."""
    folder = Path(tempfile.mkdtemp(prefix="labellake-load-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
