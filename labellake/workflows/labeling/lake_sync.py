"""Keeping the lake up to date with what the engine's jobs produce.

After each job completes its output is loaded (labels, annotations, worker
metrics, QA findings); when a batch finishes every one of its jobs is checked
again, so a load lost to a crash is made up for. Loads are keyed per job and
skipped when the job's output manifest has not changed.
"""

from __future__ import annotations

import logging

from labellake.etl.jobs import JobOutput, LoadReport, load_job
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.labeling.status import LabelingJobStatus

log = logging.getLogger(__name__)


def job_output(job: dict[str, object]) -> JobOutput:
    return JobOutput(
        job_name=str(job["job_name"]),
        batch_id=str(job["batch_id"]),
        output_manifest_uri=str(job["output_manifest_uri"]),
        audits=str(job["chain_from"]) if job.get("chain_from") else None,
    )


def load_completed_job(engine: Engine, job_name: str) -> LoadReport | None:
    job = engine.state.job(job_name)
    if job is None or job["status"] != LabelingJobStatus.COMPLETE or not job["output_manifest_uri"]:
        return None
    report = load_job(job_output(job), engine.lake, aws=engine.config.aws)
    if report.problems:
        log.warning(
            "job %s loaded with %d problem(s); see the etl_errors table",
            job_name,
            len(report.problems),
        )
    return report


def load_batch(engine: Engine, batch_id: str) -> list[LoadReport]:
    reports = []
    for job in engine.state.jobs(batch_id):
        report = load_completed_job(engine, job["job_name"])
        if report is not None:
            reports.append(report)
    return reports


def completed_jobs(engine: Engine) -> list[JobOutput]:
    """Every completed job of every batch, for `labellake etl run`."""
    outputs = []
    for batch in engine.state.batches():
        for job in engine.state.jobs(batch["batch_id"]):
            if job["status"] == LabelingJobStatus.COMPLETE and job["output_manifest_uri"]:
                outputs.append(job_output(job))
    return outputs


def install(engine: Engine) -> Engine:
    engine.on_job_complete.append(load_completed_job)
    engine.on_complete.append(load_batch)
    return engine
