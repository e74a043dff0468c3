"""Labeling backends share one interface: create a job, report its status, stop it.

- simulated: a deterministic workforce that labels from ground truth (this package).
- local: tasks done by people in the portal.
- groundtruth: SageMaker CreateLabelingJob / DescribeLabelingJob.
- labelstudio: a project per job on a Label Studio server.

Beside the Protocol, a backend may offer what the engine, the API and the portal look
for by name: ``check_workteam``, ``check_labels`` (job name, modality, annotation type)
and ``check_ready`` (at submit time), ``progress``, ``project_url``, ``records`` and
``delete_records``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Protocol

from labellake.errors import LabellakeError


class BackendJobStatus(StrEnum):
    """A backend job's status, in Ground Truth's words (LabelingJobStatus); not a batch's."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"


class CannotLabel(LabellakeError):
    """A job whose shapes its backend cannot draw; ``reason`` says why, without the fix."""

    def __init__(self, job_name: str, reason: str, fix: str) -> None:
        super().__init__(f"job {job_name}: {reason}; {fix}")
        self.reason = reason


@dataclass(frozen=True)
class JobRequest:
    """Everything a backend needs to run one labeling job."""

    job_id: str  # the backend's job name; unique per attempt
    job_name: str
    batch_id: str
    level: int
    modality: str
    input_manifest_uri: str
    label_config_uri: str
    label_attribute_name: str
    workteam_arn: str
    output_prefix_uri: str
    max_concurrent_task_count: int
    task_time_limit_s: int
    task_availability_lifetime_s: int
    workers_per_object: int = 1  # consensusCount: distinct workers who label each object

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JobStatus:
    status: str
    output_manifest_uri: str | None = None
    failure_reason: str | None = None


def output_manifest_uri(output_prefix_uri: str, job_id: str) -> str:
    """Where Ground Truth writes a job's augmented output manifest."""
    return f"{output_prefix_uri.rstrip('/')}/{job_id}/manifests/output/output.manifest"


class LabelingBackend(Protocol):
    name: str
    poll_interval_s: float  # the engine asks about one job at most this often

    def check_modality(self, modality: str) -> None:
        """Raise LabellakeError if this backend cannot run ``modality``."""

    def create_job(self, request: JobRequest) -> None:
        """Start the job; calling it again with the same job_id does nothing."""

    def describe_job(self, job_id: str) -> JobStatus: ...

    def stop_job(self, job_id: str) -> None: ...

    def workforce(self) -> list[dict[str, Any]]:
        """Teams with their workers, for GET /workforce/show."""
        ...
