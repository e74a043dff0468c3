"""How long a labelstudio job of 1,000 tasks takes to create, and its results to come back
into the lake, against one real Label Studio server.

    python benchmarks/labelstudio_sync.py [--tasks 1000] [--frames 10]

Starts Label Studio 1.23.2 from .venv-labelstudio (`make labelstudio`) on 127.0.0.1 with
its own data folder, or uses a running one (--url, --token, --files-root). Then, through
labellake's own engine with the labelstudio backend (what `labellake runner` does):

1. generates --tasks clips of --frames frames (640x360 JPEG; not timed);
2. create, cold: submits a one-job batch of the clips and starts its level: every clip is
   made into an MP4, the project is made with its labeling config and local files
   storage, and the tasks are imported;
3. create, warm: the same for a second batch on the same clips, whose videos exist (what
   an audit level costs);
4. labels every task of the first batch through Label Studio's REST API as a labeler
   (one POST per task; timed, for scale);
5. sync: drives the first batch until COMPLETE: the project's export is read, every
   annotation is converted to Ground Truth's files, and the job is loaded into the lake.

Prints each figure, the per-task rates and the process's peak memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labellake.settings import Settings  # noqa: E402
from labellake.workflows import compose  # noqa: E402
from labellake.workflows.labeling.backends.labelstudio_client import LabelStudioClient  # noqa: E402
from labellake.workflows.labeling.backends.labelstudio_server import LabelStudioServer  # noqa: E402
from labellake.workflows.samples import synthetic  # noqa: E402
from labellake.workflows.samples.truth import ClipTruth, truth_uri  # noqa: E402


def request(batch: str, samples: synthetic.SampleSet) -> dict:  # type: ignore[type-arg]
    return {
        "batchId": batch,
        "backend": "labelstudio",
        "labelingJobs": [
            {
                "jobName": f"{batch}-vehicle",
                "jobModality": "VideoObjectTracking",
                "jobLevel": 1,
                "labelCategoryConfigS3Uri": samples.vehicle_config_uri,
                "inputConfig": {"inputManifestS3Uri": samples.manifest_uri},
            }
        ],
    }


def boxes(source_ref: str) -> list[dict]:  # type: ignore[type-arg]
    """A labeler's video rectangles for the clip: every vehicle keyed on every frame."""
    truth = ClipTruth.from_json(Path(truth_uri(source_ref)).read_text())
    tracks: dict[str, list] = {}  # type: ignore[type-arg]
    for number, frame in enumerate(truth.frames, start=1):
        for obj in frame.objects:
            if obj.kind == "box":
                tracks.setdefault(obj.track_id, []).append((number, obj.box))
    result = []
    for index, seen in enumerate(tracks.values()):
        on = {n for n, _ in seen}
        sequence = [
            {
                "frame": n,
                "enabled": n + 1 in on,
                "x": 100 * box[0] / truth.width,
                "y": 100 * box[1] / truth.height,
                "width": 100 * box[2] / truth.width,
                "height": 100 * box[3] / truth.height,
                "rotation": 0,
            }
            for n, box in seen
        ]
        result.append(
            {
                "id": f"t{index}",
                "from_name": "box",
                "to_name": "media",
                "type": "videorectangle",
                "value": {
                    "framesCount": len(truth.frames),
                    "sequence": sequence,
                    "labels": ["Vehicle"],
                },
            }
        )
    return result


def start_level(engine, batch: str) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    engine.advance(batch)  # starts level 1: the job is created on Label Studio
    return time.perf_counter() - started


def run(args: argparse.Namespace, url: str, token: str, files_root: Path, server) -> None:  # type: ignore[no-untyped-def]
    home = files_root / f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        home=home,
        labelstudio_url=url,
        labelstudio_token=token,
        labelstudio_files_root=str(files_root),
        labelstudio_poll_s=0,
        runner_poll_s=0.05,
    )
    built = compose.open_home(settings)
    engine = compose.build_engine(built)
    started = time.perf_counter()
    samples = synthetic.generate(
        built.objects, dataset="bench/clips", clips=args.tasks, frames=args.frames, seed=1
    )
    took = time.perf_counter() - started
    print(f"clips: {args.tasks} x {args.frames} frames generated in {took:.1f} s")

    cold, warm = f"cold-{uuid.uuid4().hex[:6]}", f"warm-{uuid.uuid4().hex[:6]}"
    engine.submit(request(cold, samples))
    create_cold = start_level(engine, cold)
    engine.submit(request(warm, samples))
    create_warm = start_level(engine, warm)
    backend = engine.backends["labelstudio"]
    for batch in (cold, warm):
        job = engine.show(batch)["levels"][0]["jobLevels"][0]
        assert job["batchStatus"] == "WAIT_FOR_SMGT_RESPONSE", job
        project = backend.client.project(backend._read_record(job["backendJobName"])["project_id"])
        assert project["task_number"] == args.tasks, project["task_number"]
    for what, seconds in (
        ("cold (videos made)", create_cold),
        ("warm (videos exist)", create_warm),
    ):
        per_task = 1000 * seconds / args.tasks
        print(f"create, {what}: {seconds:.1f} s = {per_task:.1f} ms/task")

    labeler_token = server.sign_up(f"bench-{uuid.uuid4().hex[:6]}@example.com") if server else token
    labeler = LabelStudioClient(url, labeler_token)
    project_id = backend._read_record(f"{cold}-vehicle")["project_id"]
    started = time.perf_counter()
    labeled, page = 0, 1
    while True:
        body = labeler.get("/api/tasks/", project=project_id, page=page, page_size=100)
        for task in body["tasks"]:
            labeler.post(
                f"/api/tasks/{task['id']}/annotations/",
                {"result": boxes(task["data"]["source_ref"]), "lead_time": 30},
            )
            labeled += 1
        if labeled >= body["total"]:
            break
        page += 1
    took = time.perf_counter() - started
    print(f"labeling through the REST API: {labeled} annotations in {took:.1f} s")
    engine.stop(warm)

    started = time.perf_counter()
    status = engine.run_to_end(cold, poll_s=0.05)
    sync = time.perf_counter() - started
    assert status == "COMPLETE", engine.show(cold)["message"]
    rows = built.lake.query(
        f"SELECT count(*) AS n FROM annotations WHERE job_name = '{cold}-vehicle'"
    ).to_pylist()[0]["n"]
    print(
        f"sync to the lake: {sync:.1f} s = {1000 * sync / args.tasks:.1f} ms/task "
        f"({rows} boxes in annotations)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--url", help="A running Label Studio server (default: start one).")
    parser.add_argument("--token", help="Its personal access token (with --url).")
    parser.add_argument("--files-root", help="Its LOCAL_FILES_DOCUMENT_ROOT (with --url).")
    args = parser.parse_args()
    if args.url:
        run(args, args.url, args.token, Path(args.files_root), None)
        return
    with tempfile.TemporaryDirectory() as folder:
        server = LabelStudioServer(Path(folder), Path(folder) / "files")
        started = time.perf_counter()
        with server:
            print(f"label-studio started on {server.url} in {time.perf_counter() - started:.1f} s")
            token = server.sign_up("ops@example.com")
            run(args, server.url, token, server.files_root, server)


if __name__ == "__main__":
    main()
