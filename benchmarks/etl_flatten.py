"""`labellake import groundtruth` on one large job, against two baselines.

Generates one Ground Truth video tracking job (default 2,000 distinct SeqLabel files x
100 frames x 25 boxes = 5M boxes, compact JSON as Ground Truth writes it, each file
with its own boxes) laid out as Ground Truth writes a job's output, then times in
separate processes, on the same files:

- labellake: the command users run, `labellake import groundtruth JOB_FOLDER`, into a
  fresh home: manifest, SeqLabel files, QA checks, summaries and writes, with its
  reconciliation;
- pandas: a straightforward json.load + pandas DataFrame per file, concatenated and
  written with to_parquet (flattening only: no checks, no summaries);
- duckdb: read_json over all the files + unnest, COPY to Parquet (flattening only).

Each run reports boxes per second and its peak memory (max RSS of its process).
Run: .venv/bin/python benchmarks/etl_flatten.py [--files 2000] [--frames 100] [--boxes 25]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JOB = "bench-vehicles"


def _seqlabel(rng: random.Random, file: int, frames: int, boxes: int) -> dict:  # type: ignore[type-arg]
    """One clip's SeqLabel document: ``boxes`` tracks moving over ``frames`` frames."""
    tracks = [
        (rng.uniform(0, 1700), rng.uniform(0, 900), rng.randint(10, 200), rng.randint(10, 200))
        for _ in range(boxes)
    ]
    return {
        "tracking-annotations": [
            {
                "frame-no": str(f),
                "frame": f"{f + 1:06d}.jpg",
                "frame-attributes": {"Number_Of_Vehicles": str(boxes)},
                "annotations": [
                    {
                        "height": h,
                        "width": w,
                        "top": round(y + f * 0.5 + rng.random(), 1),
                        "left": round(x + f * 1.5 + rng.random(), 1),
                        "class-id": "0",
                        "label-category-attributes": {
                            "Moving": "Dynamic" if (file + b) % 3 else "Stationary",
                            "Vehicle_Type": "Car" if b % 4 else "Van",
                        },
                        "object-id": f"6c1b2a40-{file:04x}-4000-8000-{b:012d}",
                        "object-name": f"Vehicle:{b + 1}",
                    }
                    for b, (x, y, w, h) in enumerate(tracks)
                ],
            }
            for f in range(frames)
        ]
    }


def generate(corpus: Path, files: int, frames: int, boxes: int) -> int:
    """Write the job once (kept between runs); returns the number of boxes in it."""
    stamp = corpus / "corpus.json"
    params = {"files": files, "frames": frames, "boxes": boxes, "layout": "job-v2"}
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return files * frames * boxes
    import shutil

    shutil.rmtree(corpus, ignore_errors=True)
    job = corpus / JOB
    rng = random.Random(7)
    lines = []
    for i in range(files):
        seqlabel = job / f"annotations/consolidated-annotation/output/{i}/SeqLabel.json"
        seqlabel.parent.mkdir(parents=True)
        seqlabel.write_text(json.dumps(_seqlabel(rng, i, frames, boxes), separators=(",", ":")))
        lines.append(
            json.dumps(
                {
                    "source-ref": f"s3://bench-input/clips/clip-{i:05d}_seq.json",
                    f"{JOB}-ref": str(seqlabel),
                    f"{JOB}-ref-metadata": {
                        "class-map": {"0": "Vehicle"},
                        "job-name": f"labeling-job/{JOB}",
                        "human-annotated": "yes",
                        "creation-date": "2026-11-20T10:14:07.512000",
                        "type": "groundtruth/video-object-tracking",
                    },
                }
            )
        )
    manifest = job / "manifests/output/output.manifest"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("\n".join(lines) + "\n")
    stamp.write_text(json.dumps(params))
    return files * frames * boxes


def seqlabel_files(corpus: Path) -> list[Path]:
    return sorted(
        (corpus / JOB / "annotations/consolidated-annotation/output").glob("*/SeqLabel.json"),
        key=lambda p: int(p.parent.name),
    )


