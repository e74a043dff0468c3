"""`labellake import cvat|labelstudio|coco`, `labellake etl check` and the export formats."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from labellake.lake import Lake
from tests.portal.cli.test_cli import run

FIXTURES = Path(__file__).parents[2] / "fixtures"
COCO_VIDEO = FIXTURES / "coco/mot_sample.json"
LABEL_STUDIO = FIXTURES / "labelstudio/image_rectangles.json"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_import_reconciles_and_a_second_import_loads_nothing(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    code, out, err = run(capsys, "--home", str(home), "import", "coco", str(COCO_VIDEO))
    boxes = len(json.loads(COCO_VIDEO.read_text())["annotations"])
    assert (code, err) == (0, "")
    assert f"shapes seen {boxes} = written {boxes} + explained in etl_errors 0" in out
    code, out, _ = run(capsys, "--home", str(home), "import", "coco", str(COCO_VIDEO))
    assert code == 0 and "0 job(s) loaded, 1 already up to date" in out
    loads = Lake.from_uri(str(home / "lake")).query(
        "SELECT job_name, source_format, shapes_seen, annotations FROM etl_loads"
    )
    assert loads.to_pylist() == [
        {
            "job_name": "mot_sample",
            "source_format": "coco",
            "shapes_seen": boxes,
            "annotations": boxes,
        }
    ]


def test_etl_check_reports_every_job_and_fails_on_a_loss(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    assert run(capsys, "--home", str(home), "etl", "check")[0] == 2  # nothing loaded yet
    run(capsys, "--home", str(home), "import", "labelstudio", str(LABEL_STUDIO), "--job-name", "ls")
    code, out, _ = run(capsys, "--home", str(home), "etl", "check")
    assert code == 0 and out.startswith("ok      ls [labelstudio]: seen ")
    lake = Lake.from_uri(str(home / "lake"))
    row = lake.read_unit("etl_loads", "ls").to_pylist()[0]
    lost = {
        **row,
        "job_name": "lossy",
        "files": [{"file": "x.json", "seen": 5, "written": 3, "explained": 1}],
    }
    lake.write(
        "etl_loads", "lossy", pa.Table.from_pylist([lost], schema=lake.table("etl_loads").schema)
    )
    code, out, err = run(capsys, "--home", str(home), "etl", "check", "--json")
    checks = {c["job"]: c for c in json.loads(out)}
    assert code == 2 and checks["lossy"]["status"] == "lost" and checks["ls"]["status"] == "ok"
    assert checks["lossy"]["lost_files"] == [
        {"file": "x.json", "seen": 5, "written": 3, "explained": 1}
    ]
    assert "lossy" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["import", "coco", "no-such-file.json"], "does not exist"),
        (
            ["import", "coco", str(COCO_VIDEO), "--job-name", "../up"],
            "--job-name cannot name a job",
        ),
        (
            ["import", "labelstudio", str(LABEL_STUDIO), "--video-size", "wide"],
            "--video-size 'wide'",
        ),
        (["etl", "check", "--job", "nope"], None),
    ],
)
def test_bad_import_arguments_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], home: Path, argv: list[str], message: str | None
) -> None:
    code, _, err = run(capsys, "--home", str(home), *argv)
    assert code == 2 and "Traceback" not in err
    if message:
        assert message in err and len(err.strip().splitlines()) == 1
    assert not (home / "lake/annotations").exists()


def test_export_refuses_unknown_sizes_then_takes_the_given_size(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    run(capsys, "--home", str(home), "import", "coco", str(COCO_VIDEO), "--job-name", "mot")
    lake = Lake.from_uri(str(home / "lake"))
    rows = lake.read_unit("annotations", "mot")
    for column in ("image_width", "image_height"):
        rows = rows.set_column(
            rows.schema.get_field_index(column), column, pa.nulls(rows.num_rows, pa.int32())
        )
    lake.write("annotations", "mot", rows)
    out_dir = tmp_path / "out"
    code, _, err = run(
        capsys,
        "--home",
        str(home),
        "export",
        "--job",
        "mot",
        "--format",
        "yolo",
        "--out",
        str(out_dir),
    )
    assert code == 2 and "--image-size" in err and not out_dir.exists()
    code, out, _ = run(
        capsys,
        "--home",
        str(home),
        "export",
        "--job",
        "mot",
        "--format",
        "mot",
        "--out",
        str(out_dir),
        "--image-size",
        "640x480",
        "--frame-rate",
        "25",
    )
    assert code == 0
    infos = [path.read_text() for path in out_dir.rglob("seqinfo.ini")]
    assert len(infos) == 2  # the sample's two videos
    assert all("imWidth=640" in info and "frameRate=25\n" in info for info in infos)


def test_an_import_that_loses_shapes_without_a_reason_exits_2(
    capsys: pytest.CaptureFixture[str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labellake.etl.formats import coco

    honest = coco.read_coco

    def lossy(path, stream, **options):  # type: ignore[no-untyped-def]
        for chunk in honest(path, stream, **options):
            yield chunk.__class__(chunk.file, chunk.annotations.slice(1), chunk.worker_responses)

    monkeypatch.setattr(coco, "read_coco", lossy)
    code, out, err = run(capsys, "--home", str(home), "import", "coco", str(COCO_VIDEO))
    assert code == 2 and "NOT ACCOUNTED FOR" in out
    assert "dropped without a reason" in err and "mot_sample.json (seen 12, written 11" in err
    code, out, _ = run(capsys, "--home", str(home), "etl", "check")
    assert code == 2 and out.startswith("lost    mot_sample [coco]")
