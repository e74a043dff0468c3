"""Loading Ground Truth job outputs: each job on its own, then what it came to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labellake.aws_clients import AwsTarget
from labellake.errors import LabellakeError
from labellake.etl.jobs import JobOutput
from labellake.lake import Lake
from labellake.workflows.imports.groundtruth import find_outputs, load_jobs
from tests.etl.conftest import ground_truth_job

AWS = AwsTarget("us-east-1")


def test_every_job_loads_and_a_second_load_is_up_to_date(tmp_path: Path, bare_lake: Lake) -> None:
    ground_truth_job(tmp_path / "gt", "job-a")
    ground_truth_job(tmp_path / "gt", "job-b")
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
    ground_truth_job(tmp_path / "gt", "job-x")
    (manifest,) = (tmp_path / "gt").rglob("output.manifest")
    manifest.write_text("not json\n")
    loads = load_jobs(find_outputs(str(tmp_path / "gt"), AWS), bare_lake, aws=AWS)
    assert loads.nothing_loaded and loads.problems == 1
    assert not load_jobs([], bare_lake).nothing_loaded


def test_maps_and_job_name_reach_the_job_outputs(tmp_path: Path) -> None:
    ground_truth_job(tmp_path, "whatever")
    (job,) = find_outputs(
        str(tmp_path / "whatever"), AWS, "renamed", [f"s3://team-bucket/gt={tmp_path}"]
    )
    assert job.job_name == "renamed" and job.uri_map == {"s3://team-bucket/gt": str(tmp_path)}
    with pytest.raises(LabellakeError, match="--map 'no-equals'"):
        find_outputs(str(tmp_path), AWS, maps=["no-equals"])