def run_labellake(corpus: Path, out: Path) -> int:
    """The CLI, in this process (its peak memory is this process's)."""
    import pyarrow.parquet as pq

    from labellake.portal.cli.main import main as cli

    try:
        cli(["--home", str(out.parent / "home"), "import", "groundtruth", str(corpus / JOB)])
    except SystemExit as exit_:
        if exit_.code:
            raise
    lake = out.parent / "home/lake/annotations"
    return sum(pq.ParquetFile(p).metadata.num_rows for p in lake.rglob("*.parquet"))


def run_pandas(corpus: Path, out: Path) -> int:
    import pandas as pd

    files = seqlabel_files(corpus)
    frames = []
    for path in files:
        with path.open() as handle:
            doc = json.load(handle)
        rows = []
        for frame in doc["tracking-annotations"]:
            for box in frame["annotations"]:
                rows.append(
                    {
                        "source_ref": str(path),
                        "frame_no": frame["frame-no"],
                        "frame": frame["frame"],
                        **box,
                    }
                )
        frames.append(pd.DataFrame(rows))
    table = pd.concat(frames, ignore_index=True)
    table["label-category-attributes"] = table["label-category-attributes"].map(
        lambda a: list(a.items())
    )
    table.to_parquet(out, compression="zstd")
    return len(table)


def run_duckdb(corpus: Path, out: Path) -> int:
    import duckdb

    con = duckdb.connect()
    names = [str(p) for p in seqlabel_files(corpus)]
    con.execute(f"""
        COPY (
            SELECT filename AS source_ref, fr."frame-no" AS frame_no, fr.frame AS frame,
                   unnest(fr.annotations, recursive := true)
            FROM (SELECT t.filename, unnest(t."tracking-annotations") AS fr
                  FROM read_json({names!r}, filename = true,
                                 maximum_object_size = 1000000000) AS t)
        ) TO '{out}' (FORMAT parquet, COMPRESSION zstd)""")
    return con.execute(f"SELECT count(*) FROM '{out}'").fetchone()[0]


RUNNERS = {"labellake": run_labellake, "pandas": run_pandas, "duckdb": run_duckdb}


def measure(method: str, corpus: Path) -> dict[str, float]:
    import duckdb  # noqa: F401 - imports are not part of the measurement
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import labellake.etl.jobs  # noqa: F401
    import labellake.portal.cli.main  # noqa: F401

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        boxes = RUNNERS[method](corpus, Path(tmp) / "out.parquet")
        seconds = time.perf_counter() - started
    return {
        "boxes": boxes,
        "seconds": seconds,
        "boxes_per_second": boxes / seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--boxes", type=int, default=25)
    parser.add_argument(
        "--corpus", type=Path, default=Path(tempfile.gettempdir()) / "labellake-seqlabel-corpus"
    )
    parser.add_argument("--only", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:  # one measurement, in its own process
        print(json.dumps(measure(args.only, args.corpus)))
        return
    total = generate(args.corpus, args.files, args.frames, args.boxes)
    size = sum(p.stat().st_size for p in seqlabel_files(args.corpus)) / 1e6
    print(
        f"job: {args.files} distinct SeqLabel files, {total:,} boxes, {size:,.0f} MB of JSON, "
        f"in {args.corpus}"
    )
    results = {}
    for method in RUNNERS:
        done = subprocess.run(
            [sys.executable, __file__, "--only", method, "--corpus", str(args.corpus)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            print(f"{method:>9}: failed ({done.returncode}): {done.stderr.strip()[-300:]}")
            continue
        results[method] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[method]
        print(
            f"{method:>9}: {r['boxes']:,} boxes in {r['seconds']:.1f} s = "
            f"{r['boxes_per_second'] / 1e6:.2f} M boxes/s, peak {r['peak_mb']:.0f} MB"
        )
    if len(results) < len(RUNNERS):
        return
    ours = results["labellake"]["boxes_per_second"]
    print(
        f"labellake / pandas: {ours / results['pandas']['boxes_per_second']:.1f}x; "
        f"labellake / duckdb: {ours / results['duckdb']['boxes_per_second']:.2f}x"
    )


if __name__ == "__main__":
    main()
