"""The labeling page's geometry: interpolation, copying, checks, Ground Truth conversion."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labellake.workflows.labeling import drafts, formats, simulation

VEHICLE = {
    "annotationType": "BoundingBox",
    "frameAttributes": [{"name": "Quality", "type": "string", "enum": ["Good", "Blurry"]}],
    "labels": [
        {"label": "Car", "attributes": [{"name": "Moving", "type": "string", "enum": ["Y", "N"]}]},
        {"label": "Bus"},
    ],
}
LANE = {"annotationType": "Polyline", "labels": [{"label": "Lane"}]}


def _box(object_id: str, box: list[float], keyframe: bool = True, **attrs: str) -> dict[str, Any]:
    return {
        "id": object_id,
        "name": f"Car:{object_id}",
        "label": "Car",
        "kind": "box",
        "box": box,
        "attributes": attrs,
        "keyframe": keyframe,
    }


def test_interpolation_fills_the_frames_between_keyframes() -> None:
    draft = drafts.empty_draft([f"{i}.jpg" for i in range(6)])
    draft["frames"][0]["objects"].append(_box("a", [0, 0, 10, 10]))
    draft["frames"][4]["objects"].append(_box("a", [40, 20, 30, 10]))
    draft["frames"][2]["objects"].append(_box("b", [5, 5, 5, 5]))  # another object stays
    result = drafts.interpolate(draft, "a")
    boxes = [[o["box"] for o in f["objects"] if o["id"] == "a"] for f in result["frames"]]
    assert boxes == [
        [[0, 0, 10, 10]],
        [[10, 5, 15, 10]],
        [[20, 10, 20, 10]],
        [[30, 15, 25, 10]],
        [[40, 20, 30, 10]],
        [],
    ]
    assert [o["keyframe"] for o in result["frames"][2]["objects"]] == [True, False]
    assert draft["frames"][1]["objects"] == []  # the input is left alone
    # Re-interpolating after moving a keyframe replaces the filled-in boxes.
    result["frames"][4]["objects"][0]["box"] = [80, 20, 10, 10]
    again = drafts.interpolate(result, "a")
    assert [o["box"] for o in again["frames"][2]["objects"] if o["id"] == "a"] == [[40, 10, 10, 10]]


def test_polylines_interpolate_vertex_by_vertex_when_counts_match() -> None:
    draft = drafts.empty_draft(["1", "2", "3"])
    line = {"id": "l", "name": "Lane:1", "label": "Lane", "kind": "polyline", "keyframe": True}
    draft["frames"][0]["objects"].append({**line, "points": [[0, 0], [10, 10]]})
    draft["frames"][2]["objects"].append({**line, "points": [[20, 0], [30, 30]]})
    assert drafts.interpolate(draft, "l")["frames"][1]["objects"][0]["points"] == [
        [10, 0],
        [20, 20],
    ]
    draft["frames"][2]["objects"][0]["points"].append([40, 40])
    assert drafts.interpolate(draft, "l")["frames"][1]["objects"] == []


def test_copy_from_the_previous_frame_keeps_ids() -> None:
    draft = drafts.empty_draft(["1", "2"])
    draft["frames"][0]["objects"] += [_box("a", [1, 1, 5, 5]), _box("b", [9, 9, 5, 5])]
    draft["frames"][1]["objects"].append(_box("b", [12, 9, 5, 5]))
    copied = drafts.copy_previous(draft, 1)
    assert {o["id"]: o["box"] for o in copied["frames"][1]["objects"]} == {
        "b": [12, 9, 5, 5],  # already there: kept where the worker put it
        "a": [1, 1, 5, 5],
    }
    assert drafts.copy_previous(draft, 0) == draft


def test_checks_name_the_frame_and_object() -> None:
    draft = drafts.empty_draft(["1", "2"])
    draft["frames"][1]["objects"] += [
        _box("a", [630, 0, 20, 10]),
        _box("b", [0, 0, 0, 10]),
        _box("c", [0, 0, 10, 10], Moving="Maybe"),
        _box("d", [0, 0, 10, 10], Colour="red"),
    ]
    draft["frames"][0]["attributes"] = {"Quality": "Dark"}
    problems = drafts.validate(draft, VEHICLE, 640, 360)
    assert problems == [
        "frame 1: attribute 'Quality' is 'Dark', which is not one of Good, Blurry",
        "frame 2, Car:a: the box (630, 0, 20 x 10) reaches outside the 640 x 360 image",
        "frame 2, Car:b: the box has a negative or zero size (0 x 10)",
        "frame 2, Car:c: attribute 'Moving' is 'Maybe', which is not one of Y, N",
        "frame 2, Car:d: unknown attribute 'Colour' (this config has: Moving)",
    ]
    lane = drafts.empty_draft(["1"])
    lane["frames"][0]["objects"].append(
        {"id": "l", "name": "Lane:1", "label": "Lane", "kind": "polyline", "points": [[1, 1]]}
    )
    assert drafts.validate(lane, LANE, 640, 360) == [
        "frame 1, Lane:1: a polyline needs at least 2 vertices, this one has 1"
    ]
    lane["frames"][0]["objects"][0]["kind"] = "box"
    assert "a box in a job that labels polylines" in drafts.validate(lane, LANE, 640, 360)[0]
    assert drafts.validate({"frames": "x"}, LANE, 1, 1)[0].startswith("the labels are not")
    audit = drafts.empty_draft(["1"])
    audit["frames"][0]["objects"].append(_box("a", [0, 0, 5, 5]))
    config = formats.audit_config(VEHICLE, "parent-ref")
    assert drafts.validate(audit, config, 640, 360, audit=True) == [
        "frame 1, Car:a: mark the object Pass or Fail (attribute 'audit')"
    ]


def test_seqlabel_round_trip_and_adjustment() -> None:
    draft = drafts.empty_draft(["000001.jpg", "000002.jpg"])
    draft["frames"][0]["objects"].append(_box("a", [10.4, 20, 30, 40], Moving="Y"))
    draft["frames"][1]["objects"].append({**_box("a", [12, 20, 30, 40]), "label": "Bus"})
    draft["frames"][1]["attributes"] = {"Quality": "Good"}
    frames = drafts.to_frame_labels(draft, VEHICLE)
    document = json.loads(json.dumps(formats.seqlabel_document(frames, tracking=True)))
    first = document["tracking-annotations"][0]["annotations"][0]
    assert first == {
        "height": 40,
        "width": 30,
        "top": 20,
        "left": 10,
        "class-id": "0",
        "label-category-attributes": {"Moving": "Y"},
        "object-id": "a",
        "object-name": "Car:a",
    }
    assert document["tracking-annotations"][1]["annotations"][0]["class-id"] == "1"
    back = drafts.from_frame_labels(
        simulation.parse_seqlabel(document, "box"),
        ["000001.jpg", "000002.jpg"],
        formats.class_map(VEHICLE),
    )
    assert not drafts.adjusted(draft, back)  # rounding to whole pixels is no change
    verdicts = drafts.set_object_attribute(back, "a", "audit", "Pass")
    assert not drafts.adjusted(back, verdicts)  # verdicts are not adjustments
    moved = json.loads(json.dumps(verdicts))
    moved["frames"][1]["objects"][0]["box"][0] += 3
    assert drafts.adjusted(back, moved)
    relabeled = json.loads(json.dumps(verdicts))
    relabeled["frames"][0]["objects"][0]["label"] = "Bus"
    assert drafts.adjusted(back, relabeled)
    deleted = json.loads(json.dumps(verdicts))
    deleted["frames"][0]["objects"] = []
    assert drafts.adjusted(back, deleted)


@pytest.mark.parametrize("box", [[0, 0, -1, 4], [0, 0, "x", 4], [0, 0, float("nan"), 4], [1, 2]])
def test_malformed_boxes(box: list[Any]) -> None:
    draft = drafts.empty_draft(["1"])
    draft["frames"][0]["objects"].append(_box("a", box))
    assert len(drafts.validate(draft, VEHICLE, 640, 360)) == 1
