"""Workflow state rows (plain dicts) -> the `batches` and `jobs` lake tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from labellake.lake import get_table


def _time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def batches_table(batch: dict[str, Any], jobs: list[dict[str, Any]]) -> pa.Table:
    row = {
        "batch_id": batch["batch_id"],
        "status": batch["status"],
        "created_at": _time(batch["created_at"]),
        "completed_at": _time(batch.get("completed_at")),
        "level_count": len({job["level"] for job in jobs}),
        "job_count": len(jobs),
        "down_sampling_rate": batch.get("down_sampling_rate"),
        "message": batch.get("message"),
    }
    return pa.Table.from_pylist([row], schema=get_table("batches").schema)


def jobs_table(jobs: list[dict[str, Any]]) -> pa.Table:
    rows = [
        {
            "batch_id": job["batch_id"],
            "job_name": job["job_name"],
            "level": job["level"],
            "modality": job["modality"],
            "annotation_type": job.get("annotation_type"),
            "status": job["status"],
            "workteam": job.get("workteam_arn"),
            "chain_from": job.get("chain_from"),
            "label_attribute_name": job.get("label_attribute_name"),
            "input_manifest_uri": job.get("input_manifest_uri") or job.get("source_manifest_uri"),
            "output_manifest_uri": job.get("output_manifest_uri"),
            "object_count": job.get("object_count"),
            "created_at": _time(job.get("started_at") or job.get("created_at")),
            "completed_at": _time(job.get("completed_at")),
            "backend": job.get("backend"),
        }
        for job in jobs
    ]
    return pa.Table.from_pylist(rows, schema=get_table("jobs").schema)
