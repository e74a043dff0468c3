"""Other labeling tools' files -> the lake, through one reconciled path.

A reader turns one tool's export (CVAT XML, Label Studio JSON, COCO JSON) into
`annotations` rows in chunks, so a large export never sits in memory whole. As
it goes it tells an `ImportLog` how many shapes each input file holds, and why
any of them could not become a row. The loader counts the rows it writes; the
three numbers must agree for every file:

    shapes seen = rows written + shapes explained in etl_errors

A reader counts a shape where it finds it in the input, independently of the
row it builds from it, so a shape dropped by mistake shows up as a difference.


The counting itself lives in `labellake.etl.reconcile`, shared with the
Ground Truth path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import pyarrow as pa

from labellake.etl.reconcile import ImportLog, Problem, Tally

__all__ = ["CHUNK_ROWS", "Chunk", "ImportLog", "Problem", "Reader", "Tally"]

CHUNK_ROWS = 50_000  # rows per chunk a reader hands over: bounded memory, few Arrow calls


@dataclass
class Chunk:
    """Rows a reader produced from one input file: `annotations` rows (catalog schema, or
    a subset of its columns) and, where the format has them, `worker_responses` rows."""

    file: str
    annotations: pa.Table | None = None
    worker_responses: pa.Table | None = None


class Reader(Protocol):
    """Reads one export of another tool into chunks of rows for one job."""

    def __call__(
        self, path: str, stream: BinaryIO, *, job_name: str, batch_id: str | None, log: ImportLog
    ) -> Iterator[Chunk]: ...
