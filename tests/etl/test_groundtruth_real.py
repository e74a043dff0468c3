"""Ground Truth outputs as real jobs wrote them: each case here lost data before."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labellake.etl import labeling
from labellake.etl.imports import find_jobs
from labellake.etl.jobs import JobOutput, load_job
from labellake.etl.reconcile import ImportLog
from labellake.lake import Lake

FIXTURES = Path(__file__).parents[1] / "fixtures/groundtruth"
BIRDS = FIXTURES / "image-bbox-birds/output.first30.manifest"
VIDEO = FIXTURES / "video-quality-metrics/SeqLabel.json"


def job_folder(root: Path, name: str, manifest_lines: list[dict] | str) -> Path:  # type: ignore[type-arg]
    manifest = root / name / "manifests/output/output.manifest"
    manifest.parent.mkdir(parents=True)
    if isinstance(manifest_lines, str):
        manifest.write_text(manifest_lines)
    else:
        manifest.write_text("".join(json.dumps(line) + "\n" for line in manifest_lines))
    return manifest


def test_a_folder_named_unlike_the_job_still_loads_every_box(
    tmp_path: Path, bare_lake: Lake
) -> None:
    # The birds job is labeling-job/ground-truth-od-demo-1662974840 writing attribute
    # "category"; its copy sits in a folder of another name.
    manifest = job_folder(tmp_path, "birds-copy", BIRDS.read_text())
    lines = [json.loads(raw) for raw in BIRDS.read_text().splitlines() if raw.strip()]
    boxes = sum(len(line["category"]["annotations"]) for line in lines)
    report = load_job(JobOutput("birds-copy", str(manifest)), bare_lake)
    assert report.counts["annotations"] == boxes == 41
    assert (report.log.seen, report.log.written, report.log.explained) == (boxes, boxes, 0)
    (note,) = [p for p in report.problems if "names no label attribute" in p.reason]
    assert "ground-truth-od-demo-1662974840" in note.reason and note.shapes == 0
    labels = bare_lake.query("SELECT DISTINCT label FROM annotations").column("label")
    assert labels.to_pylist() == ["Bird"]


def test_import_pointed_at_the_job_folder_takes_its_name(tmp_path: Path) -> None:
    manifest = job_folder(tmp_path, "birds-2022", BIRDS.read_text())
    (job,) = find_jobs(str(tmp_path / "birds-2022"))
    assert job.job_name == "birds-2022" and job.output_manifest_uri.endswith(str(manifest))


def test_a_job_folder_at_a_bucket_top_is_named_by_its_manifest(
    tmp_path: Path, moto_endpoint: str
) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="birds-top")
    s3.put_object(
        Bucket="birds-top", Key="manifests/output/output.manifest", Body=BIRDS.read_bytes()
    )
    (job,) = find_jobs("s3://birds-top", region="us-east-1", endpoint_url=moto_endpoint)
    assert job.job_name == "ground-truth-od-demo-1662974840"


def video_line(job_attribute: str, job_name: str, ref: str) -> dict:  # type: ignore[type-arg]
    """A video tracking output line as Ground Truth writes it: the metadata job-name in
    lower case, the label attribute in the case the job was created with."""
    return {
        "source-ref": "s3://example-video-input/clip-1/clip-1_seq.json",
        job_attribute: ref,
        f"{job_attribute}-metadata": {
            "class-map": {"2": "Vehicle"},
            "job-name": f"labeling-job/{job_name.lower()}",
            "human-annotated": "yes",
            "creation-date": "2021-03-22T10:00:00.000000",
            "type": "groundtruth/video-object-tracking",
        },
    }


def test_the_job_name_case_does_not_make_a_job_audit_itself(
    tmp_path: Path, bare_lake: Lake
) -> None:
    seqlabel = tmp_path / "SeqLabel.json"
    shutil.copy(VIDEO, seqlabel)
    manifest = job_folder(
        tmp_path, "Vehicles-VOT", [video_line("Vehicles-VOT-ref", "Vehicles-VOT", str(seqlabel))]
    )
    report = load_job(JobOutput("Vehicles-VOT", str(manifest)), bare_lake)
    boxes = sum(
        len(f["annotations"]) for f in json.loads(VIDEO.read_text())["tracking-annotations"]
    )
    assert report.counts["annotations"] == boxes == 890
    assert report.counts["audit_stats"] == 0
    loads = bare_lake.query("SELECT audits, shapes_seen, shapes_explained FROM etl_loads")
    assert loads.to_pylist() == [{"audits": None, "shapes_seen": 890, "shapes_explained": 0}]


def per_frame_lines(document: dict, prefix: str, first: int) -> list[dict]:  # type: ignore[type-arg]
    """A tracking job converted to one inline line per frame, as the conversion of a video
    job to an object-detection manifest writes it: object-id and object-name kept, class_id
    with an underscore, the metadata type still video-object-tracking."""
    lines = []
    for frame in document["tracking-annotations"]:
        number = first + int(frame["frame-no"])
        boxes = [
            {
                "object-id": box["object-id"],
                "object-name": box["object-name"],
                "class_id": int(box["class-id"]),
                **{k: box[k] for k in ("left", "top", "width", "height")},
            }
            for box in frame["annotations"]
        ]
        lines.append(
            {
                "source-ref": f"{prefix}frame_{number:04d}.jpeg",
                "vehicles": {
                    "annotations": boxes,
                    "image_size": [{"width": 1280, "height": 720, "depth": 3}],
                },
                "vehicles-metadata": {
                    "class-map": {"2": "Vehicle"},
                    "job-name": "labeling-job/vehicles",
                    "type": "groundtruth/video-object-tracking",
                    "human-annotated": "yes",
                    "creation-date": "2021-03-22T10:00:00.000000",
                },
            }
        )
    return lines


def test_per_frame_lines_of_a_video_keep_their_tracks(tmp_path: Path, bare_lake: Lake) -> None:
    document = json.loads(VIDEO.read_text())
    prefix = "s3://example-video-input/traffic.mp4/"
    manifest = job_folder(tmp_path, "vehicles", per_frame_lines(document, prefix, 238))
    report = load_job(JobOutput("vehicles", str(manifest)), bare_lake)
    assert report.counts["annotations"] == 890 and not report.lost
    rows = bare_lake.query(
        "SELECT source_ref, min(frame_no) AS first, max(frame_no) AS last, "
        "count(DISTINCT object_id) AS tracks, count(DISTINCT object_name) AS names "
        "FROM annotations GROUP BY source_ref"
    ).to_pylist()
    assert rows == [{"source_ref": prefix, "first": 0, "last": 299, "tracks": 3, "names": 3}]
    short = bare_lake.query(
        "SELECT count(*) AS n FROM qa_findings WHERE check_name = 'short_track'"
    )
    assert short.column("n")[0].as_py() == 0


def test_an_unreachable_clip_bucket_is_asked_once(tmp_path: Path, bare_lake: Lake) -> None:
    seqlabel = tmp_path / "SeqLabel.json"
    shutil.copy(VIDEO, seqlabel)
    lines = []
    for clip in range(40):
        line = video_line("vehicles-ref", "vehicles", str(seqlabel))
        line["source-ref"] = f"s3://copied-away-bucket/clips/clip-{clip}_seq.json"
        lines.append(line)
    manifest = job_folder(tmp_path, "vehicles", lines)
    asked: list[str] = []

    def read(uri: str) -> bytes:
        if uri.startswith("s3://"):
            asked.append(uri)
            raise OSError("When reading information: AWS Error NETWORK_CONNECTION")
        return Path(uri).read_bytes()

    report = load_job(JobOutput("vehicles", str(manifest)), bare_lake, reader=read)
    assert len(asked) == 1
    (note,) = [p for p in report.problems if p.file == "s3://copied-away-bucket"]
    assert "--map s3://copied-away-bucket=DIR" in note.reason
    assert report.counts["annotations"] == 40 * 890


# -- every import reconciles, whatever the variant -----------------------------------------

_number = st.one_of(
    st.integers(0, 2000), st.floats(0, 2000, allow_nan=False), st.integers(0, 2000).map(str)
)
_box = st.fixed_dictionaries(
    {"left": _number, "top": _number, "width": _number, "height": _number},
    optional={
        "class-id": st.sampled_from(["0", "1", 0, 1]),
        "class_id": st.sampled_from(["0", 1]),
        "object-id": st.text("abc0123", min_size=1, max_size=4),
        "object-name": st.text("Car:12", max_size=5),
        "label-category-attributes": st.dictionaries(
            st.sampled_from(["Color", "audit"]), st.sampled_from(["Red", "Pass", 3])
        ),
    },
)
_line_item = st.fixed_dictionaries(
    {"vertices": st.lists(st.fixed_dictionaries({"x": _number, "y": _number}), max_size=4)},
    optional={"class-id": st.sampled_from(["0", 1]), "object-id": st.text("ab", min_size=1)},
)
_junk = st.one_of(
    st.none(), st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2)
)
_frame = st.fixed_dictionaries(
    {},
    optional={
        "frame-no": st.one_of(st.integers(0, 50), st.integers(0, 50).map(str)),
        "frame": st.text("0123.jpg", max_size=8),
        "annotations": st.lists(st.one_of(_box, _junk), max_size=4),
        "boxes": st.lists(_box, max_size=2),
        "polylines": st.lists(st.one_of(_line_item, _junk), max_size=3),
        "polygons": st.lists(_line_item, max_size=2),
        "keypoints": st.lists(_line_item, max_size=2),
        "frame-attributes": st.dictionaries(st.sampled_from(["weather"]), st.just("rain")),
    },
)
_seqlabel = st.fixed_dictionaries(
    {st_key: st.lists(st.one_of(_frame, _junk), max_size=4) for st_key in ["tracking-annotations"]}
) | st.fixed_dictionaries({"detection-annotations": st.lists(_frame, max_size=3)})


def _shapes(document: dict) -> int:  # type: ignore[type-arg]
    """Shapes in a SeqLabel document, counted independently of the reader."""
    frames = document.get("tracking-annotations", document.get("detection-annotations")) or []
    return sum(
        len(frame.get(key) or [])
        for frame in frames
        if isinstance(frame, dict)
        for key in ("annotations", "boxes", "polylines", "polygons", "keypoints")
        if isinstance(frame.get(key) or [], list)
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    documents=st.lists(_seqlabel, min_size=1, max_size=4),
    inline=st.lists(st.lists(st.one_of(_box, _junk), max_size=3), max_size=3),
    case=st.sampled_from(["same", "upper", "other-folder"]),
    ref_suffix=st.booleans(),
)
def test_every_variant_reconciles(
    documents: list[dict],
    inline: list[list],
    case: str,
    ref_suffix: bool,  # type: ignore[type-arg]
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        attribute = "Cars-Job" + ("-ref" if ref_suffix else "")
        lines = []
        for index, document in enumerate(documents):
            path = root / f"SeqLabel-{index}.json"
            path.write_text(json.dumps(document))
            lines.append(
                {
                    "source-ref": f"clip-{index}_seq.json",
                    attribute: str(path),
                    f"{attribute}-metadata": {"job-name": "labeling-job/cars-job"},
                }
            )
        for index, boxes in enumerate(inline):
            lines.append(
                {
                    "source-ref": f"image-{index}.jpg",
                    attribute: {"annotations": boxes},
                    f"{attribute}-metadata": {"job-name": "labeling-job/cars-job"},
                }
            )
        name = {"same": "Cars-Job", "upper": "CARS-JOB", "other-folder": "copied"}[case]
        manifest = job_folder(root, name, lines)
        lake = Lake.from_uri(str(root / "lake"))
        report = load_job(JobOutput(name, str(manifest)), lake)
        expected = sum(_shapes(d) for d in documents) + sum(len(boxes) for boxes in inline)
        assert report.lost == []
        assert report.log.seen == expected
        assert report.counts["annotations"] + report.log.explained == expected
        written = lake.query("SELECT count(*) AS n FROM annotations").column("n")[0].as_py()
        explained = lake.query("SELECT coalesce(sum(shapes), 0) AS n FROM etl_errors")
        assert written + explained.column("n")[0].as_py() == expected


def test_the_log_finds_a_loss_nobody_explained() -> None:
    log = ImportLog()
    log.saw("a.json", 3)
    log.wrote("a.json", 2)
    assert [t.file for t in log.unexplained] == ["a.json"]
    log.drop("a.json", 4, "box 2 has no coordinates")
    assert log.unexplained == [] and log.problems[0].shapes == 1


def test_frame_places_need_two_numbered_frames_of_one_stem() -> None:
    places = labeling.frame_places(
        ["s3://b/a/x_0001.jpg", "s3://b/a/x_0003.jpg", "s3://b/a/y_0001.jpg", "s3://b/c/z.jpg"]
    )
    assert places == {
        "s3://b/a/x_0001.jpg": labeling.FramePlace("s3://b/a/x_", 0, "x_0001.jpg"),
        "s3://b/a/x_0003.jpg": labeling.FramePlace("s3://b/a/x_", 2, "x_0003.jpg"),
    }
