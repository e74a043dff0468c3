"""Label Studio JSON exports -> annotations rows, and back."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from labellake.errors import LabellakeError
from labellake.etl.export import Frame
from labellake.etl.formats import ImportLog, labelstudio
from labellake.etl.formats.labelstudio import (
    Keyframe,
    covered_frames,
    expand,
    read_labelstudio,
    to_labelstudio,
)

FIXTURES = Path(__file__).parents[2] / "fixtures/labelstudio"
IMAGE_EXPORTS = ["image_rectangles.json", "image_mixed.json", "image_keypoints.json"]
KINDS = {"rectanglelabels": "box", "polygonlabels": "polygon", "keypointlabels": "keypoint"}


def read(
    data: bytes | Path, log: ImportLog | None = None, **options: Any
) -> tuple[pa.Table, pa.Table | None, ImportLog]:
    """All rows of one export, the worker responses and the log."""
    log = log or ImportLog()
    raw = data.read_bytes() if isinstance(data, Path) else data
    chunks = list(
        read_labelstudio(
            "export.json", io.BytesIO(raw), job_name="ls-job", batch_id=None, log=log, **options
        )
    )
    tables = [c.annotations for c in chunks if c.annotations is not None]
    workers = [c.worker_responses for c in chunks if c.worker_responses is not None]
    log.wrote("export.json", sum(t.num_rows for t in tables))
    empty = labelstudio.AnnotationRows().table()
    return (
        pa.concat_tables(tables) if tables else empty,
        pa.concat_tables(workers) if workers else None,
        log,
    )


def video_task() -> bytes:
    """The editor's video example as one task, composed as its index.js composes it."""
    tasks = json.loads((FIXTURES / "video_tasks.json").read_text())
    annotation = json.loads((FIXTURES / "video_annotation.json").read_text())
    return json.dumps([{"id": 1, **tasks[0], **annotation}]).encode()


