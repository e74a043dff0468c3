"""The frame viewer's drawing: what the audit changed, and the colours it is drawn in."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from labellake.portal import frames


def box(object_id: str, left: float, audit: str | None = None) -> dict[str, Any]:
    return {
        "object_id": object_id,
        "shape": "box",
        "box_left": left,
        "top": 20.0,
        "width": 40.0,
        "height": 40.0,
        "points": None,
        "audit": audit,
    }


def line(object_id: str, xs: list[float]) -> dict[str, Any]:
    points = np.array([{"x": x, "y": 100.0} for x in xs], dtype=object)  # as pandas hands them
    return {"object_id": object_id, "shape": "polyline", "box_left": None, "points": points}


WORKER = [box("kept", 10), box("moved", 100), box("gone", 200), line("lane", [0, 50, 100])]
AUDIT = [
    box("kept", 10.1, "Pass"),
    box("moved", 112, "Fail"),
    box("new", 250, "Pass"),
    line("lane", [0, 50.5, 100]),
]


def test_audit_changes_per_object() -> None:
    assert frames.audit_changes(WORKER, AUDIT) == {
        "gone": "deleted",
        "kept": "unchanged",
        "lane": "unchanged",  # within a pixel
        "moved": "moved",  # IoU 28/52 of the box
        "new": "added",
    }
    assert frames.audit_changes([line("lane", [0, 50])], [line("lane", [0, 58])]) == {
        "lane": "moved"
    }


def test_changes_are_drawn_in_their_colours() -> None:
    image = Image.open(io.BytesIO(frames.draw(None, WORKER, AUDIT, size=(320, 140))))
    pixels = image.convert("RGB").load()
    assert pixels[112, 40] == frames.MOVED  # left edge of the moved box, drawn thick
    assert pixels[250, 40] == frames.ADDED
    assert pixels[220, 40] == frames.DELETED  # the cross through the deleted box
    assert pixels[10, 40] in (frames.PASSED, frames.WORKER)
    plain = Image.open(io.BytesIO(frames.draw(None, WORKER, None, size=(320, 140))))
    assert plain.convert("RGB").load()[220, 40] != frames.DELETED  # no audit, no verdicts
