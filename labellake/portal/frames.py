"""Drawing a frame with its shapes: the worker's labels, and what the audit changed."""

from __future__ import annotations

import io
import json
from typing import Any

from PIL import Image, ImageDraw

from labellake.errors import LabellakeError
from labellake.etl.geometry import box_iou, row_box
from labellake.lake.store import read_uri

WORKER = (0, 200, 255)
PASSED = (60, 220, 90)
FAILED = (255, 60, 60)
MOVED = (255, 160, 0)
ADDED = (230, 60, 230)
DELETED = (255, 60, 60)
CHANGES = ("unchanged", "moved", "added", "deleted")
UNCHANGED_IOU = 0.99  # as in audit_stats: a box the auditor kept at IoU >= 0.99 is unchanged
POINT_TOLERANCE_PX = 1.0


def _same(worker: dict[str, Any], auditor: dict[str, Any]) -> bool:
    if worker["shape"] == "box" and auditor["shape"] == "box" and worker["box_left"] is not None:
        return box_iou(row_box(worker), row_box(auditor)) >= UNCHANGED_IOU
    a, b = worker.get("points"), auditor.get("points")
    a, b = ([] if a is None else list(a)), ([] if b is None else list(b))
    return len(a) == len(b) and all(
        abs(p["x"] - q["x"]) <= POINT_TOLERANCE_PX and abs(p["y"] - q["y"]) <= POINT_TOLERANCE_PX
        for p, q in zip(a, b, strict=True)
    )


def audit_changes(shapes: list[dict[str, Any]], audited: list[dict[str, Any]]) -> dict[str, str]:
    """What the audit did to each object on this frame, by object id: unchanged, moved
    (box IoU under 0.99, or a vertex moved by more than a pixel), added or deleted."""
    worker = {s["object_id"]: s for s in shapes}
    auditor = {s["object_id"]: s for s in audited}
    changes = {}
    for object_id in sorted(worker.keys() | auditor.keys(), key=str):
        if object_id not in auditor:
            changes[object_id] = "deleted"
        elif object_id not in worker:
            changes[object_id] = "added"
        else:
            same = _same(worker[object_id], auditor[object_id])
            changes[object_id] = "unchanged" if same else "moved"
    return changes


def frame_uri(source_ref: str, frame_no: int, **aws: Any) -> str | None:
    """The image of frame ``frame_no`` (from 0) of a sequence file, or the image itself."""
    if not source_ref.endswith(".json"):
        return source_ref
    sequence = json.loads(read_uri(source_ref, **aws))
    frames = sequence.get("frames") or []
    if not 0 <= frame_no < len(frames):
        return None
    return str(sequence.get("prefix", "")) + str(frames[frame_no]["frame"])


def frame_image(source_ref: str, frame_no: int, **aws: Any) -> bytes | None:
    """The frame's image, or None when it is not where the source_ref says (labels imported
    from another tool name their frames, but the images stay with that tool)."""
    try:
        uri = frame_uri(source_ref, frame_no, **aws)
        return read_uri(uri, **aws) if uri else None
    except (LabellakeError, OSError, ValueError):
        return None


def draw(
    image_bytes: bytes | None,
    shapes: list[dict[str, Any]],
    audited: list[dict[str, Any]] | None = None,
    size: tuple[int, int] = (640, 360),
) -> bytes:
    """PNG of the frame with the job's shapes (blue) and the audit's on top: kept ones
    green (passed) or red (failed), moved ones thick orange, added ones thick magenta;
    deleted ones keep the worker's outline, crossed out in red."""
    if image_bytes:
        image = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    else:
        image = Image.new("RGB", size, (90, 90, 90))
    pen = ImageDraw.Draw(image)
    changes = audit_changes(shapes, audited) if audited is not None else {}
    strokes = [(s, WORKER, 2) for s in shapes]
    for shape in audited or []:
        change = changes.get(shape["object_id"])
        if change == "moved":
            strokes.append((shape, MOVED, 4))
        elif change == "added":
            strokes.append((shape, ADDED, 4))
        else:
            strokes.append((shape, FAILED if shape.get("audit") == "Fail" else PASSED, 1))
    for shape, colour, width in strokes:
        _stroke(pen, shape, colour, width)
    for shape in shapes:
        if changes.get(shape["object_id"]) == "deleted" and shape["shape"] == "box":
            left, top = shape["box_left"], shape["top"]
            right, bottom = left + shape["width"], top + shape["height"]
            pen.line([(left, top), (right, bottom)], fill=DELETED, width=3)
            pen.line([(left, bottom), (right, top)], fill=DELETED, width=3)
        elif changes.get(shape["object_id"]) == "deleted":
            _stroke(pen, shape, DELETED, 4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _stroke(pen: ImageDraw.ImageDraw, shape: dict[str, Any], colour: tuple, width: int) -> None:  # type: ignore[type-arg]
    if shape["shape"] == "box" and shape["box_left"] is not None:
        left, top = shape["box_left"], shape["top"]
        pen.rectangle(
            [left, top, left + shape["width"], top + shape["height"]], outline=colour, width=width
        )
    elif shape.get("points") is not None and len(shape["points"]) > 0:
        points = [(p["x"], p["y"]) for p in shape["points"]]
        if len(points) == 1:
            x, y = points[0]
            pen.ellipse([x - 3, y - 3, x + 3, y + 3], outline=colour, width=width)
        else:
            closed = [points[0]] if shape["shape"] == "polygon" else []
            pen.line(points + closed, fill=colour, width=width)
