"""CVAT for video / for images 1.1 XML: real exports in, the lake's rows out, and back."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from labellake.errors import LabellakeError
from labellake.etl import formats
from labellake.etl.export import Frame
from labellake.etl.formats import ImportLog
from labellake.etl.formats.cvat import (
    read_cvat,
    read_cvat_images,
    read_cvat_video,
    to_cvat_images,
    to_cvat_video,
)
from labellake.lake import get_table

FIXTURES = Path(__file__).parents[2] / "fixtures/cvat"
VIDEO = ["datumaro-for-video.xml"]
IMAGES = ["datumaro-for-images.xml", "datumaro-project-export.xml", "cats-images.xml"]
KINDS = {"box": "box", "polygon": "polygon", "polyline": "polyline", "points": "keypoint"}
Reader = Callable[..., Iterator[formats.Chunk]]


def read(
    data: bytes, reader: Reader = read_cvat, name: str = "annotations.xml"
) -> tuple[list[dict[str, Any]], ImportLog]:
    """The rows a reader makes of ``data``, and its log after a loader wrote them all."""
    log = ImportLog()
    chunks = list(reader(name, io.BytesIO(data), job_name="cvat-job", batch_id="b-1", log=log))
    assert all(c.file == name for c in chunks)
    assert all(c.annotations.schema == get_table("annotations").schema for c in chunks)
    rows = [row for chunk in chunks for row in chunk.annotations.to_pylist()]
    log.wrote(name, len(rows))  # what the loader does with the chunks
    return rows, log


def read_fixture(name: str, reader: Reader = read_cvat) -> tuple[list[dict[str, Any]], ImportLog]:
    return read((FIXTURES / name).read_bytes(), reader, name)


def reconciled(log: ImportLog) -> bool:
    return log.seen == log.written + log.explained and not log.unexplained


def coords(row: dict[str, Any]) -> tuple[float, ...]:
    """A row's geometry as CVAT writes it: box corners, else the vertices in order."""
    if row["shape"] == "box":
        left, top = row["box_left"], row["top"]
        values = (left, top, left + row["width"], top + row["height"])
    else:
        values = tuple(v for p in row["points"] for v in (p["x"], p["y"]))
    return tuple(round(v, 6) for v in values)


def element_coords(element: ET.Element) -> tuple[float, ...]:
    if element.tag == "box":
        return tuple(round(float(element.get(k)), 6) for k in ("xtl", "ytl", "xbr", "ybr"))
    pairs = [p.split(",") for p in element.get("points").split(";")]
    return tuple(round(float(v), 6) for pair in pairs for v in pair)


def element_attributes(*elements: ET.Element) -> tuple[tuple[str, str], ...]:
    values: dict[str, str] = {}
    for element in elements:
        values.update({a.get("name"): a.text or "" for a in element.findall("attribute")})
    return tuple(sorted(values.items()))


def row_attributes(row: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(row["attributes"] or []))


# ---------------------------------------------------------------- real files in


def expected_video(path: Path) -> Counter[tuple[Any, ...]]:
    """An independent reading of a CVAT-written video export: every visible shape element
    (outside="0") of a track, or of a skeleton's node tracks, is one row."""
    expected: Counter[tuple[Any, ...]] = Counter()
    for track in ET.parse(path).getroot().findall("track"):
        for node in track.findall("track") or [track]:
            for shape in node:
                if shape.tag in KINDS and shape.get("outside") == "0":
                    expected[
                        (
                            track.get("id"),
                            node.get("label"),
                            KINDS[shape.tag],
                            int(shape.get("frame")),
                            shape.get("keyframe") == "1",
                            element_attributes(shape),
                            shape.get("occluded") == "1",
                            element_coords(shape),
                        )
                    ] += 1
    return expected


def video_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["object_id"],
        row["label"],
        row["shape"],
        row["frame_no"],
        row["keyframe"],
        row_attributes(row),
        row["occluded"],
        coords(row),
    )


