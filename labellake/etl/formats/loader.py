"""Loading one export of another labeling tool into the lake as one job.

The file is read by its format's reader in chunks; the rows go through the same
staging, QA checks, summaries and reconciliation as a Ground Truth job, keyed by
the job's name, so importing the file again replaces its rows and an unchanged file
(same fingerprint) is skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import pyarrow as pa

from labellake.aws_clients import AwsTarget, store_options
from labellake.errors import LabellakeError
from labellake.etl import qa
from labellake.etl.formats import Chunk, ImportLog, Reader
from labellake.etl.jobs import (
    LoadReport,
    StoredJob,
    loaded_fingerprint,
    store_job,
)
from labellake.etl.staging import StagedAnnotations, staging_folder
from labellake.lake import Lake, get_table
from labellake.lake.store import locate

# The name a user types -> (module, reader function) under labellake.etl.formats.
READERS = {
    "cvat": ("cvat", "read_cvat"),
    "labelstudio": ("labelstudio", "read_labelstudio"),
    "coco": ("coco", "read_coco"),
}


def reader_of(fmt: str) -> Reader:
    """The reader of ``fmt``; LabellakeError listing the formats otherwise."""
    if fmt not in READERS:
        raise LabellakeError(f"unknown format '{fmt}'; known formats: {', '.join(READERS)}")
    module, name = READERS[fmt]
    reader: Reader = getattr(import_module(f"labellake.etl.formats.{module}"), name)
    return reader


@dataclass(frozen=True)
class ExportFile:
    """One export file to import as one job."""

    uri: str  # a path, file:// or s3:// URI
    fmt: str
    job_name: str
    batch_id: str | None = None
    source: str | None = None  # what the lake records it came from (default: uri)

    @property
    def named(self) -> str:
        return self.source or self.uri


def job_name_of(uri: str, given: str | None) -> str:
    """``given``, else the file's name without its extension, checked as a job name."""
    from labellake.etl.imports import JOB_NAME

    name = given or uri.rstrip("/").rsplit("/", 1)[-1].split(".", 1)[0]
    if not JOB_NAME.fullmatch(name):
        source = "--job-name" if given else f"the file name of {uri}"
        raise LabellakeError(
            f"{source} cannot name a job ('{name}'): use 1-200 letters, digits, '.', '_' or "
            "'-', starting with a letter or digit; pass --job-name NAME"
        )
    return name


def _fingerprint(open_stream: Callable[[], pa.NativeFile]) -> str:
    digest = hashlib.sha256()
    with open_stream() as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def source_format(fmt: str, staged: StagedAnnotations) -> str:
    """The format recorded in etl_loads: CVAT's video and image layouts apart."""
    if fmt != "cvat":
        return fmt
    with staged.duckdb() as con:
        staged.view(con)
        tracked = con.execute("SELECT count(*) FROM annotations WHERE keyframe IS NOT NULL")
        return "cvat-video" if tracked.fetchone()[0] else "cvat-images"  # type: ignore[index]


def load_export(
    export: ExportFile,
    lake: Lake,
    *,
    aws: AwsTarget | None = None,
    qa_config: qa.QaConfig | None = None,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
    **reader_options: object,
) -> LoadReport:
    """Import one export file as the job ``export.job_name``; ``progress`` is told the
    rows read so far. ``reader_options`` go to the format's reader (a video's size, say)."""
    reader = reader_of(export.fmt)
    if "://" not in export.uri and not Path(export.uri).is_file():
        raise LabellakeError(f"{export.uri} does not exist or is not a file; check the path")
    store, key = locate(export.uri, **store_options(aws))
    if not store.exists(key):
        raise LabellakeError(f"{export.uri} does not exist; check the path")
    report = LoadReport(export.job_name, source_format=export.fmt)
    stamp = _fingerprint(lambda: store.open_input(key))
    if not force and loaded_fingerprint(lake, export.job_name) == stamp:
        report.skipped = True
        return report
    log = report.log
    responses: list[pa.Table] = []
    with staging_folder() as folder:
        staged = StagedAnnotations(folder)
        # A seekable file: readers that need two passes (COCO's images, then its boxes)
        # rewind it instead of copying it.
        with store.filesystem.open_input_file(store.path(key)) as stream:
            for chunk in _chunks(reader, export, stream, log, reader_options):
                if chunk.annotations is not None:
                    log.wrote(chunk.file, staged.add(_owned(chunk.annotations, export)))
                if chunk.worker_responses is not None and chunk.worker_responses.num_rows:
                    responses.append(_owned(chunk.worker_responses, export))
                if progress:
                    progress(staged.rows)
        report.source_format = source_format(export.fmt, staged)
        store_job(
            lake,
            StoredJob(
                job_name=export.job_name,
                batch_id=export.batch_id,
                source=export.named,
                fingerprint=stamp,
                audits=None,
                seen=[],
            ),
            staged,
            {
                "labels": _labels(staged, export, report.source_format),
                "worker_responses": pa.concat_tables(responses)
                if responses
                else get_table("worker_responses").empty(),
                "worker_events": get_table("worker_events").empty(),
            },
            report,
            qa_config,
        )
    return report


def _chunks(
    reader: Reader,
    export: ExportFile,
    stream: pa.NativeFile,
    log: ImportLog,
    options: dict[str, object],
) -> Iterator[Chunk]:
    yield from reader(  # type: ignore[call-arg]
        export.named, stream, job_name=export.job_name, batch_id=export.batch_id, log=log, **options
    )


def _owned(rows: pa.Table, export: ExportFile) -> pa.Table:
    """``rows`` stamped with the job and batch they are imported as."""
    n = rows.num_rows
    for column, value in (("job_name", export.job_name), ("batch_id", export.batch_id)):
        array = pa.array([value] * n, pa.string())
        if column in rows.column_names:
            rows = rows.set_column(rows.column_names.index(column), column, array)
        else:
            rows = rows.append_column(column, array)
    return rows


def _labels(staged: StagedAnnotations, export: ExportFile, fmt: str) -> pa.Table:
    """One `labels` row per data object the export labeled."""
    with staged.duckdb() as con:
        staged.view(con)
        refs = con.sql("SELECT DISTINCT source_ref FROM annotations ORDER BY 1").to_arrow_table()
    n = refs.num_rows
    return pa.table(
        {
            "batch_id": pa.array([export.batch_id] * n, pa.string()),
            "job_name": pa.array([export.job_name] * n, pa.string()),
            "source_ref": refs["source_ref"],
            "label_attribute": pa.array([export.job_name] * n, pa.string()),
            "metadata_job_name": pa.array([export.job_name] * n, pa.string()),
            "type": pa.array([fmt] * n, pa.string()),
        }
    )
