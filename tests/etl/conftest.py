"""Helpers for the ETL tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

EXAMPLES = Path(__file__).parents[1] / "fixtures/examples"


def ground_truth_job(root: Path, job: str = "drive-0042-vehicle") -> Path:
    """A job output folder laid out as Ground Truth writes it, from the example files."""
    out = root / job
    (out / "manifests/output").mkdir(parents=True)
    seqlabel = out / "annotations/consolidated-annotation/output/0/SeqLabel.json"
    seqlabel.parent.mkdir(parents=True)
    shutil.copy(EXAMPLES / "SeqLabel-tracking-boxes.json", seqlabel)
    line = {
        "source-ref": "s3://example-input/drive-0042/clip-07_seq.json",
        f"{job}-ref": str(seqlabel),
        f"{job}-ref-metadata": {
            "class-map": {"0": "Vehicle"},
            "job-name": f"labeling-job/{job}",
            "human-annotated": "yes",
            "creation-date": "2026-11-20T10:14:07.512000",
            "type": "groundtruth/video-object-tracking",
        },
    }
    (out / "manifests/output/output.manifest").write_text(json.dumps(line) + "\n")
    response = out / "annotations/worker-response/iteration-1/0/2026-11-20_10:13:55.json"
    response.parent.mkdir(parents=True)
    shutil.copy(EXAMPLES / "worker-response.json", response)
    (out / "worker-activity").mkdir()
    shutil.copy(EXAMPLES / "worker-activity-events.jsonl", out / "worker-activity/events.jsonl")
    return out / "manifests/output/output.manifest"