@pytest.mark.parametrize("name", VIDEO)
def test_real_video_exports_become_one_row_per_visible_shape(name: str) -> None:
    rows, log = read_fixture(name, read_cvat_video)
    expected = expected_video(FIXTURES / name)

    assert Counter(r["shape"] for r in rows) == Counter(k[2] for k in expected.elements())
    assert {r["object_id"] for r in rows} == {k[0] for k in expected}
    assert {r["label"] for r in rows} == {k[1] for k in expected}
    assert {r["frame_no"] for r in rows} == {k[3] for k in expected}
    assert Counter(video_key(r) for r in rows) == expected
    assert reconciled(log) and log.seen == len(rows) and not log.problems


def test_video_meta_fills_source_size_class_and_skeleton_names() -> None:
    rows, _ = read_fixture("datumaro-for-video.xml")
    assert {(r["source_ref"], r["image_width"], r["image_height"]) for r in rows} == {
        ("t.mp4", 25, 20)
    }
    # meta label order: klhg, z U k, II, skeleton, then the skeleton's nodes 1..4
    assert {(r["label"], r["class_id"]) for r in rows} == {
        ("II", 2),
        ("klhg", 0),
        ("1", 4),
        ("2", 5),
        ("3", 6),
        ("4", 7),
    }
    nodes = [r for r in rows if r["object_id"] == "3"]
    assert {r["object_name"] for r in nodes} == {"skeleton:3"}
    assert {r["shape"] for r in nodes} == {"keypoint"}
    assert Counter(r["label"] for r in nodes) == {"1": 3, "2": 3, "3": 1, "4": 3}
    box = next(r for r in rows if r["shape"] == "box")
    assert (box["box_left"], box["top"], box["width"], box["height"]) == (3.0, 4.0, 7.0, 1.0)
    assert (box["object_name"], box["occluded"], box["z_order"], box["frame"]) == (
        "II:0",
        True,
        0,
        None,
    )


def test_a_job_export_without_a_source_is_named_by_its_file() -> None:
    data = (FIXTURES / "datumaro-for-video.xml").read_bytes()
    start, end = data.index(b"<source>"), data.index(b"</source>") + len(b"</source>")
    data = (data[:start] + data[end:]).replace(b"<name>v1</name>", b"", 1)  # a job, not a task
    rows, log = read(data, read_cvat_video, "job-7.xml")
    assert rows and {r["source_ref"] for r in rows} == {"job-7.xml"}
    assert reconciled(log)


def expected_images(path: Path) -> Counter[tuple[Any, ...]]:
    """An independent reading of an images export: each shape of an image is a row whose
    object id is its position, and each skeleton node that is not outside is a keypoint."""
    expected: Counter[tuple[Any, ...]] = Counter()
    for image in ET.parse(path).getroot().findall("image"):
        ref = "/".join(filter(None, (image.get("subset"), image.get("name"))))
        shapes = [e for e in image if e.tag != "tag"]
        for position, shape in enumerate(shapes):
            nodes = shape.findall("points") if shape.tag == "skeleton" else [shape]
            for node in nodes:
                if node.tag in KINDS and node.get("outside") != "1":
                    expected[
                        (
                            ref,
                            int(image.get("id")),
                            image.get("name"),
                            str(position),
                            node.get("label"),
                            KINDS[node.tag],
                            element_attributes(shape, node),  # a skeleton's, then its node's
                            node.get("occluded", "0") == "1",
                            int(node.get("z_order", shape.get("z_order", "-1"))),
                            element_coords(node),
                        )
                    ] += 1
    return expected


def image_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["source_ref"],
        row["frame_no"],
        row["frame"],
        row["object_id"],
        row["label"],
        row["shape"],
        row_attributes(row),
        bool(row["occluded"]),
        -1 if row["z_order"] is None else row["z_order"],
        coords(row),
    )


