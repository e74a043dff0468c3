from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from labellake.errors import LabellakeError
from labellake.etl import export
from labellake.lake import Lake, get_table
from labellake.workflows.imports import mot


def rows() -> pa.Table:
    def box(obj: str, frame: int, left: float, label: str = "Vehicle") -> dict[str, object]:
        return {
            "job_name": "j",
            "source_ref": "s3://in/clip-07_seq.json",
            "frame_no": frame,
            "frame": f"{frame + 1:06d}.jpg",
            "object_id": obj,
            "label": label,
            "shape": "box",
            "box_left": left,
            "top": 20.0,
            "width": 40.0,
            "height": 30.0,
            "attributes": [("Type", "Car")],
            "image_width": 200,
            "image_height": 100,
        }

    lane = {
        "job_name": "j",
        "source_ref": "s3://in/clip-07_seq.json",
        "frame_no": 0,
        "frame": "000001.jpg",
        "object_id": "lane",
        "label": "Lane",
        "shape": "polyline",
        "points": [{"x": 0.0, "y": 100.0}, {"x": 50.0, "y": 40.0}],
    }
    return pa.Table.from_pylist(
        [box("a", 0, 10), box("a", 1, 12), box("b", 1, 100), lane],
        schema=get_table("annotations").schema,
    )


def frames(source_ref: str, frame_no: int, frame: str | None) -> export.Frame:
    return export.Frame(source_ref, frame_no, f"s3://in/clip-07/img1/{frame}", 200, 100)


def test_coco() -> None:
    document = json.loads(export.EXPORTERS["coco"](rows(), frames)["instances.json"])
    assert [c["name"] for c in document["categories"]] == ["Lane", "Vehicle"]
    assert len(document["images"]) == 2 and document["images"][0]["width"] == 200
    boxes = [a for a in document["annotations"] if "keypoints" not in a]
    assert boxes[0]["bbox"] == [10.0, 20.0, 40.0, 30.0] and boxes[0]["area"] == 1200.0
    assert len({a["track_id"] for a in boxes}) == 2
    line = next(a for a in document["annotations"] if a["attributes"].get("shape") == "polyline")
    assert line["keypoints"] == [0.0, 100.0, 2, 50.0, 40.0, 2]


def test_yolo() -> None:
    files = export.to_yolo(rows(), frames)
    assert files["classes.txt"] == "Vehicle\n"
    assert files["labels/clip-07/000001.txt"] == "0 0.150000 0.350000 0.200000 0.300000\n"
    assert len(files["labels/clip-07/000002.txt"].splitlines()) == 2


def test_yolo_refuses_a_frame_of_unknown_size() -> None:
    with pytest.raises(LabellakeError, match="no known size"):
        export.to_yolo(rows(), lambda s, n, f: export.Frame(s, n, "x", None, None))


def unsized(table: pa.Table) -> pa.Table:
    for column in ("image_width", "image_height"):
        index = table.schema.get_field_index(column)
        table = table.set_column(index, column, pa.nulls(table.num_rows, pa.int32()))
    return table


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_a_frame_of_unknown_size_is_refused_and_nothing_is_written(
    fmt: str, bare_lake: Lake
) -> None:
    bare_lake.write("annotations", "j", unsized(rows()))
    with pytest.raises(LabellakeError, match=r"--map S3PREFIX=DIR .* or --image-size WxH"):
        export.export_jobs(bare_lake, ["j"], fmt)


def test_an_unreachable_bucket_is_asked_once_and_named(bare_lake: Lake) -> None:
    table = unsized(rows())
    many = pa.concat_tables(
        [
            table.set_column(
                table.schema.get_field_index("source_ref"),
                "source_ref",
                pa.array([f"s3://copied-away/clip-{n}_seq.json"] * table.num_rows),
            )
            for n in range(30)
        ]
    )
    bare_lake.write("annotations", "j", many)
    frames = export.ObjectFrames(aws=None)
    with pytest.raises(LabellakeError, match="s3://copied-away could not be reached"):
        export._check_sizes(export.job_annotations(bare_lake, ["j"]), frames)
    assert frames.unreachable == {"s3://copied-away"}


