from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import motmetrics
import numpy as np
import pytest

from labellake.errors import LabellakeError
from labellake.lake import ObjectStore
from labellake.workflows.imports import mot, video
from labellake.workflows.labeling import formats
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.samples import synthetic
from labellake.workflows.samples.truth import ClipTruth, truth_uri

MOT_DATA = Path(motmetrics.__file__).parent / "data"
EXAMPLES = Path(__file__).parents[2] / "fixtures/examples"


def test_synthetic_clips_are_deterministic(tmp_path: Path) -> None:
    a = ObjectStore.from_uri(tmp_path / "a")
    b = ObjectStore.from_uri(tmp_path / "b")
    synthetic.generate(a, dataset="d", clips=2, frames=5, seed=1)
    synthetic.generate(b, dataset="d", clips=2, frames=5, seed=1)
    assert a.list() == b.list()
    assert a.read_bytes("d/clip-01_gt.json") == b.read_bytes("d/clip-01_gt.json")
    sequence = formats.parse_sequence(a.read_text("d/clip-01_seq.json"), "seq")
    assert len(sequence.frames) == 5 and a.exists("d/clip-01/img1/000005.jpg")
    truth = ClipTruth.from_json(a.read_text("d/clip-01_gt.json"))
    kinds = {o.kind for f in truth.frames for o in f.objects}
    assert kinds == {"box", "polyline"}


def test_tud_campus_imports_with_its_ground_truth(objects: ObjectStore) -> None:
    imported = mot.import_folders(
        objects, [MOT_DATA / "TUD-Campus", MOT_DATA / "TUD-Stadtmitte"], "mot", frames=10, stride=3
    )
    lines = formats.parse_manifest(objects.read_text("mot/clips.manifest"), "m")
    assert [line["source-ref"] for line in lines] == list(imported.clips)
    sequence = formats.parse_sequence(objects.read_text("mot/TUD-Campus_seq.json"), "s")
    assert [name for _, name in sequence.frames] == [f"{n:06d}.jpg" for n in range(1, 31, 3)]
    truth = ClipTruth.from_json(objects.read_text("mot/TUD-Campus_gt.json"))
    gt = mot.parse_gt((MOT_DATA / "TUD-Campus/gt.txt").read_text(), "gt")
    frame_four = [b for b in gt if b.frame == 4]
    assert len(truth.frames[1].objects) == len(frame_four)
    assert truth.frames[1].objects[0].box == frame_four[0].box
    assert json.loads(objects.read_text("mot/label_category.json"))["labels"] == [
        {"label": "Pedestrian"}
    ]


def test_seqinfo_and_images_are_used_when_present(tmp_path: Path, objects: ObjectStore) -> None:
    folder = tmp_path / "MOT17-13-SDP"
    (folder / "gt").mkdir(parents=True)
    (folder / "img1").mkdir()
    (folder / "seqinfo.ini").write_text((EXAMPLES / "seqinfo.ini").read_text())
    (folder / "gt/gt.txt").write_text((EXAMPLES / "mot-gt.txt").read_text())
    (folder / "img1/000001.jpg").write_bytes(b"\xff\xd8 a real frame")
    mot.import_folders(objects, [folder], "m17", frames=3)
    assert objects.read_bytes("m17/MOT17-13-SDP/img1/000001.jpg") == b"\xff\xd8 a real frame"
    truth = ClipTruth.from_json(objects.read_text("m17/MOT17-13-SDP_gt.json"))
    assert (truth.width, truth.height) == (1920, 1080)
    # Rows with conf 0 (track 1, a static person) are "ignore" regions in MOTChallenge.
    assert [[o.track_id for o in f.objects] for f in truth.frames] == [
        ["MOT17-13-SDP-2"],
        ["MOT17-13-SDP-2"],
        ["MOT17-13-SDP-2"],
    ]


@pytest.mark.parametrize(
    "content,message",
    [("1,1,oops,2,3,4,1,1,1\n", "line 1: expected"), ("", "no ground-truth boxes")],
)
def test_bad_gt_files_are_named(
    tmp_path: Path, objects: ObjectStore, content: str, message: str
) -> None:
    folder = tmp_path / "seq"
    folder.mkdir()
    (folder / "gt.txt").write_text(content)
    with pytest.raises(LabellakeError, match=message):
        mot.import_folders(objects, [folder], "x")


def test_a_folder_that_is_not_mot(tmp_path: Path, objects: ObjectStore) -> None:
    with pytest.raises(LabellakeError, match="no gt/gt.txt"):
        mot.import_folders(objects, [tmp_path], "x")


def write_video(path: Path, frames: int = 20) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            image = np.full((48, 64, 3), i * 10 % 255, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_video_is_split_at_a_stride(tmp_path: Path, objects: ObjectStore) -> None:
    write_video(tmp_path / "drive.mp4", frames=20)
    imported = video.import_videos(objects, [tmp_path], "vids", stride=2)
    sequence = formats.parse_sequence(objects.read_text("vids/drive_seq.json"), "s")
    assert len(sequence.frames) == 10 and imported.clips == (objects.uri("vids/drive_seq.json"),)
    assert objects.read_bytes("vids/drive/img1/000010.jpg")[:2] == b"\xff\xd8"
    limited = video.import_videos(objects, [tmp_path / "drive.mp4"], "short", max_frames=3)
    assert len(formats.parse_sequence(objects.read_text("short/drive_seq.json"), "s").frames) == 3
    assert limited.manifest_uri.endswith("short/clips.manifest")


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("missing.mp4", None, "does not exist"),
        ("broken.mp4", b"not a video at all", "cannot decode video"),
    ],
)
def test_bad_videos_are_named(
    tmp_path: Path, objects: ObjectStore, name: str, content: bytes | None, message: str
) -> None:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(LabellakeError, match=message):
        video.import_videos(objects, [tmp_path / name], "v")


def test_imported_mot_clips_run_through_a_batch(
    engine: Engine, objects: ObjectStore, request_for: Callable[..., dict[str, Any]]
) -> None:
    imported = mot.import_folders(objects, [MOT_DATA / "TUD-Campus"], "mot", frames=12)
    request = {
        "batchId": "tud",
        "labelingJobs": [
            {
                "jobName": "tud-people",
                "jobModality": "VideoObjectTracking",
                "jobLevel": 1,
                "labelCategoryConfigS3Uri": imported.label_config_uri,
                "inputConfig": {"inputManifestS3Uri": imported.manifest_uri},
            },
            {
                "jobName": "tud-people-audit",
                "jobModality": "VideoObjectTrackingAudit",
                "jobLevel": 2,
                "inputConfig": {"chainFromJobName": "tud-people"},
            },
        ],
    }
    assert engine.run_to_end(engine.submit(request), poll_s=0) == "COMPLETE"
    line = formats.parse_manifest(
        engine.read(engine.state.job("tud-people")["output_manifest_uri"]), "m"
    )[0]
    seqlabel = json.loads(engine.read(line["tud-people-ref"]))
    assert sum(len(f["annotations"]) for f in seqlabel["tracking-annotations"]) > 20
    assert truth_uri(line["source-ref"]).endswith("TUD-Campus_gt.json")