@pytest.mark.parametrize("name", IMAGES)
def test_real_image_exports_become_one_row_per_shape(name: str) -> None:
    rows, log = read_fixture(name, read_cvat_images)
    expected = expected_images(FIXTURES / name)

    assert Counter(r["shape"] for r in rows) == Counter(k[5] for k in expected.elements())
    assert {r["label"] for r in rows} == {k[4] for k in expected}
    assert {(r["source_ref"], r["frame_no"]) for r in rows} == {k[:2] for k in expected}
    assert Counter(image_key(r) for r in rows) == expected
    assert {r["keyframe"] for r in rows} == {None}
    assert reconciled(log) and log.seen == len(rows) and not log.problems


def test_image_sizes_labels_and_skeleton_nodes() -> None:
    rows, _ = read_fixture("datumaro-for-images.xml")
    assert {(r["frame"], r["image_width"], r["image_height"]) for r in rows} == {
        ("img0.jpg", 8, 8),
        ("img1.jpg", 10, 10),
    }
    skeleton = [r for r in rows if r["frame_no"] == 0 and r["object_id"] == "2"]
    # label1, label2, skeleton, then the skeleton's nodes 1..4; node 1 is outside
    assert [(r["label"], r["class_id"]) for r in skeleton] == [("2", 4), ("3", 5), ("4", 6)]
    assert {r["object_name"] for r in skeleton} == {"skeleton:2"}
    unnamed = next(r for r in rows if r["shape"] == "polyline")
    assert (unnamed["label"], unnamed["class_id"], unnamed["occluded"]) == ("", None, None)


def test_project_exports_keep_images_of_each_subset_apart() -> None:
    rows, _ = read_fixture("datumaro-project-export.xml")
    assert {r["source_ref"] for r in rows} == {
        f"{subset}/img{i}.jpg" for subset in ("Test", "Train", "Validation") for i in (0, 1)
    }


# ---------------------------------------------------------------- keyframes only

KEYFRAMES_ONLY = b"""<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <name>crossing</name>
      <size>7</size>
      <mode>interpolation</mode>
      <start_frame>0</start_frame>
      <stop_frame>12</stop_frame>
      <frame_filter>step=2</frame_filter>
      <labels>
        <label><name>car</name></label>
        <label><name>lane</name></label>
        <label><name>pole</name></label>
        <label><name>pose</name></label>
      </labels>
      <original_size><width>640</width><height>480</height></original_size>
    </task>
    <source>crossing.mp4</source>
  </meta>
  <track id="7" label="car">
    <box frame="0" keyframe="1" outside="0" occluded="1"
         xtl="0" ytl="0" xbr="10" ybr="10" z_order="2">
      <attribute name="color">red</attribute>
    </box>
    <box frame="4" keyframe="1" outside="0" occluded="0"
         xtl="8" ytl="4" xbr="18" ybr="24" z_order="3">
      <attribute name="speed">fast</attribute>
    </box>
    <box frame="6" keyframe="1" outside="1" occluded="0"
         xtl="8" ytl="4" xbr="18" ybr="24" z_order="3"/>
    <box frame="10" keyframe="1" outside="0" occluded="0"
         xtl="20" ytl="20" xbr="30" ybr="30" z_order="3"/>
  </track>
  <track id="8" label="lane">
    <polyline frame="2" keyframe="1" outside="0" points="0,0;10,0"/>
    <polyline frame="8" keyframe="1" outside="1" points="6,12;16,12"/>
  </track>
  <track id="9" label="pole">
    <points frame="0" keyframe="1" outside="0" points="1,1"/>
    <points frame="4" keyframe="1" outside="0" points="5,9"/>
    <points frame="8" keyframe="1" outside="1" points="5,9"/>
  </track>
  <track id="10" label="pose">
    <points frame="0" keyframe="1" outside="0" points="0,0;2,2"/>
    <points frame="4" keyframe="1" outside="0" points="4,4;6,6"/>
    <points frame="6" keyframe="1" outside="1" points="4,4;6,6"/>
  </track>
  <track id="11" label="lane">
    <polygon frame="8" keyframe="1" outside="0" points="0,0;4,0;4,4"/>
    <polygon frame="12" keyframe="1" outside="0" points="0,0;8,0;8,8;0,8"/>
  </track>
</annotations>
"""

