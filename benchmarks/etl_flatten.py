"""Flattening SeqLabel.json files into Parquet: labellake against two baselines.

Generates a corpus (default 2,000 files x 100 frames x 25 boxes = 5M boxes; a few
distinct files are generated and hard-linked under the other names), then times in
separate processes, on the same files:

- labellake: etl.labeling.flatten_seqlabels over batches of 64 files, streamed into
  one Parquet file (the ETL's own path);
- pandas: a straightforward json.load + pandas DataFrame per file, concatenated and
  written with to_parquet;
- duckdb: read_json over all the files + unnest, COPY to Parquet.

Each run reports boxes per second and its peak memory (max RSS).
Run: .venv/bin/python benchmarks/etl_flatten.py [--files 2000] [--frames 100] [--boxes 25]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate(corpus: Path, files: int, frames: int, boxes: int, templates: int) -> int:
    """Write the corpus once (kept between runs); returns the number of boxes in it."""
    stamp = corpus / "corpus.json"
    params = {"files": files, "frames": frames, "boxes": boxes, "templates": templates}
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return files * frames * boxes
    corpus.mkdir(parents=True, exist_ok=True)
    for old in corpus.glob("*.json"):
        old.unlink()
    rng = random.Random(7)
    for t in range(templates):
        doc = {
            "tracking-annotations": [
                {
                    "frame-no": str(f),
                    "frame": f"{f + 1:06d}.jpg",
                    "frame-attributes": {"Number_Of_Vehicles": str(boxes)},
                    "annotations": [
                        {
                            "height": rng.randint(10, 200),
                            "width": rng.randint(10, 200),
                            "top": rng.randint(0, 900),
                            "left": rng.randint(0, 1700),
                            "class-id": "0",
                            "label-category-attributes": {
                                "Moving": rng.choice(["Dynamic", "Stationary"]),
                                "Vehicle_Type": rng.choice(["Car", "Van"]),
                            },
                            "object-id": f"6c1b2a40-0000-4000-8000-{t:04d}{b:08d}",
                            "object-name": f"Vehicle:{b + 1}",
                        }
                        for b in range(boxes)
                    ],
                }
                for f in range(frames)
            ]
        }
        (corpus / f"template-{t:03d}.json").write_text(json.dumps(doc, indent=1))
    for i in range(files):
        os.link(corpus / f"template-{i % templates:03d}.json", corpus / f"{i:05d}.json")
    for t in range(templates):
        (corpus / f"template-{t:03d}.json").unlink()
    stamp.write_text(json.dumps(params))
    return files * frames * boxes


def run_labellake(files: list[Path], out: Path) -> int:
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.parquet as pq

    from labellake.etl.labeling import SeqLabelFile, flatten_seqlabels
    from labellake.lake import get_table

    total = 0
    # Parsing and writing both run outside the GIL: write one batch while parsing the next.
    with (
        pq.ParquetWriter(out, get_table("annotations").schema, compression="zstd") as writer,
        ThreadPoolExecutor(1) as background,
    ):
        pending = None
        for start in range(0, len(files), 64):
            batch = [
                SeqLabelFile(p.read_bytes(), str(p), {"0": "Vehicle"}, (1920, 1080))
                for p in files[start : start + 64]
            ]
            table = flatten_seqlabels(batch, "bench")
            total += table.num_rows
            if pending is not None:
                pending.result()
            pending = background.submit(writer.write_table, table)
        if pending is not None:
            pending.result()
    return total


def run_pandas(files: list[Path], out: Path) -> int:
    import pandas as pd

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


def run_duckdb(files: list[Path], out: Path) -> int:
    import duckdb

    con = duckdb.connect()
    names = [str(p) for p in files]
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

    import labellake.etl.labeling  # noqa: F401

    files = sorted(corpus.glob("0*.json"))
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        boxes = RUNNERS[method](files, Path(tmp) / "out.parquet")
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
    parser.add_argument("--templates", type=int, default=20)
    parser.add_argument(
        "--corpus", type=Path, default=Path(tempfile.gettempdir()) / "labellake-seqlabel-corpus"
    )
    parser.add_argument("--only", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:  # one measurement, in its own process
        print(json.dumps(measure(args.only, args.corpus)))
        return
    total = generate(args.corpus, args.files, args.frames, args.boxes, args.templates)
    print(f"corpus: {args.files} SeqLabel files, {total:,} boxes, in {args.corpus}")
    results = {}
    for method in RUNNERS:
        done = subprocess.run(
            [sys.executable, __file__, "--only", method, "--corpus", str(args.corpus)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[method] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[method]
        print(
            f"{method:>9}: {r['boxes']:,} boxes in {r['seconds']:.1f} s = "
            f"{r['boxes_per_second'] / 1e6:.2f} M boxes/s, peak {r['peak_mb']:.0f} MB"
        )
    ours = results["labellake"]["boxes_per_second"]
    print(
        f"labellake / pandas: {ours / results['pandas']['boxes_per_second']:.1f}x; "
        f"labellake / duckdb: {ours / results['duckdb']['boxes_per_second']:.2f}x"
    )


if __name__ == "__main__":
    main()