def test_sizes_come_from_the_frames_through_map_or_the_given_size(
    tmp_path: Path, bare_lake: Lake
) -> None:
    from PIL import Image

    bare_lake.write("annotations", "j", unsized(rows()))
    copy = tmp_path / "in/clip-07/img1"
    copy.mkdir(parents=True)
    for name in ("000001.jpg", "000002.jpg"):
        Image.new("RGB", (320, 240)).save(copy / name)
    sequence = {"prefix": "s3://in/clip-07/img1/"}
    (tmp_path / "in/clip-07_seq.json").write_text(json.dumps(sequence))
    mapped = export.export_jobs(bare_lake, ["j"], "yolo", uri_map={"s3://in": str(tmp_path / "in")})
    assert mapped.files["labels/clip-07/000001.txt"].split()[3] == f"{40 / 320:.6f}"
    given = export.export_jobs(bare_lake, ["j"], "mot", image_size=(640, 480))
    assert "imWidth=640\nimHeight=480\n" in given.files["clip-07/seqinfo.ini"]


def test_mot_writes_the_frames_extension_and_no_made_up_frame_rate() -> None:
    table = rows()
    names = [name.replace(".jpg", ".jpeg") for name in table["frame"].to_pylist()]
    table = table.set_column(table.schema.get_field_index("frame"), "frame", pa.array(names))
    info = export.to_mot(table, frames)["clip-07/seqinfo.ini"]
    assert "imExt=.jpeg" in info and "frameRate" not in info
    assert "frameRate=29.97" in export.to_mot(table, frames, 29.97)["clip-07/seqinfo.ini"]


def unlabeled() -> pa.Table:
    table = rows()
    labels = [None, *table["label"].to_pylist()[1:]]
    return table.set_column(table.schema.get_field_index("label"), "label", pa.array(labels))


@pytest.mark.parametrize("fmt", ["coco", "yolo", "mot"])
def test_a_shape_without_a_label_is_exported_under_unlabeled(fmt: str) -> None:
    files = export.EXPORTERS[fmt](unlabeled(), frames)
    if fmt == "coco":
        document = json.loads(files["instances.json"])
        ids = {c["id"]: c["name"] for c in document["categories"]}
        assert all(a["category_id"] in ids for a in document["annotations"])
        assert "unlabeled" in ids.values()
    elif fmt == "yolo":
        assert files["classes.txt"] == "Vehicle\nunlabeled\n"
    else:
        assert files["clip-07/gt/gt.txt"].splitlines()[0].split(",")[7] == "2"


def test_names_from_files_are_safe_on_every_system() -> None:
    table = rows()
    refs = ["s3://in/2026-11-20_10:13:55_seq.json"] * table.num_rows
    table = table.set_column(
        table.schema.get_field_index("source_ref"), "source_ref", pa.array(refs)
    )
    for files in (export.to_mot(table, frames), export.to_yolo(table, frames)):
        assert all(":" not in path for path in files)
    assert "2026-11-20_10_13_55/gt/gt.txt" in export.to_mot(table, frames)


def test_yolo_labels_of_single_images_sit_in_labels() -> None:
    table = rows().filter(pa.compute.equal(rows()["shape"], "box"))
    refs = [f"s3://in/images/photo-{n}.jpg" for n in range(table.num_rows)]
    table = table.set_column(
        table.schema.get_field_index("source_ref"), "source_ref", pa.array(refs)
    )
    names = [f"photo-{n}.jpg" for n in range(table.num_rows)]
    table = table.set_column(table.schema.get_field_index("frame"), "frame", pa.array(names))
    files = export.to_yolo(table, frames)
    assert sorted(files) == [
        "classes.txt",
        "labels/photo-0.txt",
        "labels/photo-1.txt",
        "labels/photo-2.txt",
    ]


def test_mot_round_trips_through_the_importer(tmp_path: Path) -> None:
    files = export.to_mot(rows(), frames)
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    boxes = mot.parse_gt((tmp_path / "clip-07/gt/gt.txt").read_text(), "gt")
    assert [(b.frame, b.track_id, b.box) for b in boxes] == [
        (1, 1, (10.0, 20.0, 40.0, 30.0)),
        (2, 1, (12.0, 20.0, 40.0, 30.0)),
        (2, 2, (100.0, 20.0, 40.0, 30.0)),
    ]
    assert "imWidth=200" in files["clip-07/seqinfo.ini"]


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_empty(fmt: str) -> None:
    files = export.EXPORTERS[fmt](get_table("annotations").empty(), frames)
    assert all(isinstance(text, str) for text in files.values())


