"""Portal query latency on a large lake: 10M annotations, 1M worker events.

Builds (once, kept in --lake) a lake of synthetic rows written through the lake's
own writer, shaped like the demo's batches (per batch two labeling jobs and their
two audit jobs; auditors move boxes a little and fail some). Then runs each portal
page's set of queries as the page runs them, through Lake.query with no Streamlit
cache: once cold on a fresh Lake (a portal process that just started), then
--repeats times warm, and prints p50/p95 per page.

Run: .venv/bin/python benchmarks/portal_queries.py [--annotations 10000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from labellake import sql
from labellake.etl.stats import annotation_stats, audit_stats
from labellake.lake import Lake, ObjectStore, get_table


def describe(lake: Lake) -> None:
    lake.describe()


PAGES = {
    "Overview": [
        "dashboards/overview_tiles",
        "dashboards/active_workers",
        "batch_status_counts",
        "objects_labeled_per_day",
    ],
    "Annotations": [
        "dashboards/annotation_summary",
        "dashboards/box_sizes",
        "dashboards/track_lengths",
        ("dashboards/job_objects", ("job-0000",)),
        ("dashboards/frame_shapes", ("job-0000", "clip-000000", 10)),
    ],
    "Workforce": [
        "views/worker_performance",
        "views/team_performance",
        "dashboards/task_times",
        "dashboards/worker_throughput",
    ],
    "Quality": [
        "views/qa_findings_per_job",
        "views/qa_findings_per_worker",
        "dashboards/worst_tracks",
    ],
    # The table list with row counts, then the first example query.
    "SQL": [describe, "SELECT * FROM worker_performance ORDER BY job_name, worker_id"],
}


def build(lake: Lake, annotations: int, events: int, jobs: int) -> None:
    rng = np.random.default_rng(0)
    per_job = annotations // jobs
    clips_per_job, frames = 50, 100
    tracks = max(1, per_job // (clips_per_job * frames))
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    workers = [f"private.us-east-1.{i:016x}" for i in range(200)]
    batch_rows, job_rows = [], []
    for j in range(jobs):
        job = f"job-{j:04d}"
        batch = f"batch-{j // 4:03d}"
        audited = f"job-{j - 2:04d}" if j % 4 >= 2 else None  # per batch: 2 jobs, 2 audits
        n = clips_per_job * frames * tracks
        clip = np.repeat(np.arange(clips_per_job), frames * tracks)
        frame = np.tile(np.repeat(np.arange(frames), tracks), clips_per_job)
        track = np.tile(np.arange(tracks), clips_per_job * frames)
        source = pa.array([f"clip-{c:06d}" for c in range(clips_per_job)]).take(pa.array(clip))
        if audited is None:
            left = rng.uniform(0, 1700, n) + frame
            top = rng.uniform(0, 900, n)
            width = rng.uniform(10, 200, n)
            audit = pa.nulls(n, pa.string())
        else:  # the auditor moves every box a little and fails 5 % of them
            work = lake.read_unit("annotations", audited)
            left = work["box_left"].to_numpy() + rng.normal(0, 2, n)
            top = work["top"].to_numpy()
            width = work["width"].to_numpy()
            audit = pa.array(np.where(rng.random(n) < 0.05, "Fail", "Pass"))
        keys = pa.array(np.tile(["Moving", "Vehicle_Type"], n))
        values = pa.array(np.tile(["Dynamic", "Car"], n))
        attributes = pa.MapArray.from_arrays(
            pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)), keys, values
        )
        lake.write(
            "annotations",
            job,
            pa.table(
                {
                    "batch_id": pa.array([batch] * n),
                    "job_name": pa.array([job] * n),
                    "source_ref": source,
                    "frame_no": pa.array(frame, pa.int32()),
                    "frame": pa.array([f"{f + 1:06d}.jpg" for f in range(frames)]).take(
                        pa.array(frame)
                    ),
                    "object_id": pa.array([f"track-{t}" for t in range(tracks)]).take(
                        pa.array(track)
                    ),
                    "class_id": pa.array(np.zeros(n, dtype=np.int32)),
                    "label": pa.array(["Vehicle"] * n),
                    "shape": pa.array(["box"] * n),
                    "box_left": left,
                    "top": top,
                    "width": width,
                    "height": width * 0.7,
                    "attributes": attributes,
                    "image_width": pa.array(np.full(n, 1920, dtype=np.int32)),
                    "image_height": pa.array(np.full(n, 1080, dtype=np.int32)),
                    "audit": audit,
                }
            ),
        )
        # What the ETL writes beside the annotations of every job it loads.
        written = lake.read_unit("annotations", job)
        lake.write("annotation_stats", job, annotation_stats(written))
        if audited is not None:
            lake.write(
                "audit_stats",
                job,
                audit_stats(
                    written,
                    lake.read_unit("annotations", audited),
                    [f"clip-{c:06d}" for c in range(clips_per_job)],
                    job_name=job,
                    audited_job=audited,
                    batch_id=batch,
                ),
            )
        owners = rng.choice(workers, clips_per_job)
        accepted = [
            start + dt.timedelta(hours=float(h)) for h in rng.uniform(0, 24 * 90, clips_per_job)
        ]
        spent = rng.uniform(600, 7200, clips_per_job)
        lake.write(
            "worker_responses",
            job,
            pa.table(
                {
                    "batch_id": [batch] * clips_per_job,
                    "job_name": [job] * clips_per_job,
                    "source_ref": [f"clip-{c:06d}" for c in range(clips_per_job)],
                    "data_object_id": [str(c) for c in range(clips_per_job)],
                    "worker_id": owners,
                    "acceptance_time": accepted,
                    "submission_time": [
                        a + dt.timedelta(seconds=float(s))
                        for a, s in zip(accepted, spent, strict=True)
                    ],
                    "time_spent_s": spent,
                }
            ),
        )
        k = events // jobs
        kinds = rng.choice(
            ["TasksAccepted", "TasksSubmitted", "TasksReturned", "TasksDeclined"],
            k,
            p=[0.45, 0.45, 0.06, 0.04],
        )
        times = pa.array(
            np.datetime64("2026-01-01") + rng.integers(0, 90 * 86400, k).astype("timedelta64[s]")
        ).cast(pa.timestamp("us", tz="UTC"))
        lake.write(
            "worker_events",
            job,
            pa.table(
                {
                    "job_name": [job] * k,
                    "worker_id": rng.choice(workers, k),
                    "event_type": kinds,
                    "event_time": times,
                    "labeling_job_arn": [f"arn:aws:sagemaker:::labeling-job/{job}"] * k,
                }
            ),
        )
        q = n // 100
        pick = rng.choice(n, q, replace=False)
        lake.write(
            "qa_findings",
            job,
            pa.table(
                {
                    "batch_id": [batch] * q,
                    "job_name": [job] * q,
                    "source_ref": source.take(pa.array(pick)),
                    "object_id": pa.array([f"track-{t}" for t in track[pick]]),
                    "frame_no": pa.array(frame[pick], pa.int32()),
                    "check_name": rng.choice(["size_jump", "iou_drop", "track_gap"], q),
                    "value": rng.uniform(0, 1, q),
                    "threshold": np.full(q, 0.4),
                }
            ),
        )
        lake.write(
            "labels",
            job,
            pa.table(
                {
                    "batch_id": [batch] * clips_per_job,
                    "job_name": [job] * clips_per_job,
                    "source_ref": [f"clip-{c:06d}" for c in range(clips_per_job)],
                    "label_attribute": [f"{job}-ref"] * clips_per_job,
                    "metadata_job_name": [job] * clips_per_job,
                    "creation_date": accepted,
                }
            ),
        )
        job_rows.append(
            {
                "batch_id": batch,
                "job_name": job,
                "level": 2 if audited else 1,
                "chain_from": audited,
                "workteam": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/"
                + ("second-level" if audited else "first-level"),
                "status": "COMPLETE",
                "object_count": clips_per_job,
            }
        )
    for b in sorted({r["batch_id"] for r in job_rows}):
        batch_rows.append({"batch_id": b, "status": "COMPLETE", "created_at": start})
        lake.write(
            "jobs",
            b,
            pa.Table.from_pylist(
                [r for r in job_rows if r["batch_id"] == b], schema=get_table("jobs").schema
            ),
        )
        lake.write(
            "batches",
            b,
            pa.Table.from_pylist(
                [r for r in batch_rows if r["batch_id"] == b], schema=get_table("batches").schema
            ),
        )


def run_page(lake: Lake, queries: list) -> float:  # type: ignore[type-arg]
    started = time.perf_counter()
    for item in queries:
        if callable(item):
            item(lake)
            continue
        name, params = item if isinstance(item, tuple) else (item, ())
        text = name if name.lstrip().upper().startswith("SELECT") else sql.load(name)
        lake.query(text, list(params) or None)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", type=int, default=10_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--lake", type=Path, default=Path(tempfile.gettempdir()) / "labellake-portal-lake"
    )
    args = parser.parse_args()
    lake = Lake(ObjectStore.from_uri(args.lake), views=sql.views())
    stamp = args.lake / "params.json"
    params = {
        "annotations": args.annotations,
        "events": args.events,
        "jobs": args.jobs,
        "layout": 5,
    }
    if not stamp.exists() or json.loads(stamp.read_text()) != params:
        started = time.perf_counter()
        build(lake, args.annotations, args.events, args.jobs)
        stamp.write_text(json.dumps(params))
        print(f"built the lake in {time.perf_counter() - started:.0f} s")
    counts = lake.row_counts()
    print(
        f"lake: {counts['annotations']:,} annotations, {counts['worker_events']:,} worker "
        f"events, {counts['qa_findings']:,} QA findings, {len(lake.files('annotations'))} "
        "annotation files"
    )
    for page, queries in PAGES.items():
        # Cold: a fresh Lake, as in a portal process that just started (new DuckDB
        # connection, views and in-memory tables built on first use).
        fresh = Lake(ObjectStore.from_uri(args.lake), views=sql.views())
        cold = run_page(fresh, queries)
        warm = sorted(run_page(fresh, queries) for _ in range(args.repeats))
        p95 = warm[min(len(warm) - 1, int(round(0.95 * len(warm))) - 1)]
        print(
            f"{page:>11}: cold {cold * 1000:.0f} ms; warm p50 "
            f"{statistics.median(warm) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms "
            f"({len(queries)} queries, no cache)"
        )


if __name__ == "__main__":
    main()
