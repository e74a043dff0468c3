"""The aws profile from the command line, against a moto server on 127.0.0.1: bootstrap,
then the demo batch driven by Step Functions with the lake on S3 and Glue."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import boto3
import pytest

from labellake.portal.cli.main import main
from labellake.workflows.aws import tables


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def aws_profile(monkeypatch: pytest.MonkeyPatch, endpoint: str, prefix: str, home: Path) -> None:
    """The aws profile against the moto server, its resources named from ``prefix``."""
    monkeypatch.setenv("LABELLAKE_AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("LABELLAKE_AWS_ACCOUNT_ID", "123456789012")
    monkeypatch.setenv("LABELLAKE_AWS_PREFIX", prefix)
    monkeypatch.setenv("LABELLAKE_HOME", str(home))


def test_bootstrap_then_the_demo_on_the_aws_profile(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sfn_endpoint: str,
) -> None:
    aws_profile(monkeypatch, sfn_endpoint, "cli-aws", tmp_path / "home")
    code, out, err = run(capsys, "--profile", "aws", "aws", "bootstrap")
    assert code == 0, err
    assert {r["resource"] for r in json.loads(out)} >= {"s3 bucket", "dynamodb table"}

    code, out, err = run(
        capsys, "--profile", "aws", "demo", "--batch-id", "aws1", "--clips", "1", "--frames", "4"
    )
    assert code == 0, err
    assert "batch aws1 COMPLETE" in out
    code, out, _ = run(capsys, "--profile", "aws", "batch", "show", "--batch-id", "aws1")
    detail = json.loads(out)
    jobs = [job for level in detail["levels"] for job in level["jobLevels"]]
    assert detail["status"] == "COMPLETE" and len(jobs) == 4
    assert all(
        job["jobOutputS3Uri"].startswith("s3://cli-aws-123456789012-us-east-1/") for job in jobs
    )

    code, out, err = run(
        capsys,
        "--profile",
        "aws",
        "--engine",
        "duckdb",
        "sql",
        "select count(*) as n from annotations",
        "--format",
        "json",
    )
    assert code == 0, err
    assert json.loads(out)[0]["n"] > 0
    glue = boto3.client("glue", endpoint_url=sfn_endpoint, region_name="us-east-1")
    tables = {t["Name"] for t in glue.get_tables(DatabaseName="cli_aws")["TableList"]}
    assert {"annotations", "batches", "jobs", "worker_responses"} <= tables
    sfn = boto3.client("stepfunctions", endpoint_url=sfn_endpoint, region_name="us-east-1")
    [machine] = [
        m for m in sfn.list_state_machines()["stateMachines"] if m["name"].startswith("cli-aws")
    ]
    executions = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    assert [(e["name"], e["status"]) for e in executions] == [("aws1", "SUCCEEDED")]
    # The batch's records are in the DynamoDB state table, not in the local SQLite file.
    dynamodb = boto3.client("dynamodb", endpoint_url=sfn_endpoint, region_name="us-east-1")
    items = dynamodb.scan(TableName="cli-aws-state")["Items"]
    kinds = Counter(item["ItemType"]["S"] for item in items)
    assert (kinds["BATCH"], kinds["LEVEL"], kinds["JOB"]) == (1, 2, 4)
    with sqlite3.connect(tmp_path / "home" / "state.db") as con:
        local = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
    assert "batches" not in local and "model_runs" not in local


def test_missing_resources_are_named_and_nothing_is_recorded(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sfn_endpoint: str,
) -> None:
    aws_profile(monkeypatch, sfn_endpoint, "cli-missing", tmp_path / "home")
    demo = ("--profile", "aws", "demo", "--batch-id", "m1", "--clips", "1", "--frames", "4")
    code, _, err = run(capsys, *demo)
    assert code == 2 and err.count("\n") == 1
    assert "bucket cli-missing-123456789012-us-east-1 (of s3://" in err
    assert "labellake --profile aws aws bootstrap" in err
    s3 = boto3.client("s3", endpoint_url=sfn_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="cli-missing-123456789012-us-east-1")
    code, _, err = run(capsys, *demo)
    assert code == 2 and err.count("\n") == 1
    assert "DynamoDB state table cli-missing-state does not exist" in err
    dynamodb = boto3.client("dynamodb", endpoint_url=sfn_endpoint, region_name="us-east-1")
    dynamodb.create_table(**tables.state_table("cli-missing-state"))
    code, _, err = run(capsys, *demo)
    assert code == 2 and err.count("\n") == 1
    assert "no SQS queue cli-missing-tasks" in err
    code, out, _ = run(capsys, "--profile", "aws", "batch", "show")
    assert code == 0 and not any(json.loads(out).values())  # the demo recorded nothing
