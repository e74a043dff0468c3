"""Shape geometry shared by the QA checks, the simulated workforce and the portal: the one
definition of the intersection over union (IoU) of axis-aligned boxes.

A box is (left, top, width, height) in pixels. Boxes with no area overlap nothing:
their IoU is 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Box = tuple[float, float, float, float]


def iou(l1, t1, w1, h1, l2, t2, w2, h2):  # type: ignore[no-untyped-def]
    """Elementwise IoU of (left, top, width, height) boxes (numpy arrays or scalars)."""
    ix = np.clip(np.minimum(l1 + w1, l2 + w2) - np.maximum(l1, l2), 0, None)
    iy = np.clip(np.minimum(t1 + h1, t2 + h2) - np.maximum(t1, t2), 0, None)
    inter = ix * iy
    union = w1 * h1 + w2 * h2 - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def box_iou(a: Box, b: Box) -> float:
    """IoU of two (left, top, width, height) boxes."""
    return float(iou(*a, *b))


def row_box(row: dict[str, Any]) -> Box:
    """The box of an annotation row (its box_left, top, width and height columns)."""
    return (row["box_left"], row["top"], row["width"], row["height"])
