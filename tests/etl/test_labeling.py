"""Every example file loads with exactly the values it contains."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest

from labellake.etl import labeling, workers

EXAMPLES = Path(__file__).parents[1] / "fixtures/examples"
UTC = dt.UTC


def example(name: str) -> str:
    return (EXAMPLES / name).read_text()


def test_output_manifest_becomes_one_label_row_per_attribute() -> None:
    lines, problems = labeling.read_manifest(example("output.manifest"), "output.manifest")
    assert problems == []
    rows = labeling.labels_table(lines, "drive-0042-vehicle-audit", "drive-0042").to_pylist()
    assert rows == [
        {
            "batch_id": "drive-0042",
            "job_name": "drive-0042-vehicle-audit",
            "source_ref": "s3://example-input/drive-0042/clip-07_seq.json",
            "label_attribute": "drive-0042-vehicle-ref",
            "ref": "s3://example-processing/batch_manifests/VideoObjectTracking/drive-0042-first_"
            "level-drive-0042-vehicle/output/drive-0042-vehicle/annotations/consolidated-"
            "annotation/output/0/SeqLabel.json",
            "metadata_job_name": "drive-0042-vehicle",
            "type": "groundtruth/video-object-tracking",
            "class_map": [("0", "Vehicle")],
            "human_annotated": True,
            "creation_date": dt.datetime(2026, 11, 20, 10, 14, 7, 512000, tzinfo=UTC),
            "adjustment_status": None,
            "line_no": 1,
        },
        {
            "batch_id": "drive-0042",
            "job_name": "drive-0042-vehicle-audit",
            "source_ref": "s3://example-input/drive-0042/clip-07_seq.json",
            "label_attribute": "drive-0042-vehicle-audit-ref",
            "ref": "s3://example-processing/batch_manifests/VideoObjectTrackingAudit/drive-0042-"
            "second_level-drive-0042-vehicle-audit/output/drive-0042-vehicle-audit/"
            "annotations/consolidated-annotation/output/0/SeqLabel.json",
            "metadata_job_name": "drive-0042-vehicle-audit",
            "type": "groundtruth/video-object-tracking",
            "class_map": [("0", "Vehicle")],
            "human_annotated": True,
            "creation_date": dt.datetime(2026, 11, 21, 8, 2, 51, 100000, tzinfo=UTC),
            "adjustment_status": "adjusted",
            "line_no": 1,
        },
    ]


def seqlabel(name: str, class_map: dict[str, str]) -> list[dict[str, object]]:
    rows = labeling.AnnotationRows()
    labeling.add_seqlabel(
        rows,
        json.loads(example(name)),
        job_name="j",
        batch_id=None,
        source_ref="s",
        class_map=class_map,
        image_size=(1920, 1080),
    )
    return rows.table().to_pylist()


def test_tracking_boxes() -> None:
    rows = seqlabel("SeqLabel-tracking-boxes.json", {"0": "Vehicle"})
    assert len(rows) == 3
    assert rows[1] == {
        "batch_id": None,
        "job_name": "j",
        "source_ref": "s",
        "frame_no": 0,
        "frame": "000001.jpg",
        "object_id": "6c1b2a40-0000-4000-8000-000000000002",
        "object_name": "Vehicle:2",
        "class_id": 0,
        "label": "Vehicle",
        "shape": "box",
        "box_left": 1077.0,
        "top": 543.0,
        "width": 110.0,
        "height": 102.0,
        "points": None,
        "attributes": [("Moving", "Stationary"), ("Vehicle_Type", "Van")],
        "frame_attributes": [("Number_Of_Vehicles", "2")],
        "image_width": 1920,
        "image_height": 1080,
        "confidence": None,
        "audit": None,
        "occluded": None,
        "keyframe": None,
        "z_order": None,
    }
    assert (rows[2]["frame_no"], rows[2]["frame"], rows[2]["box_left"]) == (1, "000003.jpg", 955.0)
    assert rows[2]["frame_attributes"] is None


def test_tracking_polylines() -> None:
    rows = seqlabel("SeqLabel-tracking-polylines.json", {"0": "Lane"})
    assert [(r["object_name"], r["shape"], r["label"]) for r in rows] == [
        ("Lane:1", "polyline", "Lane"),
        ("Lane:2", "polyline", "Lane"),
    ]
    assert rows[0]["points"] == [
        {"x": 610.0, "y": 1080.0},
        {"x": 842.0, "y": 760.0},
        {"x": 930.0, "y": 640.0},
    ]
    assert rows[1]["attributes"] == [("Marking", "Road_Edge")]
    assert rows[0]["box_left"] is None


def test_detection_polygons_and_keypoints() -> None:
    rows = seqlabel(
        "SeqLabel-detection-polygons-keypoints.json",
        {"0": "Vehicle", "1": "Drivable_Area", "2": "Traffic_Light"},
    )
    by_shape = {r["shape"]: r for r in rows}
    assert set(by_shape) >= {"polygon", "keypoint"}
    assert by_shape["polygon"]["label"] == "Drivable_Area"
    assert by_shape["polygon"]["points"][0] == {"x": 320.0, "y": 1080.0}
    assert by_shape["keypoint"]["points"] == [{"x": 1210.0, "y": 233.0}]
    assert by_shape["keypoint"]["object_name"] == "Traffic_Light:1"


def test_single_image_bounding_boxes_inline() -> None:
    lines, _ = labeling.read_manifest(example("output-image-bounding-box.manifest"), "m")
    rows = labeling.AnnotationRows()
    refs, problems = labeling.job_annotations(lines, "vehicle-boxes", None, rows)
    assert refs == [] and problems == []
    got = rows.table().to_pylist()
    assert [
        (r["label"], r["box_left"], r["top"], r["width"], r["height"], r["confidence"]) for r in got
    ] == [("Car", 951.0, 540.0, 88.0, 61.0, 0.92), ("Truck", 1402.0, 512.0, 210.0, 140.0, 0.88)]
    assert {(r["image_width"], r["image_height"], r["frame"]) for r in got} == {
        (1920, 1080, "000123.jpg")
    }
    labels = labeling.labels_table(lines, "vehicle-boxes").to_pylist()
    assert labels[0]["ref"] is None and labels[0]["type"] == "groundtruth/object-detection"


def test_worker_response_example() -> None:
    rows, problems = workers.response_rows(
        json.loads(example("worker-response.json")),
        uri="r.json",
        job_name="j",
        batch_id=None,
        data_object_id="0",
        source_ref="s",
    )
    assert problems == []
    assert rows == [
        {
            "batch_id": None,
            "job_name": "j",
            "source_ref": "s",
            "data_object_id": "0",
            "worker_id": "private.us-east-1.7f3a0c2b9d4e5f60",
            "sub": "0d9c7a52-1111-4c2e-9b7e-3f5a6b7c8d9e",
            "acceptance_time": dt.datetime(2026, 11, 20, 9, 41, 12, 4000, tzinfo=UTC),
            "submission_time": dt.datetime(2026, 11, 20, 10, 13, 55, 771000, tzinfo=UTC),
            "time_spent_s": 1963.767,
            "response_uri": "r.json",
        }
    ]


def test_worker_activity_events_example() -> None:
    table, problems = workers.events_table(example("worker-activity-events.jsonl"), "events")
    assert problems == []
    first, second = table.to_pylist()
    assert first["job_name"] == "drive-0042-vehicle" and first["event_type"] == "TasksSubmitted"
    assert first["task_accepted_time"] == dt.datetime(2026, 11, 20, 9, 41, 12, tzinfo=UTC)
    assert first["task_submitted_time"] == dt.datetime(2026, 11, 20, 10, 13, 55, tzinfo=UTC)
    assert first["task_returned_time"] is None
    assert first["event_time"] == dt.datetime.fromtimestamp(1795686835, UTC)
    assert second["task_returned_time"] == dt.datetime(2026, 11, 20, 10, 20, 40, tzinfo=UTC)
    assert second["work_requester_account_id"] == "111122223333"


@pytest.mark.parametrize(
    "item,expected",
    [
        ({"class_id": 0, "left": "5", "top": 6, "width": "7.5", "height": 8}, (0, 5.0, 7.5)),
        (
            {"class-id": "1", "left": 5, "top": 6, "width": 7, "height": 8, "extra": {"x": 1}},
            (1, 5.0, 7.0),
        ),
        (
            {"class-id": "not a number", "left": 5, "top": 6, "width": 7, "height": 8},
            (None, 5.0, 7.0),
        ),
    ],
    ids=["class_id-and-strings", "unknown-field", "bad-number"],
)
def test_real_world_variants_are_accepted(
    item: dict[str, object], expected: tuple[object, ...]
) -> None:
    rows = labeling.AnnotationRows()
    labeling.add_seqlabel(
        rows,
        {"tracking-annotations": [{"frame-no": "3", "annotations": [{**item, "object-id": "o"}]}]},
        job_name="j",
        batch_id=None,
        source_ref="s",
        class_map={"0": "A", "1": "B"},
    )
    row = rows.table().to_pylist()[0]
    assert (row["class_id"], row["box_left"], row["width"]) == expected
    assert row["frame_no"] == 3


def test_dispatch_is_on_the_value_not_the_type() -> None:
    # The metadata says object-detection, but the value is a ref to a SeqLabel file.
    line = {
        "source-ref": "s",
        "job": "s3://b/SeqLabel.json",
        "job-metadata": {"type": "groundtruth/object-detection", "job-name": "labeling-job/job"},
    }
    rows = labeling.AnnotationRows()
    refs, _ = labeling.job_annotations([labeling.ManifestLine(1, line)], "job", None, rows)
    assert [r.uri for r in refs] == ["s3://b/SeqLabel.json"] and len(rows) == 0


@pytest.mark.parametrize(
    "text,timestamp",
    [
        ("Fri Nov 20 09:41:12 UTC 2026", "2026-11-20T09:41:12+00:00"),
        ("1795686835", "2026-11-26T09:53:55+00:00"),
        ("1795686835000", "2026-11-26T09:53:55+00:00"),
        ("2026-11-20T09:41:12.004Z", "2026-11-20T09:41:12.004000+00:00"),
        ("2026-11-20T09:41:12", "2026-11-20T09:41:12+00:00"),
    ],
)
def test_activity_timestamp_formats(text: str, timestamp: str) -> None:
    assert workers.parse_time(text).isoformat() == timestamp
    assert workers.parse_time("") is None


FAST_CASES = [
    ("SeqLabel-tracking-boxes.json", {"0": "Vehicle"}),
    ("SeqLabel-tracking-polylines.json", {"0": "Lane"}),
    (
        "SeqLabel-detection-polygons-keypoints.json",
        {"0": "Vehicle", "1": "Drivable_Area", "2": "Traffic_Light"},
    ),
]


def _slow(file: labeling.SeqLabelFile) -> list[dict[str, object]]:
    rows = labeling.AnnotationRows()
    labeling.add_seqlabel(
        rows,
        json.loads(file.data),
        job_name="j",
        batch_id="b",
        source_ref=file.source_ref,
        class_map=file.class_map,
        image_size=file.image_size,
    )
    return rows.table().to_pylist()


def _key(row: dict[str, object]) -> tuple[str, ...]:
    return (str(row["source_ref"]), str(row["frame_no"]), str(row["object_id"]))


@pytest.mark.parametrize("name,class_map", FAST_CASES)
def test_fast_path_equals_the_tolerant_path(name: str, class_map: dict[str, str]) -> None:
    file = labeling.SeqLabelFile((EXAMPLES / name).read_bytes(), "s", class_map, (1920, 1080))
    assert labeling.flatten_seqlabels([file], "j", "b").to_pylist() == _slow(file)


def test_fast_path_over_many_files_with_different_class_maps() -> None:
    files = [
        labeling.SeqLabelFile((EXAMPLES / name).read_bytes(), f"clip-{i}", cmap, None)
        for i, (name, cmap) in enumerate(FAST_CASES * 3)
    ]
    fast = sorted(labeling.flatten_seqlabels(files, "j", "b").to_pylist(), key=_key)
    slow = sorted((row for f in files for row in _slow(f)), key=_key)
    assert fast == slow


@pytest.mark.parametrize(
    "text",
    [
        '{"tracking-annotations": [{"frame-no": 0, "frame": "a.jpg", "annotations": []}]}',
        '{"tracking-annotations": [{"frame-no": "0", "annotations": [{"left": "5", "top": 1, '
        '"width": 2, "height": 2, "class-id": "0", "object-id": "o"}]}]}',
        '{"version": "no frames here"}',
    ],
    ids=["number-frame-no", "string-number", "no-frames"],
)
def test_fast_path_refuses_what_the_tolerant_path_handles(text: str) -> None:
    with pytest.raises((pa.ArrowException, ValueError)):
        labeling.flatten_seqlabels([labeling.SeqLabelFile(text.encode(), "s", {})], "j")


def test_lines_without_usable_labels_are_problems_at_their_line() -> None:
    lines = [
        labeling.ManifestLine(1, {"source-ref": "a", "job-ref": 42, "job-ref-metadata": {}}),
        labeling.ManifestLine(
            2,
            {
                "source-ref": "b",
                "job-ref-metadata": {"failure-reason": "ClientError: task expired"},
            },
        ),
        labeling.ManifestLine(
            3, {"source-ref": "c", "other-ref": "s3://x", "other-ref-metadata": {}}
        ),
    ]
    refs, problems = labeling.job_annotations(lines, "job", None, labeling.AnnotationRows(), "m")
    assert refs == []
    assert [(p.file, p.line) for p in problems] == [("m", 1), ("m", 2), ("m", 3)]
    assert "neither a SeqLabel file reference nor annotations" in problems[0].reason
    assert problems[1].reason == "not labeled: ClientError: task expired"