RED, FAST = ("color", "red"), ("speed", "fast")
# Worked by hand: task frames are 0, 2, ..., 12 (step=2); values move linearly between
# keyframes; nothing follows an outside keyframe until the next keyframe; the last keyframe
# stays until stop_frame; attributes, occluded and z_order are carried from the keyframe before.
EXPANDED = [
    # object, frame, keyframe, geometry (box corners or vertices), attributes, occluded, z_order
    ("7", 0, True, (0, 0, 10, 10), (RED,), True, 2),
    ("7", 2, False, (4, 2, 14, 17), (RED,), True, 2),
    ("7", 4, True, (8, 4, 18, 24), (RED, FAST), False, 3),
    ("7", 10, True, (20, 20, 30, 30), (RED, FAST), False, 3),
    ("7", 12, False, (20, 20, 30, 30), (RED, FAST), False, 3),
    ("8", 2, True, (0, 0, 10, 0), (), None, None),
    ("8", 4, False, (2, 4, 12, 4), (), None, None),
    ("8", 6, False, (4, 8, 14, 8), (), None, None),
    ("9", 0, True, (1, 1), (), None, None),
    ("9", 2, False, (3, 5), (), None, None),
    ("9", 4, True, (5, 9), (), None, None),
    ("9", 6, False, (5, 9), (), None, None),
    # several points, and a polygon whose vertex count changes, are copied, not moved
    ("10", 0, True, (0, 0, 2, 2), (), None, None),
    ("10", 2, False, (0, 0, 2, 2), (), None, None),
    ("10", 4, True, (4, 4, 6, 6), (), None, None),
    ("11", 8, True, (0, 0, 4, 0, 4, 4), (), None, None),
    ("11", 10, False, (0, 0, 4, 0, 4, 4), (), None, None),
    ("11", 12, True, (0, 0, 8, 0, 8, 8, 0, 8), (), None, None),
]


def test_keyframes_are_expanded_the_way_cvat_does() -> None:
    rows, log = read(KEYFRAMES_ONLY, read_cvat_video)
    got = sorted(
        (
            r["object_id"],
            r["frame_no"],
            r["keyframe"],
            coords(r),
            row_attributes(r),
            r["occluded"],
            r["z_order"],
        )
        for r in rows
    )
    assert got == sorted(EXPANDED)
    assert {r["shape"] for r in rows if r["object_id"] == "9"} == {"keypoint"}
    assert {(r["source_ref"], r["image_width"]) for r in rows} == {("crossing.mp4", 640)}
    assert reconciled(log) and log.seen == len(EXPANDED)


def clip(task: str, track: str) -> bytes:
    return (
        f"<annotations><version>1.1</version><meta><task><mode>interpolation</mode>{task}"
        f"<labels><label><name>car</name></label></labels></task></meta>{track}</annotations>"
    ).encode()


def box(frame: int, outside: int) -> str:
    return (
        f'<box frame="{frame}" keyframe="1" outside="{outside}" occluded="0" '
        'xtl="0" ytl="0" xbr="2" ybr="2" z_order="0"/>'
    )


