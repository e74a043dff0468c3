"""Estimate a batch's worker time before it is submitted, from the newest READY
labeling-effort model.

Each job of the batch becomes one task per data object (its frames read from the
clip's sequence file); the objects a clip holds are not known before it is
labeled, so the estimate takes the median objects per task of the model's own
training data, and the worker is nobody in particular.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labellake.errors import LabellakeError
from labellake.workflows.labeling import formats
from labellake.workflows.labeling.spec import SEQUENCE_MODALITIES, base_modality
from labellake.workflows.models.dataset import EFFORT_TARGET
from labellake.workflows.models.workflow import EFFORT_MODEL, ModelWorkflow

EFFORT_FEATURES = {"frames", "objects", "shape_type", "modality", "level", "team", "worker"}


def clip_frames(source_refs: list[str], read: Callable[[str], str]) -> list[int]:
    """Frames per data object: a sequence file's frame count, 1 for a single image."""
    counts = []
    for ref in source_refs:
        if ref.endswith(".json"):
            counts.append(max(1, len(formats.parse_sequence(read(ref), ref).frames)))
        else:
            counts.append(1)
    return counts


def estimate(
    models: ModelWorkflow,
    jobs: list[dict[str, Any]],
    frames: list[int],
    down_sampling_rate: float = 100,
) -> dict[str, Any]:
    """Worker seconds and hours of a batch being built.

    ``jobs`` are the form's rows (jobName, level, modality, shape, chainFrom, team);
    ``frames`` holds one entry per data object of the input. LabellakeError when no
    effort model is in service, or when it was trained on other features.
    """
    endpoint, bundle = models.served(EFFORT_MODEL)
    features = {*bundle["numeric"], *bundle["categorical"]}
    if features != EFFORT_FEATURES or bundle["target"] != EFFORT_TARGET:
        raise LabellakeError(
            f"the newest {EFFORT_MODEL} model predicts {bundle['target']} from "
            f"{', '.join(sorted(features))}, not the effort dataset's features; train it on "
            "the default dataset (labellake model train)"
        )
    objects = bundle["profile"]["objects"]["median"]
    by_name = {job["jobName"]: job for job in jobs}
    rows, owners = [], []
    for job in jobs:
        shape = _shape(job, by_name)
        kept = frames
        if job.get("chainFrom") and down_sampling_rate < 100:
            kept = frames[: round(len(frames) * down_sampling_rate / 100)]
        for count in kept:
            sequence = base_modality(str(job["modality"])) in SEQUENCE_MODALITIES
            rows.append(
                {
                    "frames": float(count if sequence else 1),
                    "objects": float(objects),
                    "shape_type": shape,
                    "modality": str(job["modality"]),
                    "level": float(job["level"]),
                    "team": str(job.get("team") or "unknown"),
                    "worker": "unknown",
                }
            )
            owners.append(job["jobName"])
    if not rows:
        return {"seconds": 0.0, "hours": 0.0, "tasks": 0, "perJob": {}, "runId": endpoint["run_id"]}
    predictions = models.infer(EFFORT_MODEL, rows)["predictions"]
    per_job: dict[str, float] = {}
    for owner, seconds in zip(owners, predictions, strict=True):
        per_job[owner] = per_job.get(owner, 0.0) + max(0.0, seconds)
    total = sum(per_job.values())
    return {
        "seconds": total,
        "hours": total / 3600,
        "tasks": len(rows),
        "perJob": per_job,
        "runId": endpoint["run_id"],
    }


def _shape(job: dict[str, Any], by_name: dict[str, dict[str, Any]]) -> str:
    """A job's shape: its own, else its chain's first job's (chained jobs inherit their
    parent's taxonomy)."""
    if job.get("shape"):
        return str(job["shape"])
    while job.get("chainFrom") in by_name:
        job = by_name[job["chainFrom"]]
    return str(job.get("shape") or "box")
