"""Hierarchical deletion of a batch: its levels, jobs, tasks, raw outputs, what backends
keep for each attempt, and its lake rows. A dry run lists all of it and deletes nothing;
an IN_PROGRESS batch is stopped first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labellake.errors import ConflictError
from labellake.workflows.labeling.backends import LabelingBackend
from labellake.workflows.labeling.status import BatchStatus
from labellake.workflows.labeling.store import Event, timestamp

if TYPE_CHECKING:
    from labellake.workflows.labeling.engine import Engine


def delete(
    engine: Engine, batch_id: str, dry_run: bool = False, actor: str | None = None
) -> dict[str, Any]:
    """Hierarchical deletion: the batch, its levels, jobs, tasks, raw outputs and lake rows.

    Every object written for the batch's jobs goes (their processing prefix, and what a
    backend keeps for each attempt elsewhere, such as the simulated job records), and so
    do the folders left empty in the object store and the lake.
    """
    batch = engine._batch(batch_id)
    if batch["status"] == BatchStatus.IN_PROGRESS and not dry_run:
        raise ConflictError(
            f"batch {batch_id} is IN_PROGRESS; stop it first "
            "(labellake batch stop, or POST /batch/stop)"
        )
    jobs = engine.state.jobs(batch_id)
    levels = engine.state.levels(batch_id)
    tasks = engine.state.task_count(batch_id)
    objects = []
    for job in jobs:
        objects += [
            engine.objects.uri(k) for k in engine.objects.list(engine.processing_prefix(job))
        ]
        records = getattr(_backend_named(engine, job), "records", None)
        if records is not None:
            for job_id in _backend_job_ids(engine, job):
                objects += records(job_id)
    lake_files = []
    for table in engine.lake.tables.values():
        units = (
            [batch_id]
            if table.unit == "batch"
            else ([job["job_name"] for job in jobs] if table.unit == "job" else [])
        )
        for unit in units:
            lake_files += [
                f
                for f in engine.lake.files(table.name)
                if f.rsplit("/", 1)[-1] == f"{unit}.parquet"
            ]
    plan = {
        "batchId": batch_id,
        "dryRun": dry_run,
        "levels": [level["level"] for level in levels],
        "jobs": [job["job_name"] for job in jobs],
        "tasks": tasks,
        "objects": objects,
        "lakeFiles": lake_files,
    }
    if dry_run:
        return plan
    for table in engine.lake.tables.values():
        if table.unit == "batch":
            engine.lake.delete(table.name, batch_id)
        elif table.unit == "job":
            for job in jobs:
                engine.lake.delete(table.name, job["job_name"])
    for job in jobs:
        engine.objects.delete_prefix(engine.processing_prefix(job))
        delete_records = getattr(_backend_named(engine, job), "delete_records", None)
        if delete_records is not None:
            for job_id in _backend_job_ids(engine, job):
                delete_records(job_id)
        forget = getattr(engine.backends.get(job.get("backend") or ""), "forget", None)
        if forget is not None:
            forget(job["job_name"])
    engine.state.delete_batch(
        batch_id,
        [job["job_name"] for job in jobs],
        timestamp(engine.clock()),
        Event(
            "BatchDeleted",
            batch_id=batch_id,
            actor=actor,
            payload={k: v for k, v in plan.items() if k != "dryRun"},
        ),
    )
    return plan


def _backend_named(engine: Engine, job: dict[str, Any]) -> LabelingBackend | None:
    """The job's backend, or None where this deployment lacks it (deleting still works)."""
    return engine.backends.get(job.get("backend") or engine.backend.name)


def _backend_job_ids(engine: Engine, job: dict[str, Any]) -> list[str]:
    """The backend's name of every attempt of the job (``<job>``, ``<job>-2``, ...)."""
    return [
        engine.backend_job_id({**job, "attempt": attempt})
        for attempt in range(1, max(job["attempt"] or 1, 1) + 1)
    ]
