"""COCO instances JSON -> annotations rows, and back."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as fs
import pytest

from labellake.errors import LabellakeError
from labellake.etl.export import Frame
from labellake.etl.formats import ImportLog, coco
from labellake.etl.formats.coco import read_coco, to_coco_instances
from labellake.etl.labeling import AnnotationRows

FIXTURES = Path(__file__).parents[2] / "fixtures/coco"
REAL = [
    "instances_val.json",
    "instances_train.json",
    "person_keypoints_val.json",
    "mot_sample.json",
]


def read(data: bytes | Path, log: ImportLog | None = None) -> tuple[pa.Table, ImportLog]:
    """All rows of one COCO file, and the log."""
    log = log or ImportLog()
    raw = data.read_bytes() if isinstance(data, Path) else data
    chunks = list(
        read_coco("coco.json", io.BytesIO(raw), job_name="coco-job", batch_id=None, log=log)
    )
    tables = [c.annotations for c in chunks if c.annotations is not None]
    log.wrote("coco.json", sum(t.num_rows for t in tables))
    return (pa.concat_tables(tables) if tables else AnnotationRows().table()), log


def expected_shapes(document: dict[str, Any]) -> list[tuple[str, int, str, str, str]]:
    """(source, frame, object id, shape, label) per shape, parsed plainly from the file."""
    names = {c["id"]: c["name"] for c in document["categories"]}
    images = {i["id"]: i for i in document["images"]}
    videos = {v["id"]: v["name"] for v in document.get("videos", [])}
    shapes = []
    for annotation in document["annotations"]:
        image = images[annotation["image_id"]]
        track = annotation.get("track_id", annotation.get("instance_id"))
        if track is not None and image.get("video_id") in videos:
            place = (videos[image["video_id"]], image["frame_id"])
        else:
            place = (image["file_name"], 0)
        object_id = str(annotation["id"] if track is None else track)
        label = names[annotation["category_id"]]
        segmentation = annotation.get("segmentation")
        if isinstance(segmentation, list) and segmentation:
            kinds = ["polygon"] * len(segmentation)
        else:
            kinds = ["box"]
        if any(annotation.get("keypoints", [])[2::3]):
            kinds.append("keypoint")
        shapes += [(*place, object_id, kind, label) for kind in kinds]
    return sorted(shapes)


@pytest.mark.parametrize("name", REAL)
def test_real_files_become_one_row_per_shape(name: str) -> None:
    document = json.loads((FIXTURES / name).read_text())
    rows, log = read(FIXTURES / name)
    got = sorted(
        (r["source_ref"], r["frame_no"], r["object_id"], r["shape"], r["label"])
        for r in rows.to_pylist()
    )
    assert got == expected_shapes(document)
    assert log.seen == rows.num_rows and not log.unexplained


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        ("instances_val.json", {"polygon": 1, "box": 1}),
        ("instances_train.json", {"box": 1}),
        ("person_keypoints_val.json", {"polygon": 1, "box": 1, "keypoint": 2}),
        ("mot_sample.json", {"box": 12}),
    ],
)
def test_real_files_count_each_shape_kind(name: str, kinds: dict[str, int]) -> None:
    rows, log = read(FIXTURES / name)
    assert Counter(rows.column("shape").to_pylist()) == kinds
    assert log.seen == sum(kinds.values())


def test_attributes_and_iscrowd_become_attributes() -> None:
    rows, log = read(FIXTURES / "instances_val.json")
    by_id = {r["object_id"]: r for r in rows.to_pylist()}
    assert dict(by_id["1"]["attributes"]) == {"x": "1", "y": "hello", "iscrowd": "0"}
    assert dict(by_id["2"]["attributes"]) == {"iscrowd": "1"}
    assert (
        by_id["2"]["box_left"],
        by_id["2"]["top"],
        by_id["2"]["width"],
        by_id["2"]["height"],
    ) == (
        0.0,
        0.0,
        1.0,
        9.0,
    )
    assert (by_id["1"]["image_width"], by_id["1"]["image_height"]) == (5, 10)
    assert by_id["1"]["class_id"] == 1 and by_id["1"]["frame"] == "b.jpg"
    assert [p.reason for p in log.problems] == [
        "1 RLE mask(s) (crowd regions) kept as their bbox: the lake holds no masks"
    ]


def test_tracks_of_a_video_dataset_keep_their_ids_and_frames() -> None:
    rows, _ = read(FIXTURES / "mot_sample.json")
    tracks: dict[tuple[str, str], list[int]] = {}
    for row in rows.to_pylist():
        tracks.setdefault((row["source_ref"], row["object_id"]), []).append(row["frame_no"])
    assert tracks == {
        ("MOT17-09-DPM", "0"): [0, 1, 2],
        ("MOT17-09-DPM", "1"): [0, 1, 2],
        ("MOT17-09-DPM", "2"): [0, 2],
        ("MOT17-10-DPM", "3"): [0, 1],
        ("MOT17-10-DPM", "4"): [0, 1],
    }
    first = rows.to_pylist()[0]
    assert first["frame"] == "000001.jpg" and first["image_width"] == 1920


def document(**parts: Any) -> bytes:
    base: dict[str, Any] = {
        "images": [{"id": 1, "file_name": "dir/a.jpg", "width": 100, "height": 50}],
        "categories": [{"id": 3, "name": "car"}],
        "annotations": [],
    }
    return json.dumps({**base, **parts}).encode()


def test_a_string_number_is_read_as_a_number() -> None:
    raw = document(
        annotations=[{"id": 1, "image_id": 1, "category_id": 3, "bbox": ["1", "2", "3.5", "4"]}]
    )
    rows, log = read(raw)
    assert rows.select(["box_left", "top", "width", "height"]).to_pylist() == [
        {"box_left": 1.0, "top": 2.0, "width": 3.5, "height": 4.0}
    ]
    assert not log.problems


@pytest.mark.parametrize(
    ("annotation", "reason"),
    [
        (
            {"id": 5, "image_id": 9, "category_id": 3, "bbox": [0, 0, 1, 1]},
            "annotation 5: its image_id is not in images; add the image or remove the annotation",
        ),
        (
            {"id": 6, "image_id": 1, "category_id": 3},
            "annotation 6: bbox is missing or not four numbers; fix it",
        ),
        (
            {"id": 7, "image_id": 1, "category_id": 3, "segmentation": [[0, 0, 1, 1]]},
            "annotation 7: polygon 1 has fewer than 3 points or a coordinate that is not a number",
        ),
    ],
)
def test_an_annotation_that_cannot_be_a_row_is_dropped_with_a_reason(
    annotation: dict[str, Any], reason: str
) -> None:
    good = {"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, 1, 1]}
    rows, log = read(document(annotations=[good, annotation]))
    assert rows.num_rows == 1
    assert [p.reason for p in log.problems] == [reason]
    assert (log.seen, log.written, log.explained) == (2, 1, 1)


def test_an_unknown_category_leaves_the_label_empty_and_says_so() -> None:
    rows, log = read(
        document(annotations=[{"id": 1, "image_id": 1, "category_id": 8, "bbox": [0, 0, 1, 1]}])
    )
    assert rows.column("label").to_pylist() == [None]
    assert rows.column("class_id").to_pylist() == [8]
    assert log.problems[0].reason == "category_id 8 not in categories: those rows have no label"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b'{"images": [',
        b'{"images": [], "categories": [], "annotations": [{"id": 1, "image_id":',
    ],
)
def test_malformed_json_is_a_clear_problem_not_a_traceback(raw: bytes) -> None:
    rows, log = read(raw)
    assert rows.num_rows == 0
    assert [p.reason for p in log.problems] == [
        "not valid JSON: the file is truncated or damaged; nothing was read"
    ]
    assert not log.unexplained


def test_rows_come_in_bounded_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coco, "CHUNK_ROWS", 5)
    log = ImportLog()
    raw = (FIXTURES / "mot_sample.json").read_bytes()
    chunks = list(read_coco("m.json", io.BytesIO(raw), job_name="j", batch_id=None, log=log))
    assert [c.annotations.num_rows for c in chunks] == [5, 5, 2]


# Export and round trips


def frames_of(rows: pa.Table) -> Any:
    """A FrameLookup from what the rows carry: a video frame's file under the video."""
    known = {
        (r["source_ref"], r["frame_no"]): (r["frame"], r["image_width"], r["image_height"])
        for r in rows.to_pylist()
    }

    def lookup(source_ref: str, frame_no: int, frame_name: str | None) -> Frame:
        name, width, height = known.get((source_ref, frame_no), (None, None, None))
        uri = source_ref if name == source_ref.rsplit("/", 1)[-1] else f"{source_ref}/img1/{name}"
        return Frame(source_ref, frame_no, uri, width, height)

    return lookup