@pytest.mark.parametrize(
    ("task", "keys", "frames"),
    [
        pytest.param(
            "<start_frame>10</start_frame><stop_frame>19</stop_frame>"
            "<frame_filter>step=3</frame_filter>",
            [(10, 0), (19, 0)],
            [10, 13, 16, 19],
            id="frame_filter step=3 from start_frame 10",
        ),
        pytest.param(
            "<start_frame>0</start_frame><stop_frame>12</stop_frame>"
            "<frame_filter>step=5</frame_filter>",
            [(0, 0), (12, 0)],
            [0, 5, 10, 12],
            id="only task frames are interpolated",
        ),
        pytest.param(
            "<start_frame>0</start_frame><stop_frame>5</stop_frame>",
            [(2, 0)],
            [2, 3, 4, 5],
            id="the last keyframe stays until stop_frame",
        ),
        pytest.param(
            "<start_frame>10</start_frame><size>4</size><frame_filter>step=3</frame_filter>",
            [(10, 0)],
            [10, 13, 16, 19],
            id="size gives the last frame when stop_frame is missing",
        ),
        pytest.param(
            "<start_frame>0</start_frame><stop_frame>9</stop_frame>",
            [(0, 0), (2, 1), (5, 0), (6, 1)],
            [0, 1, 5],
            id="nothing after an outside keyframe until the next keyframe",
        ),
        pytest.param("", [(3, 0)], [3], id="no propagation when the last frame is unknown"),
    ],
)
def test_expansion_follows_the_task_frames(
    task: str, keys: list[tuple[int, int]], frames: list[int]
) -> None:
    track = '<track id="0" label="car">' + "".join(box(f, o) for f, o in keys) + "</track>"
    rows, log = read(clip(task, track))
    assert sorted(r["frame_no"] for r in rows) == frames
    assert reconciled(log) and log.seen == len(frames)


SKELETON_BY_FRAME = b"""<annotations><version>1.1</version>
<meta><task><mode>interpolation</mode><start_frame>0</start_frame><stop_frame>2</stop_frame>
<labels><label><name>body</name><type>skeleton</type></label>
<label><name>head</name><type>points</type><parent>body</parent></label>
<label><name>hand</name><type>points</type><parent>body</parent></label></labels>
</task></meta>
<track id="2" label="body">
  <skeleton frame="0" keyframe="1" outside="0">
    <points label="head" outside="0" occluded="0" points="1,1"/>
    <points label="hand" outside="1" occluded="0" points="2,2"/>
  </skeleton>
  <skeleton frame="1" keyframe="0" outside="0">
    <points label="head" outside="0" occluded="1" points="1,2"/>
    <points label="hand" outside="0" occluded="0" points="3,3"/>
  </skeleton>
</track>
</annotations>"""


def test_skeletons_written_frame_by_frame_become_keypoints_per_node() -> None:
    rows, log = read(SKELETON_BY_FRAME, read_cvat_video)
    got = [
        (r["object_id"], r["object_name"], r["label"], r["class_id"], r["frame_no"], coords(r))
        for r in rows
    ]
    assert got == [
        ("2", "body:2", "head", 1, 0, (1, 1)),
        ("2", "body:2", "head", 1, 1, (1, 2)),
        ("2", "body:2", "hand", 2, 1, (3, 3)),
    ]
    assert [r["keyframe"] for r in rows] == [True, False, False]
    assert reconciled(log) and log.seen == 3


def test_tracks_that_would_expand_without_bound_are_refused() -> None:
    task = "<start_frame>0</start_frame><stop_frame>2000000000</stop_frame>"
    rows, log = read(clip(task, f'<track id="0" label="car">{box(5, 0)}</track>'))
    [problem] = log.problems
    assert rows == [] and problem.shapes == log.seen == 2_000_000_000 - 4
    assert "check start_frame, stop_frame and frame_filter" in problem.reason
    assert reconciled(log)


# ---------------------------------------------------------------- export and back


def no_frames(source_ref: str, frame_no: int, name: str | None) -> Frame:
    return Frame(source_ref, frame_no, name or "", None, None)


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=get_table("annotations").schema)


