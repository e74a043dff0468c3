"""Drawing a frame with its shapes: the worker's labels, and what the audit changed."""

from __future__ import annotations

import io
import json
from typing import Any

from PIL import Image, ImageDraw

from labellake.lake.store import read_uri

WORKER = (0, 200, 255)
PASSED = (60, 220, 90)
FAILED = (255, 60, 60)


def frame_uri(source_ref: str, frame_no: int, **aws: Any) -> str | None:
    """The image of frame ``frame_no`` (from 0) of a sequence file, or the image itself."""
    if not source_ref.endswith(".json"):
        return source_ref
    sequence = json.loads(read_uri(source_ref, **aws))
    frames = sequence.get("frames") or []
    if not 0 <= frame_no < len(frames):
        return None
    return str(sequence.get("prefix", "")) + str(frames[frame_no]["frame"])


def draw(
    image_bytes: bytes | None,
    shapes: list[dict[str, Any]],
    audited: list[dict[str, Any]] | None = None,
    size: tuple[int, int] = (640, 360),
) -> bytes:
    """PNG of the frame with the job's shapes, and the audit's on top (failed ones in red)."""
    if image_bytes:
        image = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    else:
        image = Image.new("RGB", size, (90, 90, 90))
    pen = ImageDraw.Draw(image)
    for shape, colour, width in [(s, WORKER, 2) for s in shapes] + [
        (s, FAILED if s.get("audit") == "Fail" else PASSED, 1) for s in audited or []
    ]:
        if shape["shape"] == "box" and shape["left"] is not None:
            left, top = shape["left"], shape["top"]
            pen.rectangle(
                [left, top, left + shape["width"], top + shape["height"]],
                outline=colour,
                width=width,
            )
        elif shape.get("points") is not None and len(shape["points"]) > 0:
            points = [(p["x"], p["y"]) for p in shape["points"]]
            if len(points) == 1:
                x, y = points[0]
                pen.ellipse([x - 3, y - 3, x + 3, y + 3], outline=colour, width=width)
            else:
                pen.line(
                    points + ([points[0]] if shape["shape"] == "polygon" else []),
                    fill=colour,
                    width=width,
                )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
