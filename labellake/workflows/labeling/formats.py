"""Ground Truth's own file formats, read and written.

Input manifests and sequence files, label category configurations (with audit
attributes), augmented output manifest lines, SeqLabel.json, worker-response
files and worker activity log events. Readers accept what real files contain
(extra fields, numbers as strings); writers produce exactly Ground Truth's
shapes.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from labellake.errors import LabellakeError

# A manifest line's key, on lines of an audit job routed by risk: the ids of the objects
# the audit checks (the other objects of the data object are shown, not checked).
AUDIT_OBJECTS_KEY = "labellake-audit-objects"
# A manifest line's key, on output lines of a consensus job (consensusCount): the URI of
# the data object's consensus (its objects' agreement and each worker pair's).
CONSENSUS_KEY = "labellake-consensus-ref"


def data_object(line: dict[str, Any]) -> str:
    """A manifest line's data object: its source-ref (or inline source)."""
    return str(line.get("source-ref") or line.get("source"))


ANNOTATION_TYPES = {
    "BoundingBox": "box",
    "Polyline": "polyline",
    "Polygon": "polygon",
    "Keypoint": "keypoint",
}
# SeqLabel.json keeps each shape kind under its own key in a frame.
SEQLABEL_KEYS = {
    "box": "annotations",
    "polyline": "polylines",
    "polygon": "polygons",
    "keypoint": "keypoints",
}

# --- times -------------------------------------------------------------------


