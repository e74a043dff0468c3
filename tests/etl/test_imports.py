from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest

from labellake.aws_clients import AwsTarget
from labellake.errors import LabellakeError
from labellake.etl.imports import find_jobs, import_jobs, parse_map
from labellake.lake import Lake

from .conftest import ground_truth_job


def test_a_folder_of_jobs_is_imported(tmp_path: Path, bare_lake: Lake) -> None:
    ground_truth_job(tmp_path / "gt", "job-a")
    ground_truth_job(tmp_path / "gt", "job-b")
    reports = import_jobs(str(tmp_path / "gt"), bare_lake)
    assert sorted(r.job_name for r in reports) == ["job-a", "job-b"]
    assert bare_lake.query(
        "SELECT job_name, count(*) AS n FROM annotations GROUP BY 1 ORDER BY 1"
    ).to_pylist() == [{"job_name": "job-a", "n": 3}, {"job_name": "job-b", "n": 3}]
    assert all(r.skipped for r in import_jobs(str(tmp_path / "gt"), bare_lake))


def test_job_name_of_a_single_job(tmp_path: Path) -> None:
    ground_truth_job(tmp_path, "whatever")
    (job,) = find_jobs(str(tmp_path / "whatever"), job_name="renamed")
    assert job.job_name == "renamed"


@pytest.mark.parametrize("entry", ["no-equals", "=x", "s3://b="])
def test_bad_map_entries(entry: str) -> None:
    with pytest.raises(LabellakeError, match="--map"):
        parse_map([entry])


def test_nothing_to_import(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty/readme.txt").write_text("hi")
    with pytest.raises(LabellakeError, match="no Ground Truth job output"):
        find_jobs(str(tmp_path / "empty"))


def upload(folder: Path, bucket: str, prefix: str, endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    for path in folder.rglob("*"):
        if path.is_file():
            s3.put_object(
                Bucket=bucket, Key=f"{prefix}/{path.relative_to(folder)}", Body=path.read_bytes()
            )


def test_s3_prefix_on_moto(
    tmp_path: Path, bare_lake: Lake, moto_endpoint: str, s3_bucket: str
) -> None:
    manifest = ground_truth_job(tmp_path / "gt", "job-s3")
    text = manifest.read_text().replace(str(tmp_path / "gt"), f"s3://{s3_bucket}/jobs")
    manifest.write_text(text)
    upload(tmp_path / "gt", s3_bucket, "jobs", moto_endpoint)
    aws = AwsTarget("us-east-1", moto_endpoint)
    (report,) = import_jobs(f"s3://{s3_bucket}/jobs", bare_lake, aws=aws)
    assert report.counts["annotations"] == 3 and report.counts["worker_responses"] == 1
    assert report.problems == []


def test_local_copy_of_a_bucket_via_map(tmp_path: Path, bare_lake: Lake) -> None:
    manifest = ground_truth_job(tmp_path / "copy", "job-m")
    manifest.write_text(manifest.read_text().replace(str(tmp_path / "copy"), "s3://team-bucket/gt"))
    (report,) = import_jobs(
        str(tmp_path / "copy"),
        bare_lake,
        uri_map=parse_map([f"s3://team-bucket/gt={tmp_path / 'copy'}"]),
    )
    assert report.counts["annotations"] == 3
    assert [p.file for p in report.problems] == ["s3://example-input"]  # the clips' bucket


def test_unreadable_s3_ref_is_an_error_within_seconds(
    tmp_path: Path, bare_lake: Lake, moto_endpoint: str
) -> None:
    manifest = ground_truth_job(tmp_path / "gt", "job-x")
    line = json.loads(manifest.read_text())
    line["job-x-ref"] = "s3://no-such-bucket-anywhere/x/SeqLabel.json"
    manifest.write_text(json.dumps(line) + "\n")
    started = time.monotonic()
    (report,) = import_jobs(
        str(tmp_path / "gt"), bare_lake, aws=AwsTarget("us-east-1", moto_endpoint)
    )
    assert time.monotonic() - started < 10
    assert any("no-such-bucket-anywhere" in p.file for p in report.problems)
    assert report.counts["labels"] == 1 and report.counts["annotations"] == 0
