"""Loading Ground Truth job outputs: each job on its own, then what it came to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from labellake.aws_clients import AwsTarget
from labellake.errors import LabellakeError
from labellake.etl.jobs import JobOutput
from labellake.lake import Lake
from labellake.workflows.imports.groundtruth import find_outputs, load_jobs

EXAMPLES = Path(__file__).parents[2] / "fixtures/examples"
AWS = AwsTarget("us-east-1")


def job_output(root: Path, job: str) -> None:
    """A job output folder with one SeqLabel file of tracked boxes, as Ground Truth lays it."""
    out = root / job
    seqlabel = out / "annotations/consolidated-annotation/output/0/SeqLabel.json"
    seqlabel.parent.mkdir(parents=True)
    seqlabel.write_bytes((EXAMPLES / "SeqLabel-tracking-boxes.json").read_bytes())
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
    manifest = out / "manifests/output/output.manifest"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps(line) + "\n")


def test_every_job_loads_and_a_second_load_is_up_to_date(tmp_path: Path, bare_lake: Lake) -> None:
    job_output(tmp_path / "gt", "job-a")
    job_output(tmp_path / "gt", "job-b")
    jobs = find_outputs(str(tmp_path / "gt"), AWS)
    tracked: list[str] = []

    def track(given: list[JobOutput]) -> Iterator[JobOutput]:
        for job in given:
            tracked.append(job.job_name)
            yield job

    loads = load_jobs(jobs, bare_lake, aws=AWS, track=track)
    assert sorted(tracked) == ["job-a", "job-b"]
    assert sorted(r.job_name for r in loads.loaded) == ["job-a", "job-b"]
    assert loads.up_to_date == 0 and not loads.nothing_loaded
    again = load_jobs(jobs, bare_lake, aws=AWS)
    assert (again.loaded, again.up_to_date, again.nothing_loaded) == ([], 2, False)
    assert len(load_jobs(jobs, bare_lake, aws=AWS, force=True).loaded) == 2


def test_a_job_that_gives_nothing_is_nothing_loaded(tmp_path: Path, bare_lake: Lake) -> None:
    job_output(tmp_path / "gt", "job-x")
    (manifest,) = (tmp_path / "gt").rglob("output.manifest")
    manifest.write_text("not json\n")
    loads = load_jobs(find_outputs(str(tmp_path / "gt"), AWS), bare_lake, aws=AWS)
    assert loads.nothing_loaded and loads.problems == 1
    assert not load_jobs([], bare_lake).nothing_loaded


def test_maps_and_job_name_reach_the_job_outputs(tmp_path: Path) -> None:
    job_output(tmp_path, "whatever")
    (job,) = find_outputs(
        str(tmp_path / "whatever"), AWS, "renamed", [f"s3://team-bucket/gt={tmp_path}"]
    )
    assert job.job_name == "renamed" and job.uri_map == {"s3://team-bucket/gt": str(tmp_path)}
    with pytest.raises(LabellakeError, match="--map 'no-equals'"):
        find_outputs(str(tmp_path), AWS, maps=["no-equals"])