def comparable(rows: pa.Table) -> list[tuple[Any, ...]]:
    out = []
    for r in rows.to_pylist():
        geometry = tuple(r[k] for k in ("box_left", "top", "width", "height"))
        points = tuple((p["x"], p["y"]) for p in r["points"] or [])
        attributes = tuple(sorted(dict(r["attributes"] or []).items()))
        out.append(
            (
                r["source_ref"],
                r["frame_no"],
                r["frame"],
                r["object_id"],
                r["label"],
                r["class_id"],
                r["shape"],
                geometry,
                points,
                attributes,
                r["image_width"],
                r["image_height"],
            )
        )
    return sorted(out, key=repr)


@pytest.mark.parametrize("name", REAL)
def test_round_trip_of_real_files(name: str) -> None:
    rows, _ = read(FIXTURES / name)
    written = to_coco_instances(rows, frames_of(rows))
    again, log = read(written["instances.json"].encode())
    assert comparable(again) == comparable(rows)
    assert not log.unexplained


def test_polylines_and_keypoints_round_trip_as_keypoints() -> None:
    rows, _ = read(FIXTURES / "person_keypoints_val.json")
    line = rows.to_pylist()[1] | {"shape": "polyline", "object_id": "77"}
    table = pa.concat_tables([rows, pa.Table.from_pylist([line], schema=rows.schema)])
    again, _ = read(to_coco_instances(table, frames_of(rows))["instances.json"].encode())
    assert comparable(again) == comparable(table)


