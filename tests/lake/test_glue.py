"""Lake tables registered in the Glue Data Catalog (moto server on 127.0.0.1)."""

from __future__ import annotations

import boto3
import pyarrow as pa
import pytest

from labellake.errors import LabellakeError
from labellake.lake import Lake, ObjectStore
from labellake.lake.catalog import get_table
from labellake.lake.glue import GlueCatalog, glue_type


def test_arrow_types_in_hive_spelling() -> None:
    assert glue_type(get_table("annotations").schema.field("points").type) == (
        "array<struct<x:double,y:double>>"
    )
    assert glue_type(get_table("annotations").schema.field("attributes").type) == (
        "map<string,string>"
    )
    assert glue_type(pa.timestamp("us", tz="UTC")) == "timestamp"


def test_writes_register_tables_and_partitions(s3_bucket: str, moto_endpoint: str) -> None:
    uri = f"s3://{s3_bucket}/lake"
    glue = GlueCatalog("labellake_test", uri, "us-east-1", moto_endpoint)
    lake = Lake(
        ObjectStore.from_uri(uri, region="us-east-1", endpoint_url=moto_endpoint), glue=glue
    )
    rows = pa.table({"job_name": ["job-a", "job-a"], "check_name": ["size_jump", "gap"]})
    lake.write("qa_findings", "job-a", rows)
    lake.write("qa_findings", "job-b", rows.set_column(0, "job_name", pa.array(["job-b"] * 2)))
    lake.write("batches", "b1", pa.table({"batch_id": ["b1"], "status": ["COMPLETE"]}))
    client = boto3.client("glue", endpoint_url=moto_endpoint, region_name="us-east-1")
    assert glue.tables() == ["batches", "qa_findings"]
    described = client.get_table(DatabaseName="labellake_test", Name="qa_findings")["Table"]
    storage = described["StorageDescriptor"]
    assert storage["Location"] == f"{uri}/qa_findings/"
    assert [k["Name"] for k in described["PartitionKeys"]] == ["job_name"]
    columns = {c["Name"]: c for c in storage["Columns"]}
    assert columns["check_name"]["Type"] == "string" and columns["check_name"]["Comment"]
    partitions = client.get_partitions(DatabaseName="labellake_test", TableName="qa_findings")
    assert sorted(p["Values"][0] for p in partitions["Partitions"]) == ["job-a", "job-b"]
    lake.delete("qa_findings", "job-a")
    partitions = client.get_partitions(DatabaseName="labellake_test", TableName="qa_findings")
    assert [p["Values"] for p in partitions["Partitions"]] == [["job-b"]]
    assert lake.query("select count(*) as n from qa_findings").column("n")[0].as_py() == 2


def test_glue_wants_a_lake_on_s3(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LabellakeError, match="describes a lake on S3"):
        GlueCatalog("db", str(tmp_path), "us-east-1")
