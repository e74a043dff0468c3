"""The statuses of a batch's records, one enum per concept.

The rule: a status is spelled once, here, with the value it has in the state store,
the API and the lake (the AWS reference solution's names where it has them). Every
store, step and screen compares against these members; they are ``str``, so a
member equals its stored value and serialises as it.
"""

from __future__ import annotations

from enum import StrEnum


class BatchStatus(StrEnum):
    """Where a batch stands: in progress, or one of its final statuses."""

    IN_PROGRESS = "IN_PROGRESS"
    VALIDATION_FAIL = "VALIDATION_FAIL"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    COMPLETE = "COMPLETE"
    STOPPED = "STOPPED"


# A batch in one of these moves again only when retried.
FINAL_BATCH_STATUSES = (
    BatchStatus.VALIDATION_FAIL,
    BatchStatus.INTERNAL_ERROR,
    BatchStatus.COMPLETE,
    BatchStatus.STOPPED,
)


class LevelStatus(StrEnum):
    """A level: waiting for its turn, running its jobs, done (or what its batch ended as)."""

    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    STOPPED = "STOPPED"


class LabelingJobStatus(StrEnum):
    """A labeling job's record: not started, running on its backend (the reference's
    name), done (or what its batch ended as). The backend's own view of a job is
    ``backends.JobStatus``."""

    PENDING = "PENDING"
    WAIT_FOR_SMGT_RESPONSE = "WAIT_FOR_SMGT_RESPONSE"
    COMPLETE = "COMPLETE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    STOPPED = "STOPPED"


class TaskStatus(StrEnum):
    """A data object of a job: queued when the job starts, complete with the job."""

    QUEUED = "QUEUED"
    COMPLETE = "COMPLETE"


class NotificationStatus(StrEnum):
    """A queued message to one destination: waiting (or retrying), sent, or given up on."""

    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    GAVE_UP = "GAVE_UP"
