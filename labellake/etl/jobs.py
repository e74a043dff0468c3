"""Loading one labeling job's Ground Truth output into the lake, keyed per job.

A job's output is its augmented output manifest, the SeqLabel files it refers
to, its worker-response files and (when present) its worker activity events.
Everything a job produced is written under the job's name as the unit, so
loading it again replaces its rows; a job whose output manifest has not
changed since it was loaded (same fingerprint) is skipped. What cannot be read
is recorded in `etl_errors` and the rest still loads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import posixpath
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from labellake.aws_clients import AwsTarget, store_options
from labellake.errors import LabellakeError, NotFoundError
from labellake.etl import labeling, qa, stats, workers
from labellake.etl.reconcile import ImportLog, Tally
from labellake.etl.staging import StagedAnnotations, staging_folder
from labellake.lake import Lake, ObjectStore, get_table, writer
from labellake.lake.store import read_uri

# Ground Truth's layout under a job's output prefix.
MANIFEST = "manifests/output/output.manifest"
WORKER_RESPONSES = "annotations/worker-response"
WORKER_ACTIVITY = "worker-activity"  # events copied from CloudWatch (not written by Ground Truth)
BATCH_FILES = 64  # SeqLabel files parsed together: bounded memory, few Arrow calls


@dataclass
class JobOutput:
    """Where one job's output is."""

    job_name: str
    output_manifest_uri: str
    batch_id: str | None = None
    audits: str | None = None  # the job it chains from; read off the manifest when not given
    uri_map: dict[str, str] = field(default_factory=dict)  # s3://bucket/prefix -> /local/dir

    @property
    def root_uri(self) -> str:
        """<prefix>/<job> from <prefix>/<job>/manifests/output/output.manifest."""
        root = self.output_manifest_uri
        for _ in range(3):
            root = root.rsplit("/", 1)[0]
        return root

    def resolve(self, uri: str) -> str:
        return resolve(uri, self.uri_map)


def resolve(uri: str, uri_map: dict[str, str]) -> str:
    """``uri`` read from its local copy, where ``uri_map`` (s3://bucket/prefix -> /local/dir,
    the --map option) has one."""
    for prefix, local in uri_map.items():
        if uri.startswith(prefix):
            return local.rstrip("/") + "/" + uri[len(prefix) :].lstrip("/")
    return uri


@dataclass
class LoadReport:
    job_name: str
    skipped: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    log: ImportLog = field(default_factory=ImportLog)
    source_format: str = "groundtruth"

    @property
    def problems(self) -> list[labeling.Problem]:
        return self.log.problems

    @property
    def loaded_anything(self) -> bool:
        return self.skipped or any(self.counts.get(t, 0) for t in ("labels", "annotations"))

    @property
    def lost(self) -> list[Tally]:
        """Input files whose shapes are neither all written nor all explained."""
        return [] if self.skipped else self.log.unexplained


class SideReads:
    """Reads of files beside the labels (frame-size sidecars, images) that may live in a
    bucket this machine cannot reach: the first failure to reach a bucket is recorded once,
    and the bucket is not asked again for the rest of the run."""

    def __init__(self, read: Callable[[str], bytes], log: ImportLog) -> None:
        self._read = read
        self._log = log
        self.unreachable: set[str] = set()

    def __call__(self, uri: str) -> bytes | None:
        place = location(uri)
        if place in self.unreachable:
            return None
        try:
            return self._read(uri)
        except NotFoundError:
            return None  # the place answered: this one file is not there
        except (LabellakeError, OSError) as exc:
            if place is None:
                return None
            self.unreachable.add(place)
            self._log.note(
                place,
                None,
                f"cannot read from {place} ({type(exc).__name__}); frame sizes there are left "
                f"unknown and it was not asked again; pass --map {place}=DIR to read a copy",
            )
            return None


def location(uri: str) -> str | None:
    """The bucket of an s3:// URI (s3://bucket); None for local files, which fail fast."""
    if not uri.startswith("s3://"):
        return None
    return "s3://" + uri[len("s3://") :].split("/", 1)[0]


def fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def loaded_fingerprint(lake: Lake, job_name: str) -> str | None:
    rows = lake.read_unit("etl_loads", job_name)
    return rows.column("fingerprint")[0].as_py() if rows.num_rows else None