def lake_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """Everything the round trip must keep (class ids follow the labels the file declares)."""
    return (
        row["source_ref"],
        row["frame_no"],
        row["frame"],
        row["object_id"],
        row["object_name"],
        row["label"],
        row["shape"],
        coords(row),
        tuple(row["attributes"] or []),
        row["occluded"],
        row["z_order"],
        row["keyframe"],
        row["image_width"],
        row["image_height"],
    )


def read_back(files: dict[str, str], reader: Reader) -> tuple[list[dict[str, Any]], ImportLog]:
    rows, log = [], ImportLog()
    for path, text in files.items():
        chunks = reader(path, io.BytesIO(text.encode()), job_name="j", batch_id=None, log=log)
        found = [r for c in chunks for r in c.annotations.to_pylist()]
        log.wrote(path, len(found))
        rows += found
    return rows, log


@pytest.mark.parametrize(
    ("source", "export", "reader"),
    [
        *[(name, to_cvat_video, read_cvat_video) for name in VIDEO],
        *[(name, to_cvat_images, read_cvat_images) for name in IMAGES],
        ("keyframes-only", to_cvat_video, read_cvat_video),
        ("skeleton-by-frame", to_cvat_video, read_cvat_video),
        ("bad-images", to_cvat_images, read_cvat_images),
    ],
)
def test_round_trip_keeps_every_shape(source: str, export: Any, reader: Reader) -> None:
    written = {
        "keyframes-only": KEYFRAMES_ONLY,
        "skeleton-by-frame": SKELETON_BY_FRAME,
        "bad-images": BAD_IMAGES,  # what loads keeps its object ids, gaps and all
    }
    data = written[source] if source in written else (FIXTURES / source).read_bytes()
    rows, _ = read(data, reader, source)
    files = export(table(rows), no_frames)
    for text in files.values():
        root = ET.fromstring(text)
        assert root.findtext("version") == "1.1"
    again, log = read_back(files, reader)
    assert Counter(lake_key(r) for r in again) == Counter(lake_key(r) for r in rows)
    assert reconciled(log) and not log.problems


def test_video_export_writes_cvat_meta_and_outside_marks() -> None:
    rows, _ = read(KEYFRAMES_ONLY, read_cvat_video)
    [(path, text)] = to_cvat_video(table(rows), no_frames).items()
    root = ET.fromstring(text)
    task = root.find("meta/task")
    assert path == "annotations.xml"
    assert task.findtext("mode") == "interpolation"
    assert (task.findtext("start_frame"), task.findtext("stop_frame")) == ("0", "12")
    assert task.findtext("frame_filter") == "step=2"
    assert (task.findtext("original_size/width"), task.findtext("original_size/height")) == (
        "640",
        "480",
    )
    assert root.findtext("meta/source") == "crossing.mp4"
    assert [label.findtext("name") for label in task.iter("label")] == [
        "car",
        "lane",
        "pole",
        "pose",
    ]
    car = task.find("labels/label")
    assert [a.findtext("name") for a in car.iter("attribute")] == ["color", "speed"]

    def marks(track_id: str) -> list[tuple[str, str, str]]:
        track = root.find(f"track[@id='{track_id}']")
        return [(e.get("frame"), e.get("outside"), e.get("keyframe")) for e in track]

    # an outside keyframe on the task frame after each run, none after the last frame
    assert marks("7") == [
        ("0", "0", "1"),
        ("2", "0", "0"),
        ("4", "0", "1"),
        ("6", "1", "1"),
        ("10", "0", "1"),
        ("12", "0", "0"),
    ]
    assert marks("8") == [("2", "0", "1"), ("4", "0", "0"), ("6", "0", "0"), ("8", "1", "1")]


