"""The demo: the reference batch (vehicle boxes and lane polylines at level 1, their audits
at level 2) on generated clips, an optional history of earlier batches, sample review
reports for the Documents page and the published benchmark rows.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labellake.errors import LabellakeError
from labellake.lake import Lake, ObjectStore
from labellake.workflows.labeling import formats
from labellake.workflows.labeling.backends import CannotLabel
from labellake.workflows.labeling.intake import ancestor_config
from labellake.workflows.labeling.spec import parse_request
from labellake.workflows.labeling.store import BatchStore
from labellake.workflows.samples import synthetic
from labellake.workflows.samples.review_pdfs import LAYOUTS, write_pdf
from labellake.workflows.samples.synthetic import SampleSet

if TYPE_CHECKING:
    from labellake.workflows.labeling.engine import Engine

SAMPLE_DOCUMENTS = "documents/samples"  # folder of the object store the sample PDFs go to
HISTORY_CLIPS = 8
HISTORY_FRAMES = (12, 24, 48)


def demo_request(batch_id: str, samples: SampleSet, audit_sampling: float = 100) -> dict[str, Any]:
    return {
        "batchId": batch_id,
        "labelingJobs": [
            {
                "jobName": f"{batch_id}-vehicle",
                "jobType": "BATCH",
                "jobModality": "VideoObjectTracking",
                "jobLevel": 1,
                "labelCategoryConfigS3Uri": samples.vehicle_config_uri,
                "inputConfig": {"inputManifestS3Uri": samples.manifest_uri},
            },
            {
                "jobName": f"{batch_id}-lane",
                "jobType": "BATCH",
                "jobModality": "VideoObjectTracking",
                "jobLevel": 1,
                "labelCategoryConfigS3Uri": samples.lane_config_uri,
                "inputConfig": {"inputManifestS3Uri": samples.manifest_uri},
            },
            {
                "jobName": f"{batch_id}-vehicle-audit",
                "jobType": "BATCH",
                "jobModality": "VideoObjectTrackingAudit",
                "jobLevel": 2,
                "inputConfig": {
                    "chainFromJobName": f"{batch_id}-vehicle",
                    "downSamplingRate": audit_sampling,
                },
            },
            {
                "jobName": f"{batch_id}-lane-audit",
                "jobType": "BATCH",
                "jobModality": "VideoObjectTrackingAudit",
                "jobLevel": 2,
                "inputConfig": {
                    "chainFromJobName": f"{batch_id}-lane",
                    "downSamplingRate": audit_sampling,
                },
            },
        ],
    }


def free_demo_id(state: BatchStore) -> str:
    """demo1, demo2, ...: the first id no batch has used."""
    number = 1
    while state.names_taken([f"demo{number}"]):
        number += 1
    return f"demo{number}"


@dataclass(frozen=True)
class Submitted:
    """The demo batch is in; running it comes next."""

    batch_id: str
    clips: int
    frames: int


@dataclass(frozen=True)
class Completed:
    """The demo batch is COMPLETE; ``outputs`` are (level, job name, output manifest URI)."""

    batch_id: str
    seconds: float
    outputs: list[tuple[int, str, str]]


@dataclass(frozen=True)
class HistoryDone:
    """The earlier batches of ``batch_id`` (``batches`` of them, maybe none) are COMPLETE too."""

    batch_id: str
    batches: int


@dataclass(frozen=True)
class Routed:
    """A job the chosen backend cannot label runs on ``backend`` instead, for ``reason``."""

    job_name: str
    backend: str
    reason: str


@dataclass(frozen=True)
class DocumentsIngested:
    documents: int


@dataclass(frozen=True)
class BenchmarksLoaded:
    rows: int


DemoEvent = Submitted | Routed | Completed | HistoryDone | DocumentsIngested | BenchmarksLoaded


def run_demo(
    engine: Engine,
    *,
    batch_id: str | None = None,
    clips: int = 2,
    frames: int = 60,
    history: int = 0,
    if_empty: bool = False,
    actor: str | None = None,
    wait: Callable[[str], str],
    progress: Callable[[DemoEvent], None] = lambda event: None,
    backend: str | None = None,
    other_backend: str | None = "simulated",
) -> str | None:
    """Run the reference batch on ``clips`` generated clips of ``frames`` frames to its end,
    then ``history`` earlier batches, then load the sample documents and the published
    benchmark rows; returns the batch id. ``wait`` drives a batch to its end and returns
    its final status; a batch that ends other than COMPLETE stops the demo. With
    ``if_empty``, a home that already holds a batch is left alone (returns None).

    ``backend`` runs the reference batch's jobs there (the earlier batches stay on the
    deployment's default); a job it cannot label (polylines on Label Studio) runs on
    ``other_backend``, reported as ``Routed``, or is left to be refused when that is None."""
    if engine.orchestrator is not None:
        engine.orchestrator.queue_url  # noqa: B018 - no steps queue: said before anything is written
    if if_empty and engine.state.batches():
        return None
    started = time.monotonic()
    samples = synthetic.generate(
        engine.objects,
        dataset=f"samples/drive-{clips}x{frames}",
        clips=clips,
        frames=frames,
        seed=engine.config.seed,
    )
    batch_id = batch_id or free_demo_id(engine.state)
    request = demo_request(batch_id, samples)
    if backend is not None:
        request["backend"] = backend
        for routed in route_jobs(engine, request, backend, other_backend):
            progress(routed)
    engine.submit(request, actor=actor)
    progress(Submitted(batch_id, clips, frames))
    status = wait(batch_id)
    detail = engine.show(batch_id)
    if status != "COMPLETE":
        raise LabellakeError(f"batch {batch_id} ended {status}: {detail['message']}")
    outputs = [
        (level["level"], job["labelingJobName"], job["jobOutputS3Uri"])
        for level in detail["levels"]
        for job in level["jobLevels"]
    ]
    progress(Completed(batch_id, time.monotonic() - started, outputs))
    for number in range(1, history + 1):
        earlier = synthetic.generate(
            engine.objects,
            dataset=f"samples/history-{number}",
            clips=HISTORY_CLIPS,
            frames=HISTORY_FRAMES[number % len(HISTORY_FRAMES)],
            seed=engine.config.seed + number,
        )
        history_id = f"{batch_id}-history-{number}"
        engine.submit(demo_request(history_id, earlier), actor=actor)
        status = wait(history_id)
        if status != "COMPLETE":
            raise LabellakeError(f"batch {history_id} ended {status}")
    progress(HistoryDone(batch_id, history))
    progress(DocumentsIngested(ingest_sample_documents(engine.objects, engine.lake)))
    progress(BenchmarksLoaded(load_published_benchmarks(engine.lake)))
    return batch_id


def route_jobs(
    engine: Engine, request: dict[str, Any], backend: str, other: str | None
) -> list[Routed]:
    """Give each job ``backend`` cannot label (by its check_labels) the ``other`` backend;
    with no other, leave it for submit to refuse."""
    check = getattr(engine.backends.get(backend), "check_labels", None)
    if check is None or other is None:
        return []
    parsed = parse_request(request)
    routed = []
    for index, job in enumerate(parsed.labeling_jobs):
        uri = ancestor_config(parsed, job) or ""
        config = formats.parse_label_config(engine.read(uri), uri)
        try:
            check(job.job_name, job.job_modality, formats.annotation_type(config))
        except CannotLabel as exc:
            request["labelingJobs"][index]["backend"] = other
            routed.append(Routed(job.job_name, other, exc.reason))
    return routed


def write_sample_documents(folder: Path, docs: int = 1) -> int:
    """Write ``docs`` generated review reports per layout into ``folder`` (which must
    exist), named review-<layout>-<n>.pdf; returns how many were written."""
    for layout in LAYOUTS:
        for seed in range(docs):
            write_pdf(
                folder / f"review-{layout.replace('_', '-')}-{seed + 1}.pdf", layout, seed=seed
            )
    return len(LAYOUTS) * docs


def ingest_sample_documents(objects: ObjectStore, lake: Lake) -> int:
    """One sample review report per layout, ingested for the Documents page; kept in the
    object store's documents/samples when it is local. Returns the documents ingested."""
    from labellake.workflows.documents.pipeline import Options, find_sources, ingest

    with contextlib.ExitStack() as stack:
        if objects.is_local:
            folder = Path(objects.path(SAMPLE_DOCUMENTS))
        else:  # the PDFs are made here; their paragraphs go to the lake on S3
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        folder.mkdir(parents=True, exist_ok=True)
        write_sample_documents(folder)
        return len(ingest(find_sources([str(folder)]), lake, Options()))


def load_published_benchmarks(lake: Lake) -> int:
    """The reference's published rows into benchmark_results (replacing them); returns
    how many."""
    from labellake.etl.benchmarks import PUBLISHED_RUN, published_table

    table = published_table()
    lake.write("benchmark_results", PUBLISHED_RUN, table)
    return table.num_rows