def load_job(
    job: JobOutput,
    lake: Lake,
    *,
    aws: AwsTarget | None = None,
    qa_config: qa.QaConfig | None = None,
    force: bool = False,
    reader: Callable[[str], bytes] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LoadReport:
    """Load one job's output into the lake; returns what was written and what failed;
    ``progress`` is told how many of its SeqLabel files are read (done, total).

    The job's shapes pass through a staging file on local disk (`StagedAnnotations`), so
    memory stays flat however large the job is.
    """
    where = store_options(aws)
    read = reader or (lambda uri: read_uri(job.resolve(uri), **where))
    report = LoadReport(job.job_name)
    log = report.log
    try:
        manifest_bytes = read(job.output_manifest_uri)
    except (LabellakeError, OSError) as exc:
        log.note(job.output_manifest_uri, None, str(exc))
        write_errors(lake, job.job_name, report.problems)
        return report
    stamp = fingerprint(manifest_bytes)
    if not force and loaded_fingerprint(lake, job.job_name) == stamp:
        report.skipped = True
        return report
    lines, problems = labeling.read_manifest(
        manifest_bytes.decode("utf-8", "replace"), job.output_manifest_uri
    )
    del manifest_bytes
    log.problems += problems
    labels = labeling.labels_table(lines, job.job_name, job.batch_id)
    with staging_folder() as folder:
        staged = StagedAnnotations(folder)
        rows = labeling.AnnotationRows(sink=staged.add)
        refs, _ = labeling.job_annotations(
            lines, job.job_name, job.batch_id, rows, job.output_manifest_uri, log
        )
        rows.flush()
        _flatten_refs(job, refs, read, SideReads(read, log), report, staged, progress)
        store_job(
            lake,
            StoredJob(
                job_name=job.job_name,
                batch_id=job.batch_id,
                source=job.output_manifest_uri,
                fingerprint=stamp,
                audits=job.audits or audited_job(labels, job.job_name),
                seen=_seen(labels, job.job_name),
            ),
            staged,
            {
                "labels": labels,
                "worker_responses": _worker_responses(job, lines, read, aws, report),
                "worker_events": _worker_events(job, read, aws, report),
            },
            report,
            qa_config,
        )
    return report


@dataclass(frozen=True)
class StoredJob:
    """What etl_loads says of a job beside its counts."""

    job_name: str
    batch_id: str | None
    source: str  # the file it was loaded from
    fingerprint: str
    audits: str | None  # the job it audits, compared in audit_stats
    seen: list[str | None]  # the data objects it labeled itself


def store_job(
    lake: Lake,
    job: StoredJob,
    staged: StagedAnnotations,
    tables: dict[str, pa.Table],
    report: LoadReport,
    qa_config: qa.QaConfig | None = None,
) -> None:
    """Write a loaded job's tables: its staged annotations, what is derived from them (QA
    findings, summaries, the audit comparison), ``tables`` as given, its etl_errors and,
    last, its etl_loads row, which marks the load complete."""
    findings = [qa.run_checks(group, qa_config) for group in staged.by_data_object()] or [
        get_table("qa_findings").empty()
    ]
    with staged.duckdb() as con:
        staged.view(con)
        summaries = stats.annotation_stats_in(con)
        comparison = _audit_stats(lake, job, staged, con)
    written = lake.write_batches("annotations", job.job_name, staged.batches())
    del written
    report.counts["annotations"] = staged.rows
    outputs = {
        **tables,
        "qa_findings": pa.concat_tables(findings),
        "annotation_stats": summaries,
        "audit_stats": comparison,
    }
    for table, data in outputs.items():
        lake.write(table, job.job_name, data)
        report.counts[table] = data.num_rows
    report.counts = {
        name: report.counts[name]
        for name in (
            "labels",
            "annotations",
            "worker_responses",
            "worker_events",
            "qa_findings",
            "annotation_stats",
            "audit_stats",
        )
        if name in report.counts
    }
    write_errors(lake, job.job_name, report.problems)
    report.counts["errors"] = len(report.problems)
    write_load(lake, job, report)
    _refresh_audits_of(lake, job.job_name, staged)


def write_load(lake: Lake, job: StoredJob, report: LoadReport) -> None:
    """The job's etl_loads row: what it wrote, and its reconciliation per input file."""
    log = report.log
    lake.write(
        "etl_loads",
        job.job_name,
        pa.Table.from_pylist(
            [
                {
                    "job_name": job.job_name,
                    "batch_id": job.batch_id,
                    "source": job.source,
                    "fingerprint": job.fingerprint,
                    "audits": job.audits,
                    "loaded_at": dt.datetime.now(dt.UTC),
                    **report.counts,
                    "source_format": report.source_format,
                    "shapes_seen": log.seen,
                    "shapes_explained": log.explained,
                    "files": log.rows(),
                }
            ],
            schema=get_table("etl_loads").schema,
        ),
    )


def audited_job(labels: pa.Table, job_name: str) -> str | None:
    """The job an audit job chains from, read off its output manifest: of the other jobs'
    label attributes on its lines, the newest (a level-3 line carries levels 1 and 2)."""
    others = [
        (row["creation_date"], row["metadata_job_name"])
        for row in labels.select(["metadata_job_name", "creation_date"]).to_pylist()
        if row["metadata_job_name"] is not None
        and not labeling.same_job(row["metadata_job_name"], job_name)
    ]
    dated = [other for other in others if other[0] is not None]
    if dated:
        return max(dated)[1]
    return others[-1][1] if others else None


def _seen(labels: pa.Table, job_name: str) -> list[str | None]:
    """The data objects the job itself labeled (after downsampling or QA routing): the
    lines its metadata names it on, else those of the manifest's newest label attribute
    (a job loaded under another name than Ground Truth's)."""
    own = labels.filter(pc.equal(pc.utf8_lower(labels["metadata_job_name"]), job_name.casefold()))
    if own.num_rows == 0 and labels.num_rows:
        dated = labels.filter(pc.is_valid(labels["creation_date"]))
        pool = dated if dated.num_rows else labels
        newest = pool.sort_by([("creation_date", "descending"), ("line_no", "descending")])
        attribute = newest["label_attribute"][0]
        own = labels.filter(pc.equal(labels["label_attribute"], attribute))
    return own.column("source_ref").to_pylist()


@contextlib.contextmanager
def unit_view(
    lake: Lake, table: str, unit: str, folder: Path, con: duckdb.DuckDBPyConnection
) -> Iterator[str]:
    """A DuckDB table expression in ``con`` reading ``unit``'s rows of ``table`` from its
    Parquet files, without loading them into memory (copied to ``folder`` first when the
    lake is not on local disk)."""
    declared = lake.table(table)
    keys = writer.unit_keys(lake.store, declared, unit)
    if not keys:
        con.register(f"no_{table}", declared.file_schema.empty_table())
        yield f"no_{table}"
        return
    paths = []
    for index, key in enumerate(keys):
        if lake.store.is_local:
            paths.append(lake.store.path(key))
            continue
        local = folder / f"{table}-{unit}-{index}.parquet"
        with lake.store.open_input(key) as source, local.open("wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
        paths.append(str(local))
    listed = ", ".join("'" + path.replace("'", "''") + "'" for path in paths)
    yield f"read_parquet([{listed}])"


def _audit_stats(
    lake: Lake, job: StoredJob, staged: StagedAnnotations, con: duckdb.DuckDBPyConnection
) -> pa.Table:
    if job.audits is None:
        return get_table("audit_stats").empty()
    with unit_view(lake, "annotations", job.audits, staged.folder, con) as audited:
        con.execute(f"CREATE OR REPLACE VIEW worker AS SELECT * FROM {audited}")
        con.execute("CREATE OR REPLACE VIEW auditor AS SELECT * FROM annotations")
        return stats.audit_stats_in(
            con, job.seen, job_name=job.job_name, audited_job=job.audits, batch_id=job.batch_id
        )


def _refresh_audits_of(lake: Lake, job_name: str, staged: StagedAnnotations) -> None:
    """Recompare the audit jobs already loaded that audit ``job_name``, whose work changed."""
    if not lake.files("etl_loads"):
        return
    loads = lake.scan(
        "SELECT job_name, batch_id FROM etl_loads WHERE lower(audits) = lower(?) "
        "AND lower(job_name) <> lower(?)",
        [job_name, job_name],
    )
    for audit_job, batch_id in zip(
        loads["job_name"].to_pylist(), loads["batch_id"].to_pylist(), strict=True
    ):
        with (
            staged.duckdb() as con,
            unit_view(lake, "annotations", audit_job, staged.folder, con) as auditor,
        ):
            staged.view(con, "worker")
            con.execute(f"CREATE OR REPLACE VIEW auditor AS SELECT * FROM {auditor}")
            lake.write(
                "audit_stats",
                audit_job,
                stats.audit_stats_in(
                    con,
                    _seen(lake.read_unit("labels", audit_job), audit_job),
                    job_name=audit_job,
                    audited_job=job_name,
                    batch_id=batch_id,
                ),
            )


def _flatten_refs(
    job: JobOutput,
    refs: list[labeling.SeqLabelRef],
    read: Callable[[str], bytes],
    side: SideReads,
    report: LoadReport,
    staged: StagedAnnotations,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Annotations of the SeqLabel files into ``staged``, many at a time; odd files one by
    one."""
    log = report.log
    sizes: dict[str | None, tuple[int, int] | None] = {}
    for start in range(0, len(refs), BATCH_FILES):
        if progress is not None:
            progress(start, len(refs))
        files: list[labeling.SeqLabelFile] = []
        for ref in refs[start : start + BATCH_FILES]:
            source = ref.line.source_ref
            try:
                data = read(ref.uri)
            except (LabellakeError, OSError) as exc:
                log.note(ref.uri, None, f"cannot read: {exc}")
                continue
            if source not in sizes:
                sizes[source] = _image_size(source, side)
            files.append(
                labeling.SeqLabelFile(data, source, ref.class_map, sizes[source], uri=ref.uri)
            )
        if not files:
            continue
        try:
            staged.add(labeling.flatten_seqlabels(files, job.job_name, job.batch_id, log))
            continue
        except (pa.ArrowException, ValueError):
            pass  # some file is unusual: take them one by one
        for file in files:
            staged.add(_flatten_one(job, file, log))
    if progress is not None and refs:
        progress(len(refs), len(refs))


def _flatten_one(job: JobOutput, file: labeling.SeqLabelFile, log: ImportLog) -> pa.Table:
    try:
        return labeling.flatten_seqlabels([file], job.job_name, job.batch_id, log)
    except (pa.ArrowException, ValueError):
        pass
    rows = labeling.AnnotationRows()
    log.tally(file.uri)
    try:
        document = json.loads(file.data)
    except json.JSONDecodeError as exc:
        log.note(file.uri, exc.lineno, f"not JSON ({exc.msg}); truncated file?")
        return rows.table()
    try:
        labeling.add_seqlabel(
            rows,
            document,
            job_name=job.job_name,
            batch_id=job.batch_id,
            source_ref=file.source_ref,
            class_map=file.class_map,
            image_size=file.image_size,
            log=log,
            file=file.uri,
        )
    except ValueError as exc:
        log.note(file.uri, None, f"not a SeqLabel file: {exc}")
    log.wrote(file.uri, len(rows))
    return rows.table()


def _image_size(source: str | None, read: SideReads) -> tuple[int, int] | None:
    """The frame size from the clip's ground truth sidecar or sequence file, where known."""
    if not source or not source.endswith("_seq.json"):
        return None
    for candidate in (source[: -len("_seq.json")] + "_gt.json", source):
        data = read(candidate)
        try:
            document = json.loads(data) if data is not None else None
        except ValueError:
            continue
        size = document.get("image_size") if isinstance(document, dict) else None
        if isinstance(size, dict) and size.get("width") and size.get("height"):
            return int(size["width"]), int(size["height"])
    return None


def _worker_responses(
    job: JobOutput,
    lines: list[labeling.ManifestLine],
    read: Callable[[str], bytes],
    aws: AwsTarget | None,
    report: LoadReport,
) -> pa.Table:
    root = job.resolve(job.root_uri)
    try:
        store = ObjectStore.from_uri(root, **store_options(aws))
        keys = store.list(WORKER_RESPONSES, suffix=".json")
    except (LabellakeError, OSError) as exc:
        report.log.note(f"{root}/{WORKER_RESPONSES}", None, str(exc))
        return workers.responses_table([])
    sources = [line.source_ref for line in lines]
    rows: list[dict[str, Any]] = []
    for key in keys:
        # annotations/worker-response/iteration-<n>/<data object index>/<time>.json
        index = posixpath.basename(posixpath.dirname(key))
        uri = store.uri(key)
        try:
            document = json.loads(store.read_bytes(key))
        except (LabellakeError, OSError, ValueError) as exc:
            report.log.note(uri, None, f"cannot read: {exc}")
            continue
        position = int(index) if index.isdigit() else None
        source = sources[position] if position is not None and position < len(sources) else None
        found, problems = workers.response_rows(
            document,
            uri=uri,
            job_name=job.job_name,
            batch_id=job.batch_id,
            data_object_id=index,
            source_ref=source,
        )
        rows += found
        report.log.problems += problems
    return workers.responses_table(rows)


def _worker_events(
    job: JobOutput, read: Callable[[str], bytes], aws: AwsTarget | None, report: LoadReport
) -> pa.Table:
    root = job.resolve(job.root_uri)
    try:
        store = ObjectStore.from_uri(root, **store_options(aws))
        keys = store.list(WORKER_ACTIVITY)
    except (LabellakeError, OSError):
        keys = []
    tables = []
    for key in keys:
        table, problems = workers.events_table(store.read_text(key), store.uri(key), job.job_name)
        report.log.problems += problems
        # Only this job's events: an exported log group may hold other jobs too.
        tables.append(table.filter(pc.equal(table["job_name"], job.job_name)))
    if not tables:
        return get_table("worker_events").empty()
    return pa.concat_tables(tables)


def write_errors(lake: Lake, job_name: str, problems: list[labeling.Problem]) -> None:
    """The job's etl_errors rows, replacing those of its previous load."""
    now = dt.datetime.now(dt.UTC)
    lake.write(
        "etl_errors",
        job_name,
        pa.Table.from_pylist(
            [
                {
                    "job_name": job_name,
                    "file": p.file,
                    "line": p.line,
                    "reason": p.reason,
                    "loaded_at": now,
                    "shapes": p.shapes,
                }
                for p in problems
            ],
            schema=get_table("etl_errors").schema,
        ),
    )