def test_image_export_orders_shapes_by_object_id_and_keeps_the_ids() -> None:
    rows, _ = read_fixture("cats-images.xml")
    ids = ("10", "9", "2")
    first = [
        {**r, "object_id": i, "object_name": f"{r['label']}:{i}"}
        for r, i in zip(rows[:3], ids, strict=True)
    ]
    files = to_cvat_images(table(first), no_frames)
    image = ET.fromstring(files["annotations.xml"]).find("image")
    assert [e.get("id") for e in image] == ["2", "9", "10"]
    again, _ = read_back(files, read_cvat_images)
    assert Counter(lake_key(r) for r in again) == Counter(lake_key(r) for r in first)


def test_several_clips_get_a_folder_each_with_a_safe_name() -> None:
    rows, _ = read_fixture("datumaro-for-video.xml")
    refs = ["s3://bucket/drive:07/clip|1.mp4", "s3://bucket/other/clip|1.mp4", "/data/con"]
    clips = [{**r, "source_ref": ref} for ref in refs for r in rows]
    files = to_cvat_video(table(clips), no_frames)
    folders = [path.removesuffix("/annotations.xml") for path in files]
    assert folders == ["clip_1.mp4", "clip_1.mp4-2", "con_"]
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", folder) for folder in folders)
    again, log = read_back(files, read_cvat_video)
    assert Counter(lake_key(r) for r in again) == Counter(lake_key(r) for r in clips)
    assert reconciled(log)


@pytest.mark.parametrize(
    ("name", "export", "reader"),
    [
        ("datumaro-for-video.xml", to_cvat_video, read_cvat_video),
        ("datumaro-for-images.xml", to_cvat_images, read_cvat_images),
    ],
)
def test_rows_without_a_label_are_exported_as_unlabeled(
    name: str, export: Any, reader: Reader
) -> None:
    rows, _ = read_fixture(name)
    plain = [r for r in rows if r["shape"] != "keypoint"]
    unlabeled = [{**r, "label": None, "object_name": None} for r in plain]
    files = export(table(unlabeled), no_frames)
    [text] = files.values()
    labels = ET.fromstring(text).find("meta/task/labels")
    assert "unlabeled" in [label.findtext("name") for label in labels]
    again, _ = read_back(files, reader)
    assert {r["label"] for r in again} == {"unlabeled"}
    assert len(again) == len(unlabeled)


def test_export_refuses_rows_without_geometry_and_names_them() -> None:
    rows, _ = read_fixture("cats-images.xml")
    broken = [{**rows[0], "width": None}, *rows[1:]]
    with pytest.raises(LabellakeError, match=r"1 row\(s\).*object 0 at frame 0"):
        to_cvat_images(table(broken), no_frames)


# ---------------------------------------------------------------- bad input


BAD_IMAGES = b"""<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <image id="0" name="a.jpg" width="640" height="480">
    <box label="car" occluded="0" xtl="1" ytl="2" xbr="30" ybr="40" z_order="0"/>
    <mask label="car" rle="1, 2" left="0" top="0" width="2" height="2"/>
    <box label="car" occluded="0" xtl="oops" ytl="2" xbr="30" ybr="40"/>
    <polygon label="road" occluded="1" points="0,0;10,0;10,10" z_order="2"/>
  </image>
  <image id="1" name="b.jpg" width="640" height="480">
    <ellipse label="sign" cx="5" cy="5" rx="2" ry="3"/>
    <points label="light" points="5,6"/>
  </image>
</annotations>
"""

BAD_VIDEO = b"""<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><size>4</size><start_frame>0</start_frame><stop_frame>3</stop_frame>
  <original_size><width>640</width><height>480</height></original_size></task></meta>
  <track id="0" label="car">
    <box frame="0" keyframe="1" outside="0" occluded="0" xtl="1" ytl="1" xbr="5" ybr="5"/>
    <box frame="1" keyframe="1" outside="0" occluded="0" xtl="x" ytl="1" xbr="5" ybr="5"/>
    <box frame="2" keyframe="1" outside="0" occluded="0" xtl="3" ytl="1" xbr="7" ybr="5"/>
    <box frame="3" keyframe="1" outside="1" occluded="0" xtl="3" ytl="1" xbr="7" ybr="5"/>
  </track>
  <track id="1" label="blob">
    <cuboid frame="0" keyframe="1" outside="0" occluded="0"/>
    <cuboid frame="1" keyframe="1" outside="1" occluded="0"/>
  </track>
</annotations>
"""


