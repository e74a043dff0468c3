"""One labelstudio job at a time, against the session's real Label Studio server: polling
without webhooks, single images, stop, timeouts, a create that broke off, and importing a
project's annotations with `labellake import labelstudio --project`."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from labellake.lake import Lake, ObjectStore
from labellake.portal.cli.main import main
from labellake.workflows.labeling import formats
from labellake.workflows.labeling.backends import BackendJobStatus, JobRequest
from labellake.workflows.labeling.backends.labelstudio import RECORDS, LabelStudioBackend
from labellake.workflows.labeling.backends.labelstudio_server import LabelStudioServer
from labellake.workflows.samples import synthetic
from labellake.workflows.samples.synthetic import VEHICLE_CONFIG
from tests.workflows.labeling.backends.labelstudio_people import Person, truth_of, vehicle_result


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ops(label_studio: LabelStudioServer) -> Person:
    return Person(label_studio, f"ops-{uuid.uuid4().hex[:8]}@example.com")


@pytest.fixture
def objects(label_studio: LabelStudioServer) -> ObjectStore:
    store = ObjectStore.from_uri(str(label_studio.files_root / f"home-{uuid.uuid4().hex[:8]}"))
    store.ensure_root()
    return store


def backend_for(
    server: LabelStudioServer, ops: Person, objects: ObjectStore, clock: Clock | None = None
) -> LabelStudioBackend:
    return LabelStudioBackend(
        objects,
        server.url,
        ops.token,
        title_prefix="t-",
        files_root=str(server.files_root),
        server_poll_s=0,
        clock=clock or Clock(),
    )


def request_for(
    objects: ObjectStore,
    manifest: str,
    config: str,
    modality: str = "VideoObjectTracking",
    lifetime: int = 3600,
) -> JobRequest:
    job = f"job-{uuid.uuid4().hex[:8]}"
    return JobRequest(
        job_id=job,
        job_name=job,
        batch_id="b1",
        level=1,
        modality=modality,
        input_manifest_uri=manifest,
        label_config_uri=config,
        label_attribute_name=f"{job}-ref" if modality != "BoundingBox" else job,
        workteam_arn="arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/first-level",
        output_prefix_uri=objects.uri("output"),
        max_concurrent_task_count=10,
        task_time_limit_s=600,
        task_availability_lifetime_s=lifetime,
    )


def started(
    server: LabelStudioServer,
    ops: Person,
    objects: ObjectStore,
    clips: int,
    frames: int,
    seed: int,
    clock: Clock | None = None,
    lifetime: int = 3600,
) -> tuple[LabelStudioBackend, JobRequest]:
    """A video job of the vehicle boxes on generated clips, created on the server."""
    samples = synthetic.generate(objects, dataset="clips", clips=clips, frames=frames, seed=seed)
    backend = backend_for(server, ops, objects, clock)
    request = request_for(
        objects, samples.manifest_uri, samples.vehicle_config_uri, lifetime=lifetime
    )
    backend.create_job(request)
    return backend, request


def project_of(backend: LabelStudioBackend, job_id: str) -> dict[str, Any]:
    record = json.loads(backend.objects.read_text(f"{RECORDS}/{job_id}.json"))
    return backend.client.project(record["project_id"])


def test_a_video_job_completes_by_polling(
    label_studio: LabelStudioServer, ops: Person, objects: ObjectStore
) -> None:
    backend, request = started(label_studio, ops, objects, clips=2, frames=6, seed=1)
    backend.create_job(request)  # again: nothing more is made
    project = project_of(backend, request.job_id)
    assert project["task_number"] == 2
    assert [p["title"] for p in ops.client.projects()].count(f"t-{request.job_id}") == 1
    assert backend.describe_job(request.job_id).status == BackendJobStatus.IN_PROGRESS
    labeler = Person(label_studio, f"lee-{uuid.uuid4().hex[:8]}@example.com")
    tasks = labeler.tasks(project["id"])
    # The clip is served to Label Studio as a video it can play.
    media = labeler.client.request("GET", tasks[0]["data"]["media"])
    assert media.headers["content-type"] == "video/mp4" and media.content[4:8] == b"ftyp"
    labeler.annotate(tasks[0]["id"], vehicle_result(truth_of(tasks[0]["data"]["source_ref"])), 12)
    assert backend.describe_job(request.job_id).status == BackendJobStatus.IN_PROGRESS
    assert backend.progress(request.job_id) == {"submitted": 1, "total": 2}
    labeler.annotate(tasks[1]["id"], vehicle_result(truth_of(tasks[1]["data"]["source_ref"])), 13)
    status = backend.describe_job(request.job_id)
    assert status.status == BackendJobStatus.COMPLETED
    lines = formats.parse_manifest(Path(status.output_manifest_uri).read_text(), "out")
    assert len(lines) == 2
    for task in tasks:  # each output line holds the clip's boxes, in pixels, on its frames
        line = next(x for x in lines if x["source-ref"] == task["data"]["source_ref"])
        seqlabel = json.loads(Path(line[request.label_attribute_name]).read_text())
        truth = truth_of(task["data"]["source_ref"])
        for entry, frame in zip(seqlabel["tracking-annotations"], truth.frames, strict=True):
            boxes = sorted(
                (b["left"], b["top"], b["width"], b["height"]) for b in entry["annotations"]
            )
            expected = sorted(
                tuple(round(v) for v in o.box) for o in frame.objects if o.kind == "box"
            )
            assert boxes == expected
            assert entry["frame-attributes"]["Number_Of_Vehicles"] == str(
                len({o.track_id for f in truth.frames for o in f.objects if o.kind == "box"})
            )


def write_image(objects: ObjectStore, key: str, size: tuple[int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, (40, 80, 120)).save(buffer, "PNG")
    return objects.write_bytes(key, buffer.getvalue())


def test_an_image_job_writes_ground_truth_boxes(
    label_studio: LabelStudioServer, ops: Person, objects: ObjectStore
) -> None:
    image = write_image(objects, "images/street.png", (200, 100))
    manifest = objects.write_text(
        "images/images.manifest", json.dumps({"source-ref": image}) + "\n"
    )
    config = objects.write_text("images/config.json", json.dumps(VEHICLE_CONFIG))
    backend = backend_for(label_studio, ops, objects)
    request = request_for(objects, manifest, config, modality="BoundingBox")
    backend.create_job(request)
    project = project_of(backend, request.job_id)
    assert "<RectangleLabels" in project["label_config"]
    labeler = Person(label_studio, f"ivy-{uuid.uuid4().hex[:8]}@example.com")
    (task,) = labeler.tasks(project["id"])
    box = {
        "x": 10,
        "y": 20,
        "width": 50,
        "height": 40,
        "rotation": 0,
        "rectanglelabels": ["Vehicle"],
    }
    labeler.annotate(
        task["id"],
        [
            {
                "id": "b1",
                "from_name": "label",
                "to_name": "media",
                "type": "rectanglelabels",
                "original_width": 200,
                "original_height": 100,
                "value": box,
            }
        ],
        7,
    )
    status = backend.describe_job(request.job_id)
    assert status.status == BackendJobStatus.COMPLETED
    (line,) = formats.parse_manifest(Path(status.output_manifest_uri).read_text(), "out")
    assert line[request.job_id]["annotations"] == [
        {"class_id": 0, "left": 20, "top": 20, "width": 100, "height": 40}
    ]
    assert line[request.job_id]["image_size"] == [{"width": 200, "height": 100, "depth": 3}]


def test_stop_marks_the_project_and_reads_nothing_more(
    label_studio: LabelStudioServer, ops: Person, objects: ObjectStore
) -> None:
    backend, request = started(label_studio, ops, objects, clips=1, frames=4, seed=2)
    backend.stop_job(request.job_id)
    project = project_of(backend, request.job_id)
    assert project["title"].startswith("[stopped] ")
    assert "Stopped by labellake" in project["expert_instruction"]
    labeler = Person(label_studio, f"sam-{uuid.uuid4().hex[:8]}@example.com")
    (task,) = labeler.tasks(project["id"])
    labeler.annotate(task["id"], vehicle_result(truth_of(task["data"]["source_ref"])), 5)
    assert backend.describe_job(request.job_id).status == BackendJobStatus.STOPPED
    assert not objects.list("output")


def test_a_job_past_its_task_lifetime_fails(
    label_studio: LabelStudioServer, ops: Person, objects: ObjectStore
) -> None:
    clock = Clock()
    backend, request = started(label_studio, ops, objects, 1, 4, seed=3, clock=clock, lifetime=60)
    assert backend.describe_job(request.job_id).status == BackendJobStatus.IN_PROGRESS
    clock.now += 61
    status = backend.describe_job(request.job_id)
    assert status.status == BackendJobStatus.FAILED
    assert "1 of 1 tasks" in (status.failure_reason or "")


def test_a_create_that_broke_off_is_made_again_once(
    label_studio: LabelStudioServer, ops: Person, objects: ObjectStore
) -> None:
    backend, request = started(label_studio, ops, objects, clips=1, frames=4, seed=4)
    # As if the process died after making the project, before recording it.
    key = f"{RECORDS}/{request.job_id}.json"
    record = json.loads(objects.read_text(key))
    first = record.pop("project_id")
    record.pop("ready")
    objects.write_text(key, json.dumps(record))
    backend.create_job(request)
    mine = [p for p in ops.client.projects() if record["marker"] in (p["description"] or "")]
    assert len(mine) == 1 and mine[0]["id"] != first
    assert mine[0]["task_number"] == 1


def test_import_reads_a_project_from_the_server(
    label_studio: LabelStudioServer,
    ops: Person,
    objects: ObjectStore,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LABELLAKE_LABELSTUDIO_TOKEN", ops.token)
    backend, request = started(label_studio, ops, objects, clips=2, frames=5, seed=5)
    project = project_of(backend, request.job_id)
    labeler = Person(label_studio, f"kim-{uuid.uuid4().hex[:8]}@example.com")
    boxes = 0
    for task in labeler.tasks(project["id"]):
        result = vehicle_result(truth_of(task["data"]["source_ref"]))
        boxes += sum(len(r["value"]["sequence"]) for r in result if r["type"] == "videorectangle")
        labeler.annotate(task["id"], result, 9)
    home = tmp_path / "home"
    with pytest.raises(SystemExit) as done:
        main(
            ["--home", str(home), "import", "labelstudio", "--url", label_studio.url]
            + ["--project", str(project["id"]), "--video-size", "1280x720"]
            + ["--job-name", "from-ls"],
        )
    out = capsys.readouterr()
    assert done.value.code == 0, out.err
    assert "from-ls" in out.out
    lake = Lake.from_uri(str(home / "lake"))
    rows = lake.query("SELECT count(*) AS n FROM annotations WHERE job_name = 'from-ls'")
    assert rows.to_pylist()[0]["n"] == boxes
    load = lake.query("SELECT source, shapes_seen FROM etl_loads WHERE job_name = 'from-ls'")
    assert load.to_pylist() == [
        {"source": f"{label_studio.url}/projects/{project['id']}", "shapes_seen": boxes}
    ]


def test_import_of_an_unknown_project_is_one_line(
    label_studio: LabelStudioServer,
    ops: Person,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LABELLAKE_LABELSTUDIO_TOKEN", ops.token)
    with pytest.raises(SystemExit) as done:
        main(
            ["--home", str(tmp_path / "home"), "import", "labelstudio", "--url", label_studio.url]
            + ["--project", "999999"]
        )
    assert done.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "/api/projects/999999/export" in err and "not found" in err
    assert len(err.splitlines()) == 1


def test_deleting_the_job_deletes_its_project(
    label_studio: LabelStudioServer, ops: Person, objects: ObjectStore
) -> None:
    backend, request = started(label_studio, ops, objects, clips=1, frames=3, seed=6)
    project_id = project_of(backend, request.job_id)["id"]
    assert backend.records(request.job_id)
    backend.delete_records(request.job_id)
    assert project_id not in [p["id"] for p in ops.client.projects()]
    assert not backend.records(request.job_id) and backend.project_url(request.job_id) is None
    backend.delete_records(request.job_id)  # again: nothing left, nothing fails


def test_doctor_checks_the_server_and_the_token(
    label_studio: LabelStudioServer,
    ops: Person,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LABELLAKE_LABELSTUDIO_URL", label_studio.url)
    monkeypatch.setenv("LABELLAKE_LABELSTUDIO_TOKEN", ops.token)
    with pytest.raises(SystemExit) as done:
        main(["--home", str(tmp_path / "home"), "doctor"])
    out = capsys.readouterr()
    assert done.value.code == 0, out
    assert f"as {ops.email}" in out.out + out.err
    monkeypatch.setenv("LABELLAKE_LABELSTUDIO_TOKEN", "a.b.c")
    with pytest.raises(SystemExit) as done:
        main(["--home", str(tmp_path / "home"), "doctor"])
    out = capsys.readouterr()
    assert done.value.code != 0
    assert "refused labelstudio_token" in out.out + out.err


def test_a_server_that_stops_answering_holds_the_job_not_the_batch(
    label_studio: LabelStudioServer, ops: Person, objects: ObjectStore
) -> None:
    from tests.portal.browsing import free_port

    backend, request = started(label_studio, ops, objects, clips=1, frames=3, seed=7)
    away = LabelStudioBackend(
        objects, f"http://127.0.0.1:{free_port()}", ops.token, server_poll_s=0, clock=Clock()
    )
    assert away.describe_job(request.job_id).status == BackendJobStatus.IN_PROGRESS
    assert backend.describe_job(request.job_id).status == BackendJobStatus.IN_PROGRESS


def test_on_s3_the_tasks_read_presigned_urls(
    label_studio: LabelStudioServer, ops: Person, moto_endpoint: str, s3_bucket: str
) -> None:
    import httpx

    from labellake.aws_clients import AwsTarget

    aws = AwsTarget("us-east-1", moto_endpoint)
    objects = ObjectStore.from_uri(f"s3://{s3_bucket}/objects", **aws.kwargs)
    samples = synthetic.generate(objects, dataset="clips", clips=1, frames=3, seed=8)
    backend = LabelStudioBackend(objects, label_studio.url, ops.token, server_poll_s=0, aws=aws)
    request = request_for(objects, samples.manifest_uri, samples.vehicle_config_uri)
    backend.create_job(request)
    (task,) = ops.tasks(project_of(backend, request.job_id)["id"])
    url = task["data"]["media"]
    assert url.startswith(f"{moto_endpoint}/{s3_bucket}/objects/labelstudio/media/")
    assert "Signature" in url or "X-Amz-Signature" in url
    video = httpx.get(url)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