def test_a_null_label_exports_to_the_unlabeled_category() -> None:
    rows, _ = read(FIXTURES / "instances_val.json")
    unlabeled = rows.to_pylist()[1] | {"label": None, "class_id": None, "object_id": "9"}
    table = pa.concat_tables([rows, pa.Table.from_pylist([unlabeled], schema=rows.schema)])
    written = json.loads(to_coco_instances(table, frames_of(rows))["instances.json"])
    categories = {c["id"]: c["name"] for c in written["categories"]}
    assert categories == {1: "a", 2: "b", 3: "unlabeled"}
    assert {a["category_id"] for a in written["annotations"]} <= set(categories)
    again, _ = read(json.dumps(written).encode())
    assert sorted(again.column("label").to_pylist()) == ["a", "b", "unlabeled"]


def test_export_refuses_images_of_unknown_size() -> None:
    rows, _ = read(FIXTURES / "instances_train.json")

    def unknown(source_ref: str, frame_no: int, frame_name: str | None) -> Frame:
        return Frame(source_ref, frame_no, source_ref, None, None)

    with pytest.raises(LabellakeError, match="pass --image-size or --map"):
        to_coco_instances(rows, unknown)


def test_export_gives_text_object_ids_numeric_track_ids() -> None:
    rows, _ = read(FIXTURES / "instances_train.json")
    named = pa.Table.from_pylist(
        [rows.to_pylist()[0] | {"object_id": "tJhYZLMC9G"}], schema=rows.schema
    )
    written = json.loads(to_coco_instances(named, frames_of(rows))["instances.json"])
    assert isinstance(written["annotations"][0]["track_id"], int)


def test_a_stream_that_cannot_seek_is_read_through_a_copy() -> None:
    log = ImportLog()
    path = str(FIXTURES / "mot_sample.json")
    with fs.LocalFileSystem().open_input_stream(path) as stream:
        chunks = list(read_coco(path, stream, job_name="j", batch_id=None, log=log))
    assert sum(c.annotations.num_rows for c in chunks) == 12 == log.seen
