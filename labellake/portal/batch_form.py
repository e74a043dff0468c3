"""The batch form's logic: taxonomy rows -> label configs and the request the API takes."""

from __future__ import annotations

import json
from typing import Any

from labellake.workflows.labeling.formats import ANNOTATION_TYPES

SHAPES = {kind: name for name, kind in ANNOTATION_TYPES.items()}  # box -> BoundingBox


def label_config(labels: str, attributes: str, shape: str) -> dict[str, Any]:
    """A label category config from comma-separated labels and `Name=a|b|c` attributes."""
    names = [name.strip() for name in labels.split(",") if name.strip()]
    parsed = []
    for item in attributes.split(","):
        name, _, values = item.partition("=")
        if name.strip():
            enum = [v.strip() for v in values.split("|") if v.strip()]
            parsed.append(
                {"name": name.strip(), "type": "string", **({"enum": enum} if enum else {})}
            )
    return {
        "document-version": "2020-08-15",
        "annotationType": SHAPES.get(shape, "BoundingBox"),
        "labels": [{"label": name, **({"attributes": parsed} if parsed else {})} for name in names],
        "instructions": {
            "shortInstruction": f"Label every {', '.join(names)}.",
            "fullInstruction": f"Label every {', '.join(names)}.",
        },
    }


def clip_manifest(clip_uris: list[str]) -> str:
    """An input manifest (JSON lines of source-ref) for the picked video clips."""
    return "".join(json.dumps({"source-ref": uri}) + "\n" for uri in clip_uris)


def build_request(
    batch_id: str,
    manifest_uri: str,
    jobs: list[dict[str, Any]],
    config_uris: dict[str, str],
    down_sampling_rate: float,
    workteam_arn: str | None,
    backend: str | None = None,
    audit_routing: str | None = None,
    audit_budget: float | None = None,
    consensus_count: int = 1,
    gold_manifest_uri: str | None = None,
    gold_rate: float = 0.0,
) -> dict[str, Any]:
    """The POST /batch/create body for the form's job rows (a row's ``backend`` overrides
    the batch's). ``audit_routing`` (risk or findings) with ``audit_budget``: audit jobs
    see the objects with the highest risk (or the most QA findings) up to the budget, and
    a random share, instead of a downsampled share of the data objects.
    ``consensus_count`` (above 1) and ``gold_rate`` (with ``gold_manifest_uri``) apply to
    the first-level video labeling jobs."""
    request_jobs = []
    for job in jobs:
        name = str(job.get("jobName") or "").strip()
        chain = str(job.get("chainFrom") or "").strip()
        level = int(job.get("level") or 1)
        entry: dict[str, Any] = {
            "jobName": name,
            "jobType": "BATCH",
            "jobModality": job.get("modality") or "VideoObjectTracking",
            "jobLevel": level,
        }
        if chain:
            entry["inputConfig"] = {"chainFromJobName": chain}
            audit = str(entry["jobModality"]).endswith("Audit")
            if audit and audit_routing in ("risk", "findings"):
                entry["inputConfig"]["qaFilter"] = {
                    "mode": audit_routing,
                    "auditBudget": audit_budget,
                }
            elif down_sampling_rate < 100:
                entry["inputConfig"]["downSamplingRate"] = down_sampling_rate
        else:
            entry["inputConfig"] = {"inputManifestS3Uri": manifest_uri}
            entry["labelCategoryConfigS3Uri"] = config_uris.get(name, "")
            if str(entry["jobModality"]).startswith("Video") and not str(
                entry["jobModality"]
            ).endswith("Audit"):
                boxes = (job.get("shape") or "box") == "box"  # box tracks consolidate, score
                if consensus_count > 1 and boxes:
                    entry["consensusCount"] = consensus_count
                if gold_manifest_uri and gold_rate > 0 and boxes:
                    entry["goldRate"] = gold_rate
        if workteam_arn and level == 1:
            entry["workteamArn"] = workteam_arn
        if str(job.get("backend") or "").strip():
            entry["backend"] = str(job["backend"]).strip()
        request_jobs.append(entry)
    request: dict[str, Any] = {"batchId": batch_id, "labelingJobs": request_jobs}
    if gold_manifest_uri and gold_rate > 0:
        request["goldManifestS3Uri"] = gold_manifest_uri
    if backend:
        request["backend"] = backend
    return request


def level_diagram(show: dict[str, Any]) -> str:
    """Graphviz DOT of a batch: levels left to right, jobs as nodes, chains as edges."""
    from labellake.portal.charts import STATUS_COLOURS

    lines = [
        "digraph batch {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontcolor=white, fontname="Helvetica"];',
    ]
    for level in show["levels"]:
        lines.append(
            f'  subgraph cluster_{level["level"]} {{ label="level {level["level"]}"; '
            'color="#bbbbbb";'
        )
        for job in level["jobLevels"]:
            colour = STATUS_COLOURS.get(job["batchStatus"], "#616161")
            lines.append(
                f'    "{job["labelingJobName"]}" [fillcolor="{colour}", '
                f'tooltip="{job["batchStatus"]}"];'
            )
        lines.append("  }")
    for level in show["levels"]:
        for job in level["jobLevels"]:
            if job.get("chainFromJobName"):
                lines.append(f'  "{job["chainFromJobName"]}" -> "{job["labelingJobName"]}";')
    lines.append("}")
    return "\n".join(lines)