def creation_date(moment: dt.datetime) -> str:
    """The metadata creation-date: 2026-11-20T10:14:07.512000 (UTC, no zone)."""
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def iso_z(moment: dt.datetime) -> str:
    """Worker-response times: 2026-11-20T09:41:12.004Z."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def activity_time(moment: dt.datetime | None) -> str:
    """Worker activity event times: Fri Nov 20 09:41:12 UTC 2026 ('' when absent)."""
    if moment is None:
        return ""
    return moment.astimezone(dt.UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


# --- input side ------------------------------------------------------------------


def _json_problem(exc: Exception) -> str:
    """What is wrong with a JSON text, by position only: never its content."""
    if isinstance(exc, json.JSONDecodeError):
        return (
            f"{exc.msg} at column {exc.colno}"
            if exc.lineno == 1
            else (f"{exc.msg} at line {exc.lineno} column {exc.colno}")
        )
    return "nested too deeply"


def parse_manifest(text: str, source: str) -> list[dict[str, Any]]:
    """Manifest lines as objects; LabellakeError naming file and line otherwise."""
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise LabellakeError(
                f"{source} line {number}: not JSON ({_json_problem(exc)}); each line must be one "
                'JSON object such as {"source-ref": "s3://bucket/clip_seq.json"}'
            ) from None
        if not isinstance(entry, dict) or not (entry.get("source-ref") or entry.get("source")):
            raise LabellakeError(
                f'{source} line {number}: needs a "source-ref" (or "source") field'
            )
        lines.append(entry)
    return lines


def manifest_text(lines: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(line, separators=(", ", ": ")) + "\n" for line in lines)


@dataclass(frozen=True)
class Sequence:
    """A video frame sequence file."""

    prefix: str
    frames: tuple[tuple[int, str], ...]  # (frame-no, frame file name)
    seq_no: int = 0


def parse_sequence(text: str, source: str) -> Sequence:
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise LabellakeError(f"sequence file {source}: not JSON ({_json_problem(exc)})") from None
    if not isinstance(raw, dict):
        raise LabellakeError(f"sequence file {source}: expected a JSON object")
    frames = raw.get("frames") or []
    if not frames:
        raise LabellakeError(
            f'sequence file {source} has no frames; list them under "frames" as '
            '{"frame-no": 1, "frame": "000001.jpg"}'
        )
    parsed = []
    for index, frame in enumerate(frames):
        try:
            parsed.append((int(frame.get("frame-no", index + 1)), str(frame["frame"])))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LabellakeError(
                f'sequence file {source}: frames[{index}] needs "frame-no" and "frame"'
            ) from exc
    return Sequence(
        prefix=str(raw.get("prefix", "")),
        frames=tuple(parsed),
        seq_no=int(raw.get("seq-no", 0) or 0),
    )


def sequence_document(prefix: str, frames: list[str], seq_no: int = 0) -> dict[str, Any]:
    return {
        "version": "2020-07-01",
        "seq-no": seq_no,
        "prefix": prefix,
        "number-of-frames": len(frames),
        "frames": [{"frame-no": i + 1, "frame": name} for i, name in enumerate(frames)],
    }


def parse_label_config(text: str, source: str) -> dict[str, Any]:
    try:
        config = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise LabellakeError(
            f"label category config {source}: not JSON ({_json_problem(exc)})"
        ) from None
    if (
        not isinstance(config, dict)
        or not isinstance(config.get("labels"), list)
        or not (config["labels"])
    ):
        raise LabellakeError(
            f'label category config {source}: needs a non-empty "labels" list such as '
            '[{"label": "Vehicle"}]'
        )
    for index, label in enumerate(config["labels"]):
        if not isinstance(label, dict) or not label.get("label"):
            raise LabellakeError(
                f'label category config {source}: labels[{index}] needs a "label" name'
            )
    kind = config.get("annotationType", "BoundingBox")
    if kind not in ANNOTATION_TYPES:
        raise LabellakeError(
            f"label category config {source}: unknown annotationType '{kind}'; known: "
            f"{', '.join(ANNOTATION_TYPES)}"
        )
    return config


def annotation_type(config: dict[str, Any]) -> str:
    return ANNOTATION_TYPES[config.get("annotationType", "BoundingBox")]


def class_map(config: dict[str, Any]) -> dict[str, str]:
    return {str(i): label["label"] for i, label in enumerate(config["labels"])}


def audit_config(parent: dict[str, Any], parent_label_attribute: str) -> dict[str, Any]:
    """A chained job's config: the parent's, with auditLabelAttributeName and Pass/Fail."""
    config = json.loads(json.dumps(parent))
    config["auditLabelAttributeName"] = parent_label_attribute
    for label in config["labels"]:
        attributes = label.setdefault("attributes", [])
        if not any(a.get("name") == "audit" for a in attributes):
            attributes.append({"name": "audit", "type": "string", "enum": ["Pass", "Fail"]})
    return config


# --- output side -----------------------------------------------------------------


@dataclass
class Shape:
    """One labeled object on one frame."""

    object_id: str
    object_name: str
    class_id: int
    kind: str  # box, polyline, polygon, keypoint
    box: tuple[float, float, float, float] | None = None  # left, top, width, height
    vertices: list[tuple[float, float]] | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    def to_seqlabel(self) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        if self.kind == "box":
            assert self.box is not None
            left, top, width, height = self.box
            entry = {
                "height": round(height),
                "width": round(width),
                "top": round(top),
                "left": round(left),
            }
        entry["class-id"] = str(self.class_id)
        entry["label-category-attributes"] = dict(self.attributes)
        entry["object-id"] = self.object_id
        entry["object-name"] = self.object_name
        if self.kind != "box":
            entry["vertices"] = [{"x": round(x), "y": round(y)} for x, y in self.vertices or []]
        return entry


@dataclass
class FrameLabels:
    frame_no: int  # index from 0, as SeqLabel writes it
    frame: str
    shapes: list[Shape] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)


def seqlabel_document(frames: list[FrameLabels], tracking: bool) -> dict[str, Any]:
    """SeqLabel.json: tracking-annotations (or detection-annotations), one entry per frame."""
    entries = []
    for frame in frames:
        entry: dict[str, Any] = {
            "frame-no": str(frame.frame_no),
            "frame": frame.frame,
            "frame-attributes": dict(frame.attributes),
            "annotations": [],
        }
        for shape in frame.shapes:
            entry.setdefault(SEQLABEL_KEYS[shape.kind], []).append(shape.to_seqlabel())
        entries.append(entry)
    return {"tracking-annotations" if tracking else "detection-annotations": entries}


def label_metadata(
    job_name: str,
    config: dict[str, Any],
    modality: str,
    created: dt.datetime,
    adjustment_status: str | None = None,
) -> dict[str, Any]:
    """The `<attr>-metadata` object of an augmented output manifest line."""
    task_type = {
        "VideoObjectTracking": "groundtruth/video-object-tracking",
        "VideoObjectDetection": "groundtruth/video-object-detection",
        "PointCloudObjectTracking": "groundtruth/point_cloud_object_tracking",
        "PointCloudObjectDetection": "groundtruth/point_cloud_object_detection",
        "BoundingBox": "groundtruth/object-detection",
    }[modality.removesuffix("Audit")]
    metadata: dict[str, Any] = {
        "class-map": class_map(config),
        "job-name": f"labeling-job/{job_name}",
        "human-annotated": "yes",
        "creation-date": creation_date(created),
        "type": task_type,
    }
    if adjustment_status is not None:
        metadata["adjustment-status"] = adjustment_status
    return metadata


def worker_response_document(
    worker_id: str,
    sub: str,
    accepted: dt.datetime,
    submitted: dt.datetime,
    answer: dict[str, Any],
    region: str,
    user_pool: str,
) -> dict[str, Any]:
    return {
        "answers": [
            {
                "acceptanceTime": iso_z(accepted),
                "submissionTime": iso_z(submitted),
                "timeSpentInSeconds": round((submitted - accepted).total_seconds(), 3),
                "workerId": worker_id,
                "workerMetadata": {
                    "identityData": {
                        "identityProviderType": "Cognito",
                        "issuer": f"https://cognito-idp.{region}.amazonaws.com/{user_pool}",
                        "sub": sub,
                    }
                },
                "answerContent": answer,
            }
        ]
    }


def activity_event(
    *,
    worker_id: str,
    sub: str,
    user_pool: str,
    workteam_arn: str,
    labeling_job_arn: str,
    account: str,
    reference_code: str,
    event_type: str,
    accepted: dt.datetime | None = None,
    submitted: dt.datetime | None = None,
    returned: dt.datetime | None = None,
    declined: dt.datetime | None = None,
) -> dict[str, str]:
    """One worker activity log event, as CloudWatch's WorkerActivity log group holds it."""
    moment = submitted or returned or declined or accepted
    assert moment is not None
    return {
        "worker_id": worker_id,
        "cognito_user_pool_id": user_pool,
        "cognito_sub_id": sub,
        "task_accepted_time": activity_time(accepted),
        "task_submitted_time": activity_time(submitted),
        "task_returned_time": activity_time(returned),
        "task_declined_time": activity_time(declined),
        "workteam_arn": workteam_arn,
        "labeling_job_arn": labeling_job_arn,
        "work_requester_account_id": account,
        "job_reference_code": reference_code,
        "job_type": "Private",
        "event_type": event_type,
        "event_timestamp": str(int(moment.timestamp())),
    }