@pytest.mark.parametrize(
    ("jobs", "leaves"),
    [
        ([("b-vehicle", None), ("b-lane", None)], ["b-vehicle", "b-lane"]),
        ([("b-vehicle", None), ("b-vehicle-audit", "b-vehicle")], ["b-vehicle-audit"]),
        ([("B-Vehicle", None), ("b-audit", "b-vehicle"), ("b-fix", "B-AUDIT")], ["b-fix"]),
        ([], []),
    ],
)
def test_leaf_jobs_are_the_ends_of_the_chains(
    jobs: list[tuple[str, str | None]], leaves: list[str]
) -> None:
    rows = [{"job_name": name, "chain_from": parent} for name, parent in jobs]
    assert export.leaf_jobs(rows) == leaves


def test_job_annotations_are_ordered_and_a_missing_job_is_named(bare_lake: Lake) -> None:
    table = rows()
    other = table.set_column(
        table.schema.get_field_index("job_name"), "job_name", pa.array(["k"] * table.num_rows)
    )
    bare_lake.write("annotations", "j", table)
    bare_lake.write("annotations", "k", other)
    found = export.job_annotations(bare_lake, ["k", "j"])
    keys = [(r["frame_no"], r["job_name"], r["object_id"]) for r in found.to_pylist()]
    assert keys == sorted(keys) and {k[1] for k in keys} == {"j", "k"}
    assert export.job_annotations(bare_lake, ["j"]).num_rows == table.num_rows
    with pytest.raises(LabellakeError, match=r"no annotations in the lake for job\(s\) nope, x"):
        export.job_annotations(bare_lake, ["j", "nope", "x"])


def test_export_jobs_gives_the_files_and_the_shape_count(tmp_path: Path, bare_lake: Lake) -> None:
    table = rows()
    sequence = tmp_path / "clip-07_seq.json"
    sequence.write_text(json.dumps({"prefix": f"{tmp_path}/clip-07/img1/"}))
    local = pa.array([str(sequence)] * table.num_rows)
    table = table.set_column(table.schema.get_field_index("source_ref"), "source_ref", local)
    bare_lake.write("annotations", "j", table)
    exported = export.export_jobs(bare_lake, ["j"], "mot")
    assert exported.shapes == table.num_rows
    assert set(exported.files) == {"clip-07/gt/gt.txt", "clip-07/seqinfo.ini"}
    assert "imWidth=200" in exported.files["clip-07/seqinfo.ini"]  # the size the lake knew


def two_clips() -> pa.Table:
    """The boxes of `rows` on two clips, in the reverse of the lake's order."""
    boxes = rows().filter(pa.compute.equal(rows()["shape"], "box"))
    other = pa.array(["s3://in/clip-08_seq.json"] * boxes.num_rows)
    moved = boxes.set_column(boxes.schema.get_field_index("source_ref"), "source_ref", other)
    both = pa.concat_tables([boxes, moved])
    return both.take(pa.array(range(both.num_rows - 1, -1, -1)))


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_the_files_are_the_same_written_a_few_rows_at_a_time(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labellake.etl.formats import labelstudio

    whole = export.EXPORTERS[fmt](two_clips(), frames)
    for module in (export, labelstudio):
        monkeypatch.setattr(module, "BATCH_ROWS", 2)
    monkeypatch.setattr(export, "TAKE_ROWS", 3)
    assert export.EXPORTERS[fmt](two_clips(), frames) == whole


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_export_jobs_writes_what_the_format_writes(fmt: str, bare_lake: Lake) -> None:
    bare_lake.write("annotations", "j", two_clips())
    exported = export.export_jobs(bare_lake, ["j"], fmt)
    annotations = export.job_annotations(bare_lake, ["j"])
    lookup = export.ObjectFrames(export.known_sizes(annotations))
    assert exported.files == export.EXPORTERS[fmt](annotations, lookup)


def test_known_sizes_are_the_last_a_frame_is_given() -> None:
    table = rows()
    widths = [200, 250, 300, 0]  # frames 0, 1, 1 and 0: the last size given wins, 0 is none
    table = table.set_column(
        table.schema.get_field_index("image_width"), "image_width", pa.array(widths, pa.int32())
    )
    source = "s3://in/clip-07_seq.json"
    assert export.known_sizes(table) == {(source, 0): (200, 100), (source, 1): (300, 100)}
