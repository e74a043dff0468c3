"""Loading one labeling job's Ground Truth output into the lake, keyed per job.

A job's output is its augmented output manifest, the SeqLabel files it refers
to, its worker-response files and (when present) its worker activity events.
Everything a job produced is written under the job's name as the unit, so
loading it again replaces its rows; a job whose output manifest has not
changed since it was loaded (same fingerprint) is skipped. What cannot be read
is recorded in `etl_errors` and the rest still loads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from labellake.aws_clients import AwsTarget, store_options
from labellake.errors import LabellakeError
from labellake.etl import labeling, qa, stats, workers
from labellake.lake import Lake, ObjectStore, get_table
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
        for prefix, local in self.uri_map.items():
            if uri.startswith(prefix):
                return local.rstrip("/") + "/" + uri[len(prefix) :].lstrip("/")
        return uri


@dataclass
class LoadReport:
    job_name: str
    skipped: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[labeling.Problem] = field(default_factory=list)

    @property
    def loaded_anything(self) -> bool:
        return self.skipped or any(self.counts.get(t, 0) for t in ("labels", "annotations"))


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
) -> LoadReport:
    """Load one job's output into the lake; returns what was written and what failed."""
    where = store_options(aws)
    read = reader or (lambda uri: read_uri(job.resolve(uri), **where))
    report = LoadReport(job.job_name)
    try:
        manifest_bytes = read(job.output_manifest_uri)
    except (LabellakeError, OSError) as exc:
        report.problems.append(labeling.Problem(job.output_manifest_uri, None, str(exc)))
        _write_errors(lake, job.job_name, report.problems)
        return report
    stamp = fingerprint(manifest_bytes)
    if not force and loaded_fingerprint(lake, job.job_name) == stamp:
        report.skipped = True
        return report
    lines, problems = labeling.read_manifest(
        manifest_bytes.decode("utf-8", "replace"), job.output_manifest_uri
    )
    report.problems += problems
    labels = labeling.labels_table(lines, job.job_name, job.batch_id)
    rows = labeling.AnnotationRows()
    refs, problems = labeling.job_annotations(
        lines, job.job_name, job.batch_id, rows, job.output_manifest_uri
    )
    report.problems += problems
    flattened = _flatten_refs(job, refs, read, report)
    annotations = pa.concat_tables([rows.table(), *flattened])
    responses = _worker_responses(job, lines, read, aws, report)
    events = _worker_events(job, read, aws, report)
    findings = qa.run_checks(annotations, qa_config)
    audits = job.audits or audited_job(labels, job.job_name)
    outputs = {
        "labels": labels,
        "annotations": annotations,
        "worker_responses": responses,
        "worker_events": events,
        "qa_findings": findings,
        "annotation_stats": stats.annotation_stats(annotations),
        "audit_stats": _audit_stats(lake, job, audits, labels, annotations),
    }
    for table, data in outputs.items():
        lake.write(table, job.job_name, data)
        report.counts[table] = data.num_rows
    _write_errors(lake, job.job_name, report.problems)
    report.counts["errors"] = len(report.problems)
    lake.write(
        "etl_loads",
        job.job_name,
        pa.Table.from_pylist(
            [
                {
                    "job_name": job.job_name,
                    "batch_id": job.batch_id,
                    "source": job.output_manifest_uri,
                    "fingerprint": stamp,
                    "audits": audits,
                    "loaded_at": dt.datetime.now(dt.UTC),
                    **report.counts,
                }
            ],
            schema=get_table("etl_loads").schema,
        ),
    )
    _refresh_audits_of(lake, job.job_name, annotations)
    return report


def audited_job(labels: pa.Table, job_name: str) -> str | None:
    """The job an audit job chains from, read off its output manifest: of the other jobs'
    label attributes on its lines, the newest (a level-3 line carries levels 1 and 2)."""
    others = [
        (row["creation_date"], row["metadata_job_name"])
        for row in labels.select(["metadata_job_name", "creation_date"]).to_pylist()
        if row["metadata_job_name"] not in (None, job_name)
    ]
    dated = [other for other in others if other[0] is not None]
    if dated:
        return max(dated)[1]
    return others[-1][1] if others else None


def _seen(labels: pa.Table, job_name: str) -> list[str | None]:
    """The data objects the job itself labeled (after downsampling or QA routing)."""
    own = labels.filter(pc.equal(labels["metadata_job_name"], job_name))
    return own.column("source_ref").to_pylist()


