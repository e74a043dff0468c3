"""One table of cases per QA check: (annotations, expected findings as (object, frame))."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from labellake.etl import qa
from labellake.lake import get_table


def box(
    obj: str,
    frame: int,
    left: float = 100,
    top: float = 100,
    width: float = 50,
    height: float = 40,
    label: str = "Vehicle",
    attributes: dict[str, str] | None = None,
    image: tuple[int, int] | None = None,
) -> dict[str, Any]:
    return {
        "job_name": "j",
        "source_ref": "clip",
        "object_id": obj,
        "frame_no": frame,
        "shape": "box",
        "box_left": left,
        "top": top,
        "width": width,
        "height": height,
        "label": label,
        "attributes": list((attributes or {"Type": "Car"}).items()),
        "image_width": image[0] if image else None,
        "image_height": image[1] if image else None,
    }


def line(obj: str, frame: int, points: list[tuple[float, float]]) -> dict[str, Any]:
    return {
        "job_name": "j",
        "source_ref": "clip",
        "object_id": obj,
        "frame_no": frame,
        "shape": "polyline",
        "label": "Lane",
        "points": [{"x": x, "y": y} for x, y in points],
    }


def track(obj: str, frames: range, **changes: Any) -> list[dict[str, Any]]:
    return [box(obj, f, **changes) for f in frames]


def found(rows: list[dict[str, Any]], check: str) -> list[tuple[str, int]]:
    table = pa.Table.from_pylist(rows, schema=get_table("annotations").schema)
    findings = qa.run_checks(table, checks=[check]).to_pylist()
    assert {f["check_name"] for f in findings} <= {check}
    return sorted((f["object_id"], f["frame_no"]) for f in findings)


CASES: dict[str, list[tuple[str, list[dict[str, Any]], list[tuple[str, int]]]]] = {
    "size_jump": [
        ("steady", track("a", range(5)), []),
        ("grows 20%", track("a", range(2)) + [box("a", 2, width=60)], []),
        (
            "doubles on frame 2",
            track("a", range(2)) + [box("a", 2, width=100)] + [box("a", 3)],
            [("a", 2), ("a", 3)],
        ),
        ("separate tracks are not compared", [box("a", 0), box("b", 1, width=200)], []),
    ],
    "iou_drop": [
        ("steady", track("a", range(4)), []),
        ("small move", [box("a", 0), box("a", 1, left=105)], []),
        (
            "jumps away and back",
            [box("a", 0), box("a", 1, left=300), box("a", 2)],
            [("a", 1), ("a", 2)],
        ),
    ],
    "track_gap": [
        ("contiguous", track("a", range(4)), []),
        ("frames 2-3 missing", [box("a", 0), box("a", 1), box("a", 4)], [("a", 4)]),
    ],
    "out_of_image": [
        ("inside", [box("a", 0, image=(640, 360))], []),
        ("one pixel over is tolerated", [box("a", 0, left=591, image=(640, 360))], []),
        ("half outside", [box("a", 0, left=615, image=(640, 360))], [("a", 0)]),
        ("negative top", [box("a", 0, top=-30, image=(640, 360))], [("a", 0)]),
        ("image size unknown: skipped", [box("a", 0, left=5000)], []),
    ],
    "duplicate_box": [
        ("apart", track("a", range(3)) + [box("b", 1, left=400)], []),
        (
            "twin on frame 1 (shorter track reported)",
            track("a", range(3)) + [box("b", 1, left=101)],
            [("b", 1)],
        ),
        ("overlapping but not duplicate", [box("a", 0), box("b", 0, left=120)], []),
    ],
    "short_track": [
        ("long enough", track("a", range(3)), []),
        ("two frames", track("a", range(5, 7)), [("a", 5)]),
    ],
    "class_flip": [
        ("same class", track("a", range(3)), []),
        ("car then truck", [box("a", 0), box("a", 1, label="Truck")], [("a", 1)]),
    ],
    "attribute_flip": [
        ("same attributes", track("a", range(3)), []),
        ("type changes", [box("a", 0), box("a", 1, attributes={"Type": "Van"})], [("a", 1)]),
        (
            "audit verdict is not an attribute flip",
            [
                box("a", 0, attributes={"Type": "Car", "audit": "Pass"}),
                box("a", 1, attributes={"Type": "Car", "audit": "Fail"}),
            ],
            [],
        ),
    ],
    "polyline_self_intersection": [
        ("straight", [line("l", 0, [(0, 0), (10, 0), (20, 0), (30, 0)])], []),
        ("zig-zag without crossing", [line("l", 0, [(0, 0), (10, 10), (20, 0), (30, 10)])], []),
        ("loop crossing itself", [line("l", 0, [(0, 0), (10, 0), (10, 10), (5, -5)])], [("l", 0)]),
        (
            "mixed lengths, only the five-vertex one crosses",
            [
                line("a", 0, [(0, 0), (10, 0), (20, 0), (30, 0)]),
                line("b", 0, [(0, 0), (10, 0), (10, 10), (5, 10), (5, -5)]),
                line("c", 1, [(0, 0), (10, 10), (20, 0), (30, 10), (40, 0)]),
            ],
            [("b", 0)],
        ),
    ],
    "polyline_too_few_vertices": [
        ("two vertices", [line("l", 0, [(0, 0), (10, 0)])], []),
        ("one vertex", [line("l", 0, [(0, 0)])], [("l", 0)]),
        ("none", [line("l", 3, [])], [("l", 3)]),
    ],
}


@pytest.mark.parametrize(
    "check,rows,expected",
    [(check, rows, expected) for check, cases in CASES.items() for _, rows, expected in cases],
    ids=[f"{check}: {name}" for check, cases in CASES.items() for name, _, _ in cases],
)
def test_check(check: str, rows: list[dict[str, Any]], expected: list[tuple[str, int]]) -> None:
    assert found(rows, check) == expected


def test_every_check_has_cases() -> None:
    assert set(CASES) == set(qa.CHECK_NAMES)


def test_findings_carry_value_threshold_and_detail() -> None:
    table = pa.Table.from_pylist(
        [box("a", 0), box("a", 1, width=100)], schema=get_table("annotations").schema
    )
    (finding,) = qa.run_checks(table, checks=["size_jump"]).to_pylist()
    assert finding["value"] == pytest.approx(1.0) and finding["threshold"] == 0.25
    assert finding["detail"]


def test_thresholds_are_settings() -> None:
    rows = [box("a", 0), box("a", 1, width=60)]
    assert found(rows, "size_jump") == []
    table = pa.Table.from_pylist(rows, schema=get_table("annotations").schema)
    assert qa.run_checks(table, qa.QaConfig(size_jump=0.1), ["size_jump"]).num_rows == 1


def test_unknown_check_is_named() -> None:
    with pytest.raises(ValueError, match="unknown QA check"):
        qa.run_checks(get_table("annotations").empty(), checks=["nope"])


def test_a_single_image_has_no_short_tracks() -> None:
    from labellake.lake import get_table

    box = {"job_name": "j", "frame_no": 0, "shape": "box", "box_left": 1.0, "top": 1.0}
    images = pa.Table.from_pylist(
        [
            {**box, "source_ref": f"img-{n}.jpg", "object_id": str(k), "width": 9.0, "height": 9.0}
            for n in range(3)
            for k in range(2)
        ],
        schema=get_table("annotations").schema,
    )
    findings = qa.run_checks(images, checks=["short_track"])
    assert findings.num_rows == 0