def expected_regions(export: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(source, region id, shape, label) per region of an image export, parsed plainly."""
    regions = []
    for task in export:
        for annotation in task["annotations"]:
            if annotation.get("was_cancelled"):
                continue
            for result in annotation["result"]:
                if result["type"] in KINDS:
                    value = result["value"]
                    regions.append(
                        (
                            task["data"]["image"],
                            result["id"],
                            KINDS[result["type"]],
                            value[result["type"]][0],
                        )
                    )
    return sorted(regions)


@pytest.mark.parametrize("name", IMAGE_EXPORTS)
def test_real_image_exports_become_one_row_per_region(name: str) -> None:
    export = json.loads((FIXTURES / name).read_text())
    rows, _, log = read(FIXTURES / name)
    got = sorted(
        (r["source_ref"], r["object_id"], r["shape"], r["label"]) for r in rows.to_pylist()
    )
    assert got == expected_regions(export)
    assert set(rows.column("frame_no").to_pylist()) == {0}
    assert not log.unexplained


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        ("image_rectangles.json", {"box": 6}),
        ("image_mixed.json", {"box": 1, "polygon": 1, "keypoint": 2}),
        ("image_keypoints.json", {"box": 1, "keypoint": 3}),
    ],
)
def test_real_image_exports_count_each_shape_kind(name: str, kinds: dict[str, int]) -> None:
    rows, _, log = read(FIXTURES / name)
    assert Counter(rows.column("shape").to_pylist()) == kinds
    assert log.seen == sum(kinds.values()) == log.written


def test_percent_becomes_pixels_of_the_original_image() -> None:
    export = json.loads((FIXTURES / "image_mixed.json").read_text())
    result = export[0]["annotations"][0]["result"][0]  # a rectangle on a 500 x 320 image
    rows, _, _ = read(FIXTURES / "image_mixed.json")
    row = next(r for r in rows.to_pylist() if r["object_id"] == result["id"])
    value = result["value"]
    assert row["box_left"] == pytest.approx(value["x"] * 500 / 100)
    assert row["top"] == pytest.approx(value["y"] * 320 / 100)
    assert row["width"] == pytest.approx(value["width"] * 500 / 100)
    assert (row["image_width"], row["image_height"]) == (500, 320)
    assert row["frame"] == "test_image1.jpg"


def test_worker_responses_come_from_each_annotation() -> None:
    _, workers, _ = read(FIXTURES / "image_rectangles.json")
    assert workers is not None
    got = workers.to_pylist()
    assert [(w["data_object_id"], w["worker_id"]) for w in got] == [
        ("1", "2"),
        ("1", "1"),
        ("2", "1"),
    ]
    first = got[0]
    assert first["time_spent_s"] == pytest.approx(1235.418)
    spent = (first["submission_time"] - first["acceptance_time"]).total_seconds()
    assert spent == pytest.approx(1235.418)
    assert first["response_uri"] == "export.json#task=1"
    assert first["source_ref"] == "/image1"


def test_a_completed_by_object_names_the_worker_by_id() -> None:
    _, workers, _ = read(FIXTURES / "image_keypoints.json")
    assert workers is not None
    assert workers.column("worker_id").to_pylist() == ["1"]


def test_relations_are_noted_not_shapes() -> None:
    _, _, log = read(FIXTURES / "image_keypoints.json")
    assert [p.reason for p in log.problems] == [
        "5 result(s) of type relation are not shapes and were not imported as annotations"
    ]


# Video rectangles


def test_real_video_export_expands_keyframes_as_label_studio_draws_them() -> None:
    rows, _, log = read(video_task(), video_size=(1280, 720))
    frames: dict[str, list[int]] = {}
    for row in rows.to_pylist():
        frames.setdefault(row["label"], []).append(row["frame_no"])
    # Car: 1 enabled -> 5 disabled: frames 1..5.
    assert frames["Car"] == list(range(0, 5))
    # Airplane: 33 -> 57 interpolated, 57 disabled alone, 76 -> 104, 104 holds to 1009.
    assert frames["Airplane"] == list(range(32, 57)) + list(range(75, 1009))
    # Possum: 44 enabled keyframes from 6 to 69, the last holding to frame 1009.
    assert frames["Possum"] == list(range(5, 1009))
    assert log.seen == 5 + 959 + 1004 == rows.num_rows
    assert not log.unexplained


def test_video_keyframes_are_marked_and_ids_stay_with_the_track() -> None:
    annotation = json.loads((FIXTURES / "video_annotation.json").read_text())
    rows, _, _ = read(video_task(), video_size=(1280, 720))
    for region in annotation["annotations"][0]["result"]:
        track = [r for r in rows.to_pylist() if r["object_id"] == region["id"]]
        keys = {r["frame_no"] + 1 for r in track if r["keyframe"]}
        assert keys == {item["frame"] for item in region["value"]["sequence"]}
        assert {r["label"] for r in track} == set(region["value"]["labels"])
        assert {r["source_ref"] for r in track} == {
            "https://app.heartex.ai/static/samples/opossum_snow.mp4"
        }


def test_a_negative_height_is_a_box_drawn_upwards() -> None:
    rows, _, _ = read(video_task(), video_size=(1280, 720))
    row = next(r for r in rows.to_pylist() if r["label"] == "Airplane" and r["frame_no"] == 32)
    # frame 33: y 92.083..%, height -15.972..% of 720 px
    assert row["height"] == pytest.approx(15.972222222222221 * 7.2)
    assert row["top"] == pytest.approx((92.08333333333333 - 15.972222222222221) * 7.2)


def test_video_without_a_size_is_dropped_naming_the_fix() -> None:
    rows, _, log = read(video_task())
    assert rows.num_rows == 0
    assert log.seen == log.explained == 1968
    drops = [p for p in log.problems if p.shapes]
    assert len(drops) == 3
    assert all("pass video_size=(width, height)" in p.reason for p in drops)
    assert "region FstfiS1SLJ" in drops[1].reason and "task 1" in drops[1].reason
    assert not log.unexplained


def test_annotation_without_task_data_is_dropped_naming_the_fix() -> None:
    rows, _, log = read(FIXTURES / "video_annotation.json", video_size=(1280, 720))
    assert rows.num_rows == 0
    assert log.seen == log.explained == 1968
    assert all("no data value" in p.reason for p in log.problems if p.shapes)


SEQUENCE = [
    {"frame": 1, "enabled": True, "x": 10, "y": 20, "width": 30, "height": 40, "rotation": 0},
    {"frame": 5, "enabled": False, "x": 50, "y": 20, "width": 30, "height": 40, "rotation": 0},
    {"frame": 8, "enabled": True, "x": 0, "y": 50, "width": 10, "height": 10, "rotation": 0},
]


def one_track(sequence: list[dict[str, Any]], frames_count: int | None = 10) -> bytes:
    value = {"sequence": sequence, "labels": ["Car"]}
    if frames_count is not None:
        value["framesCount"] = frames_count
    region = {"id": "trk", "type": "videorectangle", "to_name": "video", "value": value}
    task = {"id": 7, "data": {"video": "clip.mp4"}, "annotations": [{"id": 3, "result": [region]}]}
    return json.dumps([task]).encode()


def test_videorectangle_interpolation_by_hand() -> None:
    rows, _, log = read(one_track(SEQUENCE), video_size=(200, 100))
    got = {
        r["frame_no"]: (r["box_left"], r["top"], r["width"], r["height"], r["keyframe"])
        for r in rows.to_pylist()
    }
    # 200 x 100 px: x% * 2, y% * 1. Frames 1..4 move x from 10% to 50%; 5 is disabled
    # and stands alone; 6 and 7 are empty; 8 is enabled and holds to frame 10.
    assert got == {
        0: (20.0, 20.0, 60.0, 40.0, True),
        1: (40.0, 20.0, 60.0, 40.0, False),
        2: (60.0, 20.0, 60.0, 40.0, False),
        3: (80.0, 20.0, 60.0, 40.0, False),
        4: (100.0, 20.0, 60.0, 40.0, True),
        7: (0.0, 50.0, 20.0, 10.0, True),
        8: (0.0, 50.0, 20.0, 10.0, False),
        9: (0.0, 50.0, 20.0, 10.0, False),
    }
    assert log.seen == 8


def test_the_last_keyframe_stands_alone_without_a_frame_count() -> None:
    rows, _, log = read(one_track(SEQUENCE, frames_count=None), video_size=(200, 100))
    assert sorted(rows.column("frame_no").to_pylist()) == [0, 1, 2, 3, 4, 7]
    assert log.seen == 6


@pytest.mark.parametrize(
    ("keys", "frames_count", "covered"),
    [
        ([(1, True)], 10, 10),
        ([(1, False)], 10, 1),
        ([(3, True), (6, False)], None, 4),
        ([(1, True), (5, False), (8, True)], 10, 8),
        ([(1, True), (5, True)], 3, 5),  # a frame count short of the keyframes
        ([(5, True), (1, True)], 6, 6),  # order does not matter
    ],
)
def test_covered_frames(
    keys: list[tuple[int, bool]], frames_count: int | None, covered: int
) -> None:
    assert covered_frames(keys, frames_count) == covered
    keyframes = [Keyframe(frame, enabled, 0, 0, 1, 1) for frame, enabled in keys]
    assert len(list(expand(keyframes, frames_count))) == covered


def test_a_sequence_item_without_numbers_drops_the_track() -> None:
    broken = [dict(SEQUENCE[0]), {"frame": 5, "enabled": True, "x": "left", "y": 1}]
    rows, _, log = read(one_track(broken), video_size=(200, 100))
    assert rows.num_rows == 0
    assert log.seen == log.explained == 10
    assert "sequence item 2" in log.problems[0].reason


# What is imported and what is not


def image_task(results: list[dict[str, Any]], **task: Any) -> dict[str, Any]:
    return {
        "id": 11,
        "data": {"image": "s3://bucket/a.jpg"},
        "annotations": [{"id": 21, "completed_by": 4, "result": results}],
        **task,
    }


def rectangle(region: str = "r1", **value: Any) -> dict[str, Any]:
    return {
        "id": region,
        "type": "rectanglelabels",
        "to_name": "image",
        "original_width": 400,
        "original_height": 200,
        "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rectanglelabels": ["Car"], **value},
    }


def export(*tasks: dict[str, Any]) -> bytes:
    return json.dumps(list(tasks)).encode()


def test_per_region_results_become_attributes() -> None:
    results = [
        rectangle(),
        {"id": "r1", "type": "choices", "from_name": "colour", "value": {"choices": ["red"]}},
        {"id": "r1", "type": "textarea", "from_name": "note", "value": {"text": ["dented"]}},
        {"id": "t1", "type": "choices", "from_name": "weather", "value": {"choices": ["rain"]}},
    ]
    rows, _, log = read(export(image_task(results)))
    assert dict(rows.column("attributes").to_pylist()[0]) == {
        "colour": "red",
        "note": "dented",
        "annotation_id": "21",
    }
    assert [p.reason for p in log.problems] == [
        "1 result(s) of type choices are not shapes and were not imported as annotations"
    ]


def test_a_string_number_is_read_as_a_number() -> None:
    rows, _, log = read(export(image_task([rectangle(x="25.5")])))
    assert rows.column("box_left").to_pylist() == [pytest.approx(102.0)]
    assert not log.problems


def test_a_region_with_a_missing_value_is_dropped_with_a_reason() -> None:
    broken = rectangle("r2")
    del broken["value"]["width"]
    rows, _, log = read(export(image_task([rectangle(), broken])))
    assert rows.num_rows == 1
    assert (log.seen, log.written, log.explained) == (2, 1, 1)
    assert log.problems[0].reason == (
        "task 11, annotation 21, region r2: x, y, width or height is missing or not a number; "
        "fix the region"
    )


def test_brush_masks_are_seen_and_dropped() -> None:
    brush = {"id": "b1", "type": "brushlabels", "value": {"format": "rle", "rle": [1, 2]}}
    rows, _, log = read(export(image_task([rectangle(), brush, dict(brush, id="b2")])))
    assert rows.num_rows == 1
    assert (log.seen, log.explained) == (3, 2)
    assert "2 region(s) of type brushlabels (tasks 11)" in log.problems[0].reason
    assert not log.unexplained


def test_cancelled_annotations_are_noted_not_imported() -> None:
    task = image_task([rectangle()])
    task["annotations"][0]["was_cancelled"] = True
    rows, _, log = read(export(task))
    assert rows.num_rows == 0 and log.seen == 0
    assert "1 annotation(s) marked was_cancelled" in log.problems[0].reason
    assert "11/21" in log.problems[0].reason


def test_predictions_are_imported_only_where_a_task_has_no_annotation() -> None:
    prediction = {"id": 9, "model_version": "yolo", "score": 0.8, "result": [rectangle("p1")]}
    annotated = image_task([rectangle()], predictions=[prediction])
    unannotated = {
        "id": 12,
        "data": {"image": "b.jpg"},
        "annotations": [],
        "predictions": [prediction],
    }
    rows, workers, log = read(export(annotated, unannotated))
    got = {(r["source_ref"], r["object_id"], r["confidence"]) for r in rows.to_pylist()}
    assert got == {("s3://bucket/a.jpg", "r1", None), ("b.jpg", "p1", 0.8)}
    predicted = next(r for r in rows.to_pylist() if r["object_id"] == "p1")
    assert dict(predicted["attributes"]) == {"prediction_id": "9", "model_version": "yolo"}
    assert "1 prediction(s) on tasks that have annotations not imported" in log.problems[0].reason
    assert workers is not None and workers.num_rows == 1  # predictions have no worker


def test_an_open_polygon_is_a_polyline() -> None:
    line = {
        "id": "l1",
        "type": "polygonlabels",
        "original_width": 100,
        "original_height": 100,
        "value": {"points": [[0, 0], [50, 50]], "closed": False, "polygonlabels": ["Lane"]},
    }
    rows, _, _ = read(export(image_task([line])))
    assert rows.column("shape").to_pylist() == ["polyline"]
    assert rows.column("points").to_pylist() == [[{"x": 0.0, "y": 0.0}, {"x": 50.0, "y": 50.0}]]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[{",
        b'[{"id": 1, "data": {"image": "a.jpg"}, "annotations": [}]',
        b"[" + json.dumps(image_task([rectangle()])).encode() + b', {"id": 2, "data": ',
    ],
)
def test_malformed_json_is_a_clear_problem_not_a_traceback(raw: bytes) -> None:
    rows, _, log = read(raw)
    assert any("not valid JSON" in p.reason for p in log.problems)
    assert not log.unexplained
    assert all(b"data" not in p.reason.encode() for p in log.problems)  # no file content


def test_tasks_before_a_truncation_are_kept() -> None:
    raw = b"[" + json.dumps(image_task([rectangle()])).encode() + b', {"id": 2, "data": '
    rows, _, log = read(raw)
    assert rows.num_rows == 1
    assert log.problems[0].reason.startswith("not valid JSON after 1 task(s)")


def test_rows_come_in_bounded_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(labelstudio, "CHUNK_ROWS", 100)
    log = ImportLog()
    chunks = list(
        read_labelstudio(
            "v.json",
            io.BytesIO(video_task()),
            job_name="j",
            batch_id=None,
            log=log,
            video_size=(1280, 720),
        )
    )
    sizes = [c.annotations.num_rows for c in chunks if c.annotations is not None]
    assert max(sizes) <= 100 and sum(sizes) == 1968


# Export and round trips


def frames_of(rows: pa.Table) -> Any:
    """A FrameLookup that knows the sizes the rows carry."""
    sizes = {
        (r["source_ref"], r["frame_no"]): (r["image_width"], r["image_height"])
        for r in rows.to_pylist()
    }

    def lookup(source_ref: str, frame_no: int, frame_name: str | None) -> Frame:
        width, height = sizes.get((source_ref, frame_no), (None, None))
        return Frame(source_ref, frame_no, source_ref, width, height)

    return lookup


def comparable(rows: pa.Table) -> list[tuple[Any, ...]]:
    """Every row as what a round trip keeps: place, id, label, shape, geometry, attributes."""
    out = []
    for r in rows.to_pylist():
        geometry = tuple(
            round(r[k], 6) for k in ("box_left", "top", "width", "height") if r[k] is not None
        )
        points = tuple((round(p["x"], 6), round(p["y"], 6)) for p in r["points"] or [])
        attributes = tuple(sorted(dict(r["attributes"] or []).items()))
        out.append(
            (
                r["source_ref"],
                r["frame_no"],
                r["frame"],
                r["object_id"],
                r["label"],
                r["shape"],
                geometry,
                points,
                attributes,
                r["confidence"],
            )
        )
    return sorted(out, key=repr)


@pytest.mark.parametrize("name", IMAGE_EXPORTS)
def test_round_trip_of_real_image_exports(name: str) -> None:
    rows, _, _ = read(FIXTURES / name)
    written = to_labelstudio(rows, frames_of(rows))
    again, _, log = read(written["tasks.json"].encode())
    assert comparable(again) == comparable(rows)
    assert not log.unexplained and not [p for p in log.problems if p.shapes]


def test_round_trip_of_the_real_video_export() -> None:
    rows, _, _ = read(video_task(), video_size=(1280, 720))
    written = json.loads(to_labelstudio(rows, frames_of(rows))["tasks.json"])
    assert [t["data"] for t in written] == [
        {"video": "https://app.heartex.ai/static/samples/opossum_snow.mp4"}
    ]
    again, _, log = read(json.dumps(written).encode())  # sizes travel on the results
    assert comparable(again) == comparable(rows)
    assert log.seen == 1968


def test_export_ends_a_track_with_a_disabled_keyframe() -> None:
    rows, _, _ = read(one_track(SEQUENCE), video_size=(200, 100))
    written = json.loads(to_labelstudio(rows, frames_of(rows))["tasks.json"])
    sequence = written[0]["annotations"][0]["result"][0]["value"]["sequence"]
    enabled = {item["frame"]: item["enabled"] for item in sequence}
    # frames 1..5 then 8..10 of 10: 5 ends a run; 10 is the video's last frame
    assert enabled == {1: True, 2: True, 3: True, 4: True, 5: False, 8: True, 9: True, 10: True}
    assert written[0]["annotations"][0]["result"][0]["value"]["framesCount"] == 10


def test_export_refuses_a_frame_of_unknown_size() -> None:
    rows, _, _ = read(FIXTURES / "image_mixed.json")

    def unknown(source_ref: str, frame_no: int, frame_name: str | None) -> Frame:
        return Frame(source_ref, frame_no, source_ref, None, None)

    with pytest.raises(LabellakeError, match="pass --image-size or --map"):
        to_labelstudio(rows, unknown)


def test_export_refuses_polygons_on_a_video() -> None:
    rows, _, _ = read(video_task(), video_size=(1280, 720))
    polygon = rows.slice(0, 1).to_pylist()[0] | {"shape": "polygon", "points": [{"x": 1, "y": 1}]}
    mixed = pa.concat_tables([rows, pa.Table.from_pylist([polygon], schema=rows.schema)])
    with pytest.raises(LabellakeError, match="export this job as coco"):
        to_labelstudio(mixed, frames_of(rows))


def test_export_writes_a_multi_point_keypoint_as_label_studio_keypoints() -> None:
    rows, _, _ = read(FIXTURES / "image_keypoints.json")
    row = next(r for r in rows.to_pylist() if r["shape"] == "keypoint")
    row["points"] = [{"x": 10.0, "y": 20.0}, {"x": 30.0, "y": 40.0}]
    table = pa.Table.from_pylist([row], schema=rows.schema)
    written = json.loads(to_labelstudio(table, frames_of(rows))["tasks.json"])
    ids = [r["id"] for r in written[0]["annotations"][0]["result"]]
    assert ids == [f"{row['object_id']}:0", f"{row['object_id']}:1"]


def test_a_json_min_export_is_named_not_silently_empty() -> None:
    rows, _, log = read(b'[{"image": "a.jpg", "id": 1, "label": [{"x": 1}]}]')
    assert rows.num_rows == 0
    assert "export the project as JSON (not JSON-MIN or CSV)" in log.problems[0].reason


def test_round_trip_of_predictions() -> None:
    prediction = {"id": 9, "model_version": "yolo", "score": 0.8, "result": [rectangle("p1")]}
    unannotated = {
        "id": 12,
        "data": {"image": "b.jpg"},
        "annotations": [],
        "predictions": [prediction],
    }
    rows, _, _ = read(export(unannotated))
    written = json.loads(to_labelstudio(rows, frames_of(rows))["tasks.json"])
    assert written[0]["annotations"] == []
    assert written[0]["predictions"][0]["model_version"] == "yolo"
    again, _, _ = read(json.dumps(written).encode())
    assert comparable(again) == comparable(rows)
