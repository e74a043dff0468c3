"""What an operator does to a batch once it runs: stop it, retry it from its first
unfinished level, or change its downsampling for the chained jobs not yet started. Each
is refused (ConflictError) unless the batch is in a status that allows it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from labellake.errors import ConflictError, LabellakeError
from labellake.workflows.labeling.status import BatchStatus, LabelingJobStatus
from labellake.workflows.labeling.store import Event, timestamp

if TYPE_CHECKING:
    from labellake.workflows.labeling.engine import Engine

RETRYABLE = (BatchStatus.INTERNAL_ERROR, BatchStatus.STOPPED, BatchStatus.VALIDATION_FAIL)


def stop(engine: Engine, batch_id: str, actor: str | None = None) -> None:
    """Stop a running batch: its running jobs are stopped, everything unfinished STOPPED."""
    batch = engine._batch(batch_id)
    if batch["status"] != BatchStatus.IN_PROGRESS:
        raise ConflictError(
            f"batch {batch_id} is {batch['status']}; only a batch that is "
            "IN_PROGRESS can be stopped"
        )
    for job in engine.state.jobs(batch_id):
        if job["status"] == LabelingJobStatus.WAIT_FOR_SMGT_RESPONSE and job["backend_job_id"]:
            engine.backend_of(job).stop_job(job["backend_job_id"])
    now = timestamp(engine.clock())
    engine.state.move_batch(
        batch_id,
        (BatchStatus.IN_PROGRESS,),
        BatchStatus.STOPPED,
        Event("BatchStopped", batch_id=batch_id, actor=actor),
        children=BatchStatus.STOPPED,
        message=f"stopped by {actor or 'a user'}",
        completed_at=now,
        updated_at=now,
    )
    engine.land(batch_id)
    for hook in engine.on_stop:
        hook(engine, batch_id)


def retry(engine: Engine, batch_id: str, actor: str | None = None) -> None:
    """Resume a failed or stopped batch from its first unfinished level.

    Finished jobs are kept; an unfinished job that had started runs again as a new
    backend job (``<job>-<attempt>``).
    """
    batch = engine._batch(batch_id)
    if batch["status"] not in RETRYABLE:
        raise ConflictError(
            f"batch {batch_id} is {batch['status']}; only a batch that is "
            "INTERNAL_ERROR, VALIDATION_FAIL or STOPPED can be retried"
        )
    engine.state.retry_batch(
        batch_id,
        RETRYABLE,
        timestamp(engine.clock()),
        Event("BatchRetried", batch_id=batch_id, actor=actor),
    )
    engine._started(batch_id)


def set_down_sampling_rate(
    engine: Engine, batch_id: str, rate: float, actor: str | None = None
) -> None:
    """Change the downsampling of a running batch for every chained job not yet started."""
    if not 0 <= rate <= 100:
        raise LabellakeError(f"downSamplingRate: {rate} is outside 0-100")
    batch = engine._batch(batch_id)
    if batch["status"] != BatchStatus.IN_PROGRESS:
        raise ConflictError(
            f"batch {batch_id} is {batch['status']}; downSamplingRate can "
            "change only while it is IN_PROGRESS"
        )
    engine.state.set_down_sampling_rate(
        batch_id,
        rate,
        timestamp(engine.clock()),
        Event(
            "DownSamplingRateChanged",
            batch_id=batch_id,
            actor=actor,
            payload={"downSamplingRate": rate},
        ),
    )
