"""Import and export of 1M boxes in every format, timed as users run them.

Builds a lake holding two jobs of 1,000,000 boxes each (default): a video (one clip,
40,000 frames x 25 tracks) and a set of images (40,000 images x 25 boxes). Then, each
in its own process, so each reports its own peak memory (max RSS):

- export: `labellake export --format F` for cvat-video and mot (the video job) and for
  cvat-images, labelstudio, coco and yolo (the images job);
- import: `labellake import cvat|labelstudio|coco FILE` of the files just exported,
  each into a fresh home, with its reconciliation;
- the Ground Truth path in the same run: `labellake import groundtruth JOB` of a job
  of the same size (400 SeqLabel files x 100 frames x 25 boxes, from etl_flatten.py's
  generator) and `labellake export --format mot` of it.

Prints boxes per second and peak memory per format and direction.
Run: .venv/bin/python benchmarks/formats.py [--boxes 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

HERE = Path(__file__).parent
TRACKS = 25  # boxes per frame or image


def _lake_rows(job: str, frames: int, video: bool) -> pa.Table:
    """``frames`` x TRACKS boxes moving slowly: one clip when ``video``, else one image
    per frame."""
    from labellake.lake import get_table

    rng = np.random.default_rng(7)
    n = frames * TRACKS
    frame = np.repeat(np.arange(frames, dtype=np.int32), TRACKS)
    track = np.tile(np.arange(TRACKS), frames)
    start_x = rng.uniform(0, 1600, TRACKS)[track]
    start_y = rng.uniform(0, 900, TRACKS)[track]
    drift = (frame % 200) * 0.5
    names = np.char.add(np.char.add("f", np.char.zfill(frame.astype(str), 6)), ".jpg")
    source = (
        np.full(n, "s3://bench-input/video/clip-0001_seq.json")
        if video
        else np.char.add("s3://bench-input/images/", names)
    )
    columns = {
        "job_name": pa.array(np.full(n, job)),
        "source_ref": pa.array(source),
        "frame_no": pa.array(frame if video else np.zeros(n, np.int32)),
        "frame": pa.array(names),
        "object_id": pa.array(track.astype(str) if video else np.arange(n).astype(str)),
        "label": pa.array(np.where(track % 5 == 0, "Van", "Car")),
        "class_id": pa.array((track % 5 == 0).astype(np.int32)),
        "shape": pa.array(np.full(n, "box")),
        "box_left": pa.array(np.round(start_x + drift, 1)),
        "top": pa.array(np.round(start_y + drift / 2, 1)),
        "width": pa.array(rng.integers(20, 200, TRACKS)[track].astype(float)),
        "height": pa.array(rng.integers(20, 160, TRACKS)[track].astype(float)),
        "image_width": pa.array(np.full(n, 1920, np.int32)),
        "image_height": pa.array(np.full(n, 1080, np.int32)),
    }
    return pa.table(columns).cast(
        pa.schema([get_table("annotations").schema.field(name) for name in columns])
    )


def build(work: Path, boxes: int) -> dict[str, Path]:
    """The source lake with its two jobs, and the Ground Truth job folder (kept between
    runs of the same size)."""
    stamp = work / "built.json"
    frames = boxes // TRACKS
    homes = {"source": work / "source-home", "gt": work / "gt"}
    if stamp.exists() and json.loads(stamp.read_text()) == {"boxes": boxes}:
        return homes
    import shutil

    from labellake.lake import Lake

    shutil.rmtree(work, ignore_errors=True)
    lake = Lake.from_uri(str(homes["source"] / "lake"))
    lake.write("annotations", "bench-video", _lake_rows("bench-video", frames, video=True))
    lake.write("annotations", "bench-images", _lake_rows("bench-images", frames, video=False))
    sys.path.insert(0, str(HERE))
    from etl_flatten import generate  # the Ground Truth job generator

    generate(homes["gt"], max(1, boxes // (100 * TRACKS)), 100, TRACKS)
    stamp.write_text(json.dumps({"boxes": boxes}))
    return homes


def run_cli(*argv: str) -> dict[str, float]:
    """Run the CLI in this process and report its time and this process's peak memory."""
    from labellake.portal.cli.main import main

    started = time.perf_counter()
    try:
        main(list(argv))
    except SystemExit as exit_:
        if exit_.code:
            raise RuntimeError(f"labellake {' '.join(argv)} exited {exit_.code}") from None
    return {
        "seconds": time.perf_counter() - started,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure(argv: list[str]) -> dict[str, float]:
    """One CLI run in a fresh process (its own peak memory)."""
    done = subprocess.run(
        [sys.executable, __file__, "--run", json.dumps(argv)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(done.stderr.strip()[-500:])
    return json.loads(done.stdout.strip().splitlines()[-1])


EXPORTS = {  # format -> (job, file the import reads, import command)
    "cvat-video": ("bench-video", "annotations.xml", "cvat"),
    "mot": ("bench-video", None, None),
    "cvat-images": ("bench-images", "annotations.xml", "cvat"),
    "labelstudio": ("bench-images", "tasks.json", "labelstudio"),
    "coco": ("bench-images", "instances.json", "coco"),
    "yolo": ("bench-images", None, None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, default=1_000_000)
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "labellake-formats-bench"
    )
    parser.add_argument("--only", nargs="*", help="Formats to run (default: all).")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        import labellake.portal.cli.main  # noqa: F401 - imports are not measured

        print(json.dumps(run_cli(*json.loads(args.run))))
        return
    homes = build(args.work, args.boxes)
    boxes = (args.boxes // TRACKS) * TRACKS
    out = args.work / "runs"
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    rows = []

    def report(fmt: str, direction: str, shapes: int, result: dict[str, float]) -> None:
        rate = shapes / result["seconds"]
        rows.append({"format": fmt, "direction": direction, **result, "boxes_per_s": rate})
        print(
            f"{fmt:>12} {direction:>6}: {shapes:,} boxes in {result['seconds']:6.1f} s = "
            f"{rate:>9,.0f} boxes/s, peak {result['peak_mb']:6,.0f} MB",
            flush=True,
        )

    gt_home = out / "gt-home"
    gt_boxes = max(1, args.boxes // (100 * TRACKS)) * 100 * TRACKS
    report(
        "groundtruth",
        "import",
        gt_boxes,
        measure(
            ["--home", str(gt_home), "import", "groundtruth", str(homes["gt"] / "bench-vehicles")]
        ),
    )
    report(
        "groundtruth",
        "export",
        gt_boxes,
        measure(
            [
                "--home",
                str(gt_home),
                "export",
                "--job",
                "bench-vehicles",
                "--format",
                "mot",
                "--out",
                str(out / "gt-mot"),
                "--image-size",
                "1920x1080",
            ]
        ),
    )
    for fmt, (job, file, command) in EXPORTS.items():
        if args.only and fmt not in args.only:
            continue
        folder = out / fmt
        report(
            fmt,
            "export",
            boxes,
            measure(
                [
                    "--home",
                    str(homes["source"]),
                    "export",
                    "--job",
                    job,
                    "--format",
                    fmt,
                    "--out",
                    str(folder),
                ]
            ),
        )
        if command is None:
            continue
        report(
            fmt,
            "import",
            boxes,
            measure(
                [
                    "--home",
                    str(out / f"{fmt}-home"),
                    "import",
                    command,
                    str(folder / file),
                    "--job-name",
                    f"bench-{fmt}",
                ]
            ),
        )
    (args.work / "results.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
