"""The batch store: where the engine keeps batches, levels, jobs, their history and
queued notifications. A Protocol with two implementations, ``SqliteBatchStore``
(sqlite_store.py, the embedded default) and ``DynamoBatchStore`` (dynamo_store.py, the
aws profile), which share no code by inheritance; one contract suite
(tests/workflows/labeling/test_batch_store_contract.py) runs against both.

The rules every implementation keeps:
- Each write is all or nothing, and each one that moves a status does so only from the
  status the caller expects, returning False (and changing nothing) when the record is
  elsewhere: a step repeated after a crash, or by a second worker, has no second effect.
- Batch ids and job names are unique in any case, and stay taken once deleted.
- Rows come back as plain dicts of the shapes below (``BATCH_ROW`` ...), the columns of
  the SQLite tables, whatever the implementation keeps them in.
- Records of this host (accounts, the local workforce, leases) live in the store's
  SQLite state db, ``db``, whichever store keeps the batches.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from labellake.workflows.statedb import StateDb

# The row shapes, in column order.
BATCH_ROW = (
    "batch_id",
    "status",
    "request",
    "down_sampling_rate",
    "destination",
    "token",
    "message",
    "error_type",
    "attempt",
    "created_at",
    "updated_at",
    "completed_at",
    "execution_arn",
)
LEVEL_ROW = ("batch_id", "level", "status", "started_at", "completed_at", "task_token")
JOB_ROW = (
    "job_name",
    "batch_id",
    "level",
    "modality",
    "annotation_type",
    "status",
    "chain_from",
    "workteam_arn",
    "label_attribute_name",
    "label_config_uri",
    "source_manifest_uri",
    "input_manifest_uri",
    "output_manifest_uri",
    "down_sampling_rate",
    "backend_job_id",
    "attempt",
    "object_count",
    "message",
    "spec",
    "created_at",
    "started_at",
    "completed_at",
    "updated_at",
    "backend",
)
EVENT_ROW = ("id", "batch_id", "job_name", "kind", "actor", "payload", "created_at")
NOTIFICATION_ROW = (
    "id",
    "event_id",
    "batch_id",
    "url",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "delivered_at",
)


@dataclass(frozen=True)
class Event:
    """An entry of a batch's history, recorded with the state change it describes."""

    kind: str
    batch_id: str | None = None
    job_name: str | None = None
    actor: str | None = None
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class Notice:
    """A message to deliver to each of ``urls`` (webhooks, SNS topics) once recorded."""

    message: dict[str, Any]
    urls: list[str] = field(default_factory=list)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def timestamp(moment: dt.datetime | None = None) -> str:
    return (moment or now()).astimezone(dt.UTC).isoformat(timespec="microseconds")


def parse_timestamp(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


class BatchStore(Protocol):
    """Batches and everything below them; what the engine, the runner, the Step Functions
    worker, notification delivery, the lake sync and repair, the API, the CLI and the
    portal read and change."""

    path: Path  # the SQLite file of ``db``
    db: StateDb  # this host's state db: accounts, the local workforce, leases

    # -- reads ---------------------------------------------------------------------------

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        """The batch (any case of its id), or None."""
        ...

    def batches(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every batch (with ``status``), by creation time and id."""
        ...

    def levels(self, batch_id: str) -> list[dict[str, Any]]:
        """The batch's levels, in order."""
        ...

    def jobs(self, batch_id: str, level: int | None = None) -> list[dict[str, Any]]:
        """The batch's jobs (of ``level``), by level and then as the request lists them."""
        ...

    def job(self, job_name: str) -> dict[str, Any] | None:
        """The job (any case of its name), or None."""
        ...

    def events(self, batch_id: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """History entries (of a batch, of a kind) in the order they happened; ``payload``
        parsed."""
        ...

    def names_taken(self, names: list[str]) -> list[str]:
        """Which of ``names`` (batch ids or job names) exist or once existed, any case."""
        ...

    def task_count(self, batch_id: str) -> int:
        """The data objects of the batch's started jobs."""
        ...

    # -- the engine's state changes ------------------------------------------------------

    def create_batch(
        self,
        batch: dict[str, Any],
        levels: list[dict[str, Any]],
        jobs: list[dict[str, Any]],
        event: Event,
    ) -> None:
        """Record a batch with its levels and jobs; ConflictError when a name is taken."""
        ...

    def move_level(
        self, batch_id: str, level: int, expected: str, status: str, event: Event, **fields: Any
    ) -> bool: ...

    def move_job(
        self,
        job_name: str,
        expected: str,
        status: str,
        event: Event,
        tasks: list[str] | None = None,
        **fields: Any,
    ) -> bool:
        """Move a job; ``tasks`` (one source-ref per data object) replaces its task list."""
        ...

    def move_batch(
        self,
        batch_id: str,
        expected: tuple[str, ...],
        status: str,
        event: Event,
        *,
        children: str | None = None,
        child_message: str | None = None,
        notice: Notice | None = None,
        **fields: Any,
    ) -> bool:
        """Move a batch out of one of the ``expected`` statuses. With ``children``, its
        unfinished levels and jobs move too (jobs keep a message they have, or get
        ``child_message``); ``notice`` is queued for delivery."""
        ...

    def retry_batch(self, batch_id: str, expected: tuple[str, ...], at: str, event: Event) -> bool:
        """Back to IN_PROGRESS: unfinished levels and jobs to PENDING, a job that had
        started on its next attempt."""
        ...

    def set_down_sampling_rate(self, batch_id: str, rate: float, at: str, event: Event) -> None:
        """The batch's rate, and that of every chained job not yet started."""
        ...

    def delete_batch(self, batch_id: str, job_names: list[str], at: str, event: Event) -> None:
        """Remove the batch and everything below it; its id and job names stay retired."""
        ...

    # -- notifications -------------------------------------------------------------------

    def due_notifications(self, moment: dt.datetime) -> list[dict[str, Any]]: ...

    def claim_notification(self, item: dict[str, Any], until: dt.datetime) -> bool:
        """Take a due notification for delivery: it is not due again before ``until``.
        False when another deliverer took it first."""
        ...

    def notification_delivered(self, item_id: Any, attempts: int, moment: dt.datetime) -> None: ...

    def notification_failed(
        self, item_id: Any, attempts: int, error: str, retry_at: dt.datetime, give_up: bool
    ) -> None: ...

    def notifications(self, batch_id: str) -> list[dict[str, Any]]:
        """The batch's queued messages, ``payload`` parsed."""
        ...

    # -- Step Functions: executions and the task tokens levels wait on -------------------

    def set_execution(self, batch_id: str, execution_arn: str) -> None: ...

    def unstarted_batches(self) -> list[str]:
        """Batches IN_PROGRESS whose execution never started."""
        ...

    def set_level_token(
        self, batch_id: str, level: int, token: str | None, only: str | None = None
    ) -> None:
        """Keep (or, with None, drop) the task token a level's task waits on; with ``only``,
        only while the level still holds that token."""
        ...

    def waiting_levels(self) -> list[dict[str, Any]]:
        """Levels of IN_PROGRESS batches whose task waits on a token."""
        ...

    # -- the runner's lease (in ``db``) ----------------------------------------------------

    def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool: ...

    def release_lease(self, name: str, owner: str) -> None: ...

    def lease_holder(self, name: str) -> str | None: ...