def test_shapes_that_cannot_be_rows_are_explained_one_by_one() -> None:
    rows, log = read(BAD_IMAGES, read_cvat_images)
    assert sorted((r["source_ref"], r["shape"]) for r in rows) == [
        ("a.jpg", "box"),
        ("a.jpg", "polygon"),
        ("b.jpg", "keypoint"),
    ]
    reasons = [p.reason for p in log.problems]
    assert len(reasons) == 3 and all(p.shapes == 1 for p in log.problems)
    assert any("<mask> shapes are not supported" in r for r in reasons)
    assert any("<ellipse> shapes are not supported" in r for r in reasons)
    assert any("non-numeric" in r for r in reasons)
    assert all("oops" not in r for r in reasons)  # never the file's content
    assert reconciled(log)


def test_a_bad_keyframe_or_an_unknown_track_shape_is_explained() -> None:
    rows, log = read(BAD_VIDEO, read_cvat_video)
    assert {r["object_id"] for r in rows} <= {"0"}
    assert not any(r["label"] == "blob" for r in rows)
    assert log.explained >= 1 and reconciled(log)
    assert any("<cuboid> shapes are not supported" in p.reason for p in log.problems)


def test_a_truncated_file_keeps_what_came_before_and_says_where_it_broke() -> None:
    data = (FIXTURES / "datumaro-for-video.xml").read_bytes()
    cut = data.index(b'<track id="2"') + 60
    rows, log = read(data[:cut], read_cvat_video)
    full, _ = read_fixture("datumaro-for-video.xml", read_cvat_video)
    with pytest.raises(ET.ParseError) as broken:
        ET.fromstring(data[:cut])

    assert rows and Counter(lake_key(r) for r in rows) == Counter(
        lake_key({**r, "source_ref": r["source_ref"]}) for r in full if int(r["object_id"]) < 2
    )
    [problem] = log.problems
    assert problem.line == broken.value.position[0]
    assert problem.shapes == 0 and "not well-formed" in problem.reason
    assert reconciled(log)


def test_rows_come_in_chunks_of_at_most_chunk_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    boxes = [
        {
            "job_name": "j",
            "source_ref": "clip.mp4",
            "frame_no": frame,
            "object_id": str(track),
            "label": "car",
            "shape": "box",
            "box_left": 1.0 + frame,
            "top": 2.0,
            "width": 10.0,
            "height": 10.0,
            "image_width": 640,
            "image_height": 480,
        }
        for track in range(7)
        for frame in range(250)
    ]
    written = to_cvat_video(table(boxes), no_frames)
    monkeypatch.setattr(formats, "CHUNK_ROWS", 100)
    log = ImportLog()
    (xml,) = written.values()
    stream = io.BytesIO(xml.encode())
    chunks = list(read_cvat_video("t.xml", stream, job_name="j", batch_id=None, log=log))
    sizes = [c.annotations.num_rows for c in chunks]
    assert max(sizes) == 100 and sum(sizes) == log.seen == len(boxes)


@pytest.mark.parametrize(
    ("name", "reader", "other"),
    [
        ("datumaro-for-video.xml", read_cvat_images, "track"),
        ("cats-images.xml", read_cvat_video, "image"),
    ],
)
def test_read_cvat_reads_either_kind_and_the_others_say_when_it_is_not_theirs(
    name: str, reader: Reader, other: str
) -> None:
    rows, _ = read_fixture(name, read_cvat)
    same, log = read_fixture(name, reader)
    assert same == rows
    [note] = log.problems
    assert note.shapes == 0 and f"<{other}>" in note.reason
