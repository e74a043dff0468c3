"""The one IoU: scalar and elementwise answers agree, and boxes with no area overlap nothing."""

from __future__ import annotations

import numpy as np
import pytest

from labellake.etl.geometry import box_iou, iou, row_box


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
        ((0, 0, 10, 10), (20, 20, 5, 5), 0.0),
        ((0, 0, 10, 10), (5, 0, 10, 10), 50 / 150),
        ((0, 0, 10, 10), (2, 2, 5, 5), 25 / 100),
        ((0, 0, 0, 0), (0, 0, 0, 0), 0.0),
        ((0, 0, 10, 10), (10, 0, 10, 10), 0.0),  # touching edges share no area
    ],
)
def test_box_iou(a: tuple, b: tuple, expected: float) -> None:
    assert box_iou(a, b) == pytest.approx(expected)
    assert box_iou(b, a) == pytest.approx(expected)


def test_elementwise_iou_matches_the_scalar_one() -> None:
    rng = np.random.default_rng(7)
    a = rng.uniform(0, 50, size=(200, 4))
    b = rng.uniform(0, 50, size=(200, 4))
    many = iou(*a.T, *b.T)
    assert many.shape == (200,)
    assert many == pytest.approx([box_iou(tuple(x), tuple(y)) for x, y in zip(a, b, strict=True)])


def test_row_box_reads_the_annotation_columns() -> None:
    row = {"box_left": 1.0, "top": 2.0, "width": 3.0, "height": 4.0, "label": "Vehicle"}
    assert row_box(row) == (1.0, 2.0, 3.0, 4.0)
