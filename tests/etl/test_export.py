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
            "left": left,
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
    document = json.loads(export.to_coco(rows(), frames)["annotations.json"])
    assert [c["name"] for c in document["categories"]] == ["Lane", "Vehicle"]
    assert len(document["images"]) == 2 and document["images"][0]["width"] == 200
    boxes = [a for a in document["annotations"] if a["attributes"]["shape"] == "box"]
    assert boxes[0]["bbox"] == [10.0, 20.0, 40.0, 30.0] and boxes[0]["area"] == 1200.0
    assert {a["track_id"] for a in boxes} == {1, 2}
    line = next(a for a in document["annotations"] if a["attributes"]["shape"] == "polyline")
    assert line["keypoints"] == [0.0, 100.0, 2, 50.0, 40.0, 2]


def test_yolo() -> None:
    files = export.to_yolo(rows(), frames)
    assert files["classes.txt"] == "Vehicle\n"
    assert files["labels/clip-07/000001.txt"] == "0 0.150000 0.350000 0.200000 0.300000\n"
    assert len(files["labels/clip-07/000002.txt"].splitlines()) == 2


def test_yolo_skips_frames_of_unknown_size() -> None:
    files = export.to_yolo(rows(), lambda s, n, f: export.Frame(s, n, "x", None, None))
    assert list(files) == ["classes.txt"]


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
