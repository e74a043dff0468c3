"""Label category configs as Label Studio labeling configs, and labels both ways (no server)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from labellake.workflows.labeling import formats
from labellake.workflows.labeling.backends import labelstudio_labels as labels
from labellake.workflows.labeling.backends.labelstudio import LabelStudioBackend
from labellake.workflows.samples.synthetic import LANE_CONFIG, VEHICLE_CONFIG

TWO_LABELS = {
    "annotationType": "BoundingBox",
    "labels": [
        {
            "label": "Car",
            "attributes": [
                {"name": "Moving", "type": "string", "enum": ["Yes", "No"]},
                {"name": "Plate", "type": "string"},
            ],
        },
        {
            "label": "Person & Bike",
            "attributes": [{"name": "Moving", "type": "string", "enum": ["Yes", "No"]}],
        },
    ],
    "frameAttributes": [{"name": "Light level", "type": "number", "minValue": 0, "maxValue": 5}],
    "instructions": {"shortInstruction": 'Box "every" <thing>.'},
}


def test_a_video_config_has_the_video_tags_and_a_control_per_attribute() -> None:
    xml = labels.labeling_config(TWO_LABELS, "VideoObjectTracking")
    view = ET.fromstring(xml)  # well-formed, with the quotes and brackets escaped
    tags = {child.tag: child for child in view}
    assert tags["Video"].attrib == {"name": "media", "value": "$media", "framerate": "10"}
    assert tags["VideoRectangle"].attrib["toName"] == "media"
    assert [label.attrib["value"] for label in tags["Labels"]] == ["Car", "Person & Bike"]
    assert view[0].tag == "Header" and view[0].attrib["value"] == 'Box "every" <thing>.'
    choices = [c for c in view if c.tag == "Choices"]
    assert [(c.attrib["name"], c.attrib.get("whenLabelValue")) for c in choices] == [
        ("attr_Moving", None)
    ]
    assert choices[0].attrib["perRegion"] == "true"
    (plate,) = [c for c in view if c.tag == "TextArea"]
    assert plate.attrib["whenLabelValue"] == "Car" and plate.attrib["name"] == "attr_Car_Plate"
    (light,) = [c for c in view if c.tag == "Number"]
    assert light.attrib == {"name": "frame_Light_level", "toName": "media", "min": "0", "max": "5"}


def test_an_audit_config_requires_pass_or_fail_per_region() -> None:
    config = formats.audit_config(VEHICLE_CONFIG, "job-ref")
    view = ET.fromstring(labels.labeling_config(config, "VideoObjectTrackingAudit"))
    (audit,) = [c for c in view if c.tag == "Choices" and c.attrib["name"] == "audit"]
    assert audit.attrib["required"] == "true" and audit.attrib["perRegion"] == "true"
    assert [c.attrib["value"] for c in audit] == ["Pass", "Fail"]


@pytest.mark.parametrize(
    ("kind", "tag"),
    [
        ("BoundingBox", "RectangleLabels"),
        ("Polygon", "PolygonLabels"),
        ("Keypoint", "KeyPointLabels"),
    ],
)
def test_image_configs_use_the_image_controls(kind: str, tag: str) -> None:
    view = ET.fromstring(
        labels.labeling_config({**VEHICLE_CONFIG, "annotationType": kind}, "BoundingBox")
    )
    assert view.find("Image") is not None and view.find(tag) is not None


def test_what_label_studio_cannot_label_is_named() -> None:
    assert labels.unsupported("VideoObjectTracking", "box") is None
    assert labels.unsupported("BoundingBox", "box") is None
    assert "only rectangles on video" in labels.unsupported("VideoObjectTrackingAudit", "polyline")
    assert "PointCloudObjectTracking" in labels.unsupported("PointCloudObjectTracking", "box")
    backend = LabelStudioBackend(None, None, None)  # type: ignore[arg-type]
    with pytest.raises(Exception, match="job lanes: Label Studio labels only rectangles"):
        backend.check_labels("lanes", "VideoObjectTracking", formats.annotation_type(LANE_CONFIG))


def clip() -> list[formats.FrameLabels]:
    frames = [
        formats.FrameLabels(i, f"{i + 1:06d}.jpg", attributes={"Light level": "3"})
        for i in range(6)
    ]
    for i in (0, 1, 2, 4):  # a track with a gap at frame 3, and one on the last frame alone
        frames[i].shapes.append(
            formats.Shape(
                "car-1", "Car:1", 0, "box", (10.0 + i, 20.0, 30.0, 40.0), None, {"Moving": "Yes"}
            )
        )
    frames[5].shapes.append(
        formats.Shape("bike-7", "Person & Bike:1", 1, "box", (1.0, 2.0, 3.0, 4.0))
    )
    return frames


def test_frames_survive_the_round_trip_through_video_regions() -> None:
    frames = clip()
    regions, known = labels.video_regions(frames, TWO_LABELS, (200, 100), len(frames))
    names = [f.frame for f in frames]
    back = labels.video_frames(regions, TWO_LABELS, names, (200, 100), known)
    assert back.skipped == []
    assert labels.comparable(back.frames) == labels.comparable(frames)
    assert [f.attributes for f in back.frames] == [{"Light level": "3"}] * 6


def test_an_auditors_change_and_verdicts_are_told_apart() -> None:
    frames = clip()
    regions, known = labels.video_regions(frames, TWO_LABELS, (200, 100), len(frames))
    verdicts = [
        {
            "id": r["id"],
            "from_name": "audit",
            "to_name": "media",
            "type": "choices",
            "value": {"choices": ["Pass"]},
        }
        for r in regions
        if r["type"] == "videorectangle"
    ]
    names = [f.frame for f in frames]
    passed = labels.video_frames(
        regions + verdicts, formats.audit_config(TWO_LABELS, "x"), names, (200, 100), known
    )
    assert labels.comparable(passed.frames) == labels.comparable(frames)
    assert {s.attributes.get("audit") for f in passed.frames for s in f.shapes} == {"Pass"}
    regions[0]["value"]["sequence"][0]["x"] += 5  # the auditor moves the car on frame 1
    moved = labels.video_frames(regions, TWO_LABELS, names, (200, 100), known)
    assert labels.comparable(moved.frames) != labels.comparable(frames)


def test_regions_that_cannot_become_ground_truth_labels_are_named() -> None:
    results = [
        {
            "id": "a",
            "from_name": "box",
            "type": "videorectangle",
            "value": {"sequence": [{"frame": 1, "x": 1, "y": 1, "width": 1, "height": 1}]},
        },
        {
            "id": "b",
            "from_name": "box",
            "type": "videorectangle",
            "value": {
                "labels": ["Truck"],
                "sequence": [{"frame": 1, "x": 1, "y": 1, "width": 1, "height": 1}],
            },
        },
        {
            "id": "c",
            "from_name": "box",
            "type": "videorectangle",
            "value": {"labels": ["Car"], "sequence": []},
        },
    ]
    converted = labels.video_frames(results, TWO_LABELS, ["1.jpg"], (10, 10))
    assert converted.skipped == [
        "region a: no label chosen",
        "region b: label 'Truck' is not in the label category config",
        "region c: a video box without keyframes",
    ]


def test_a_long_job_name_makes_a_title_label_studio_takes() -> None:
    backend = LabelStudioBackend(None, "http://127.0.0.1:1", "t", title_prefix="team-a/")  # type: ignore[arg-type]
    title = backend._title("j" * 63)
    assert len(title) == 50 and title.startswith("team-a/jjj")
    assert backend._title("j" * 63) != backend._title("j" * 62 + "k")


def test_the_webhook_needs_its_token(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from labellake.portal.api import create_app
    from labellake.settings import Settings
    from labellake.workflows import compose

    home = compose.open_home(
        Settings(
            home=tmp_path,
            labelstudio_url="http://127.0.0.1:9",
            labelstudio_token="t",
            labelstudio_webhook_url="http://127.0.0.1:8000/labelstudio/webhook",
        )
    )
    engine = compose.build_engine(home)
    api = TestClient(create_app(engine, token="admin"))
    body = {
        "action": "ANNOTATION_CREATED",
        "project": {"id": 7, "task_number": 2, "finished_task_number": 1},
    }
    assert api.post("/labelstudio/webhook", json=body).status_code == 403
    wrong = api.post(
        "/labelstudio/webhook", json=body, headers={"X-Labellake-Webhook-Token": "admin"}
    )
    assert wrong.status_code == 403
    good = api.post(
        "/labelstudio/webhook",
        json=body,
        headers={"X-Labellake-Webhook-Token": compose.webhook_token(home)},
    )
    assert good.status_code == 200 and good.json() == {"project": "7"}
    assert (tmp_path / "objects/labelstudio/webhooks/7.json").exists()
