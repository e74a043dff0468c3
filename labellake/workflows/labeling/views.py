"""What GET /batch/show and `labellake batch show` answer: batch ids by status, and a
batch's detail with its levels and jobs in the reference solution's field names."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from labellake.workflows.labeling.status import BatchStatus, LabelingJobStatus

if TYPE_CHECKING:
    from labellake.workflows.labeling.engine import Engine


LEVEL_NAMES = {1: "first_level", 2: "second_level", 3: "third_level"}


def level_name(level: int) -> str:
    return LEVEL_NAMES.get(level, f"level_{level}")


def level_key(level: int) -> str:
    """firstLevel, secondLevel, thirdLevel, then level4, level5, ..."""
    return {1: "firstLevel", 2: "secondLevel", 3: "thirdLevel"}.get(level, f"level{level}")


def list_by_status(engine: Engine) -> dict[str, list[str]]:
    listing: dict[str, list[str]] = {status.value: [] for status in BatchStatus}
    for batch in engine.state.batches():
        listing.setdefault(batch["status"], []).append(batch["batch_id"])
    return listing


def show(engine: Engine, batch_id: str) -> dict[str, Any]:
    """The batch detail of GET /batch/show?batchId=..., with every level under `levels`."""
    batch = engine._batch(batch_id)
    request = json.loads(batch["request"])
    jobs = engine.state.jobs(batch_id)
    levels = engine.state.levels(batch_id)
    detail: dict[str, Any] = {
        "batchId": batch["batch_id"],
        "status": batch["status"],
        "message": batch["message"],
        "errorType": batch["error_type"],
        "createdAt": batch["created_at"],
        "completedAt": batch["completed_at"],
        "downSamplingRate": batch["down_sampling_rate"],
        "inputLabelingJobs": request["labelingJobs"],
    }
    summaries = []
    for level in levels:
        level_jobs = [job for job in jobs if job["level"] == level["level"]]
        summaries.append(
            {
                "level": level["level"],
                "status": level["status"],
                "numChildBatches": len(level_jobs),
                "numChildBatchesComplete": sum(
                    j["status"] == LabelingJobStatus.COMPLETE for j in level_jobs
                ),
                "jobLevels": [_job_detail(engine, job) for job in level_jobs],
            }
        )
    for number in range(1, max(3, len(summaries)) + 1):
        summary = next((s for s in summaries if s["level"] == number), None)
        detail[level_key(number)] = (
            {k: v for k, v in summary.items() if k != "level"}
            if summary
            else {
                "status": batch["status"],
                "numChildBatches": 0,
                "numChildBatchesComplete": 0,
                "jobLevels": [],
            }
        )
    detail["levels"] = summaries
    detail["qualityBound"] = quality_bound(engine, batch_id)
    return detail


def quality_bound(engine: Engine, batch_id: str) -> list[dict[str, Any]]:
    """Per audited job of the batch: the errors estimated left in what ships, with the
    one-sided 90% upper bound of their rate (the dataset_quality table)."""
    # In process over the lake's files (local or S3), never a query engine's round trip.
    found = engine.lake.scan(
        "SELECT job_name, audited_job, mode, objects, audited, errors_found, "
        "residual_errors, residual_rate, upper_rate, method, as_of FROM dataset_quality "
        "WHERE batch_id = ? ORDER BY job_name",
        [batch_id],
    ).to_pylist()
    return [
        {
            "auditJob": row["job_name"],
            "auditedJob": row["audited_job"],
            "mode": row["mode"],
            "objects": row["objects"],
            "audited": row["audited"],
            "errorsFound": row["errors_found"],
            "residualErrors": row["residual_errors"],
            "residualRate": row["residual_rate"],
            "upperRate": row["upper_rate"],
            "method": row["method"],
            "asOf": row["as_of"].isoformat() if row["as_of"] else None,
        }
        for row in found
    ]


def _job_detail(engine: Engine, job: dict[str, Any]) -> dict[str, Any]:
    input_uri = job["input_manifest_uri"] or job["source_manifest_uri"]
    return {
        "batchId": f"{job['batch_id']}-{level_name(job['level'])}-{job['job_name']}",
        "batchStatus": job["status"],
        "labelingJobName": job["job_name"],
        "jobModality": job["modality"],
        "annotationType": job["annotation_type"],
        "chainFromJobName": job["chain_from"],
        "workteamArn": job["workteam_arn"],
        "labelAttributeName": job["label_attribute_name"],
        "labelCategoryS3Uri": job["label_config_uri"],
        "jobInputS3Uri": input_uri,
        "jobInputS3Url": object_url(engine, input_uri),
        "jobOutputS3Uri": job["output_manifest_uri"],
        "jobOutputS3Url": object_url(engine, job["output_manifest_uri"]),
        "backendJobName": job["backend_job_id"],
        "backend": job.get("backend") or engine.backend.name,
        "taskProgress": _progress(engine, job),
        "workUrl": _work_url(engine, job),
        "objectCount": job["object_count"],
        "message": job["message"],
        "startedAt": job["started_at"],
        "completedAt": job["completed_at"],
    }


def _progress(engine: Engine, job: dict[str, Any]) -> dict[str, int] | None:
    """Where people stand on a job's tasks, from backends that keep a task queue."""
    backend = engine.backends.get(job.get("backend") or engine.backend.name)
    progress = getattr(backend, "progress", None)
    if progress is None or not job["backend_job_id"]:
        return None
    return progress(job["backend_job_id"])  # type: ignore[no-any-return]


def _work_url(engine: Engine, job: dict[str, Any]) -> str | None:
    """Where people do the job's tasks, for backends with a page per job (Label Studio's
    project)."""
    backend = engine.backends.get(job.get("backend") or engine.backend.name)
    project_url = getattr(backend, "project_url", None)
    if project_url is None or not job["backend_job_id"]:
        return None
    return project_url(job["backend_job_id"])  # type: ignore[no-any-return]


def object_url(engine: Engine, uri: str | None) -> str | None:
    """A URL to fetch the object: presigned for s3://, file:// for local files."""
    if not uri:
        return None
    if uri.startswith("s3://"):
        bucket, _, key = uri[5:].partition("/")
        client = engine.config.aws.client("s3")
        return client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600
        )
    if uri.startswith("file://"):
        return uri
    return f"file://{uri}"