def _audit_stats(
    lake: Lake, job: JobOutput, audits: str | None, labels: pa.Table, annotations: pa.Table
) -> pa.Table:
    if audits is None:
        return get_table("audit_stats").empty()
    return stats.audit_stats(
        annotations,
        lake.read_unit("annotations", audits),
        _seen(labels, job.job_name),
        job_name=job.job_name,
        audited_job=audits,
        batch_id=job.batch_id,
    )


def _refresh_audits_of(lake: Lake, job_name: str, annotations: pa.Table) -> None:
    """Recompare the audit jobs already loaded that audit ``job_name``, whose work changed."""
    if not lake.files("etl_loads"):
        return
    loads = lake.scan(
        "SELECT job_name, batch_id FROM etl_loads WHERE audits = ? AND job_name <> ?",
        [job_name, job_name],
    )
    for audit_job, batch_id in zip(
        loads["job_name"].to_pylist(), loads["batch_id"].to_pylist(), strict=True
    ):
        lake.write(
            "audit_stats",
            audit_job,
            stats.audit_stats(
                lake.read_unit("annotations", audit_job),
                annotations,
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
    report: LoadReport,
) -> list[pa.Table]:
    """Annotations of the SeqLabel files, many at a time; odd files one by one."""
    sizes: dict[str | None, tuple[int, int] | None] = {}
    tables = []
    for start in range(0, len(refs), BATCH_FILES):
        files: list[tuple[labeling.SeqLabelRef, labeling.SeqLabelFile]] = []
        for ref in refs[start : start + BATCH_FILES]:
            source = ref.line.source_ref
            try:
                data = read(ref.uri)
            except (LabellakeError, OSError) as exc:
                report.problems.append(labeling.Problem(ref.uri, None, f"cannot read: {exc}"))
                continue
            if source not in sizes:
                sizes[source] = _image_size(source, read)
            files.append((ref, labeling.SeqLabelFile(data, source, ref.class_map, sizes[source])))
        if not files:
            continue
        try:
            tables.append(
                labeling.flatten_seqlabels([f for _, f in files], job.job_name, job.batch_id)
            )
            continue
        except (pa.ArrowException, ValueError):
            pass  # some file is unusual: take them one by one
        for ref, file in files:
            tables.append(_flatten_one(job, ref, file, report))
    return tables


def _flatten_one(
    job: JobOutput, ref: labeling.SeqLabelRef, file: labeling.SeqLabelFile, report: LoadReport
) -> pa.Table:
    try:
        return labeling.flatten_seqlabels([file], job.job_name, job.batch_id)
    except (pa.ArrowException, ValueError):
        pass
    rows = labeling.AnnotationRows()
    try:
        labeling.add_seqlabel(
            rows,
            json.loads(file.data),
            job_name=job.job_name,
            batch_id=job.batch_id,
            source_ref=file.source_ref,
            class_map=file.class_map,
            image_size=file.image_size,
        )
    except json.JSONDecodeError as exc:
        report.problems.append(labeling.Problem(ref.uri, exc.lineno, f"not JSON ({exc.msg})"))
    except ValueError as exc:
        report.problems.append(labeling.Problem(ref.uri, None, f"not a SeqLabel file: {exc}"))
    return rows.table()


def _image_size(source: str | None, read: Callable[[str], bytes]) -> tuple[int, int] | None:
    """The frame size from the clip's ground truth sidecar or sequence file, where known."""
    if not source or not source.endswith("_seq.json"):
        return None
    for candidate in (source[: -len("_seq.json")] + "_gt.json", source):
        try:
            document = json.loads(read(candidate))
        except (LabellakeError, OSError, ValueError):
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
        report.problems.append(labeling.Problem(f"{root}/{WORKER_RESPONSES}", None, str(exc)))
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
            report.problems.append(labeling.Problem(uri, None, f"cannot read: {exc}"))
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
        report.problems += problems
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
        report.problems += problems
        # Only this job's events: an exported log group may hold other jobs too.
        tables.append(table.filter(pc.equal(table["job_name"], job.job_name)))
    if not tables:
        return get_table("worker_events").empty()
    return pa.concat_tables(tables)


def _write_errors(lake: Lake, job_name: str, problems: list[labeling.Problem]) -> None:
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
                }
                for p in problems
            ],
            schema=get_table("etl_errors").schema,
        ),
    )
