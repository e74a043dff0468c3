"""Queries through Athena: the SQL checked with sqlglot in the Trino dialect, the calls
awswrangler makes checked with botocore's Stubber, the results read from (moto) S3."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest
import sqlglot
from botocore.stub import Stubber
from sqlglot import exp

from labellake import sql
from labellake.errors import LabellakeError
from labellake.lake.athena import AthenaEngine, athena_sql, literal


@pytest.mark.parametrize("name", sql.names())
def test_every_query_is_trino_sql_with_the_views_inlined(name: str) -> None:
    views = sql.views()
    text = athena_sql(sql.load(name), views)
    parsed = sqlglot.parse_one(text, read="trino")
    defined = {cte.alias.lower() for cte in parsed.find_all(exp.CTE)}
    read = {table.name.lower() for table in parsed.find_all(exp.Table)}
    assert not (read & set(views)) - defined  # every view it reads is defined in the query
    assert "approx_quantile" not in text.lower()  # DuckDB's name, which Athena lacks


def test_views_come_before_the_ctes_that_read_them() -> None:
    text = athena_sql(
        "with mine as (select * from team_performance) select * from mine", sql.views()
    )
    assert text.index("team_performance AS") < text.index("mine AS")


def test_parameters_become_sql_literals() -> None:
    assert [literal(v) for v in (3, 2.5, "O'Brien", None, True)] == [
        "3",
        "2.5",
        "'O''Brien'",
        "NULL",
        "true",
    ]
    assert literal(dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)) == (
        "TIMESTAMP '2026-11-20 09:00:00.000'"
    )


class _Session(boto3.Session):
    """Hands awswrangler a stubbed Athena client and real (moto) clients for the rest."""

    def __init__(self, athena: Any, endpoint: str) -> None:
        super().__init__(region_name="us-east-1")
        self._athena = athena
        self._endpoint = endpoint

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if service_name == "athena":
            return self._athena
        kwargs["endpoint_url"] = self._endpoint
        return super().client(service_name, *args, **kwargs)


def _execution(state: str, reason: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {
        "State": state,
        "SubmissionDateTime": "2026-11-26T09:00:00Z",
        "CompletionDateTime": "2026-11-26T09:00:02Z",
    }
    if reason:
        status["StateChangeReason"] = reason
    return {
        "QueryExecution": {
            "QueryExecutionId": "q-1",
            "Query": "...",
            "StatementType": "DML",
            "ResultConfiguration": {"OutputLocation": "s3://athena-results/q-1.csv"},
            "QueryExecutionContext": {"Database": "labellake"},
            "Status": status,
            "WorkGroup": "labellake",
        }
    }


def _stubbed(moto_endpoint: str) -> tuple[AthenaEngine, Stubber]:
    athena = boto3.client("athena", region_name="us-east-1")
    stubber = Stubber(athena)
    stubber.add_response(
        "get_work_group",
        {
            "WorkGroup": {
                "Name": "labellake",
                "Configuration": {
                    "EnforceWorkGroupConfiguration": True,
                    "ResultConfiguration": {"OutputLocation": "s3://athena-results/"},
                },
            }
        },
        {"WorkGroup": "labellake"},
    )
    stubber.activate()
    engine = AthenaEngine(
        "labellake",
        "labellake",
        sql.views(),
        "us-east-1",
        session=_Session(athena, moto_endpoint),
    )
    return engine, stubber


def test_a_view_query_runs_in_the_workgroup(moto_endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="athena-results")
    s3.put_object(
        Bucket="athena-results",
        Key="q-1.csv",
        Body=b'"worker_id","tasks"\n"local.ann","2"\n"local.bea","3"\n',
    )
    engine, stubber = _stubbed(moto_endpoint)
    query = "select worker_id, tasks from worker_performance where tasks > ? and team = ?"
    stubber.add_response(
        "start_query_execution",
        {"QueryExecutionId": "q-1"},
        {
            "QueryString": athena_sql(query, sql.views()),
            "ResultConfiguration": {"OutputLocation": "s3://athena-results/"},
            "QueryExecutionContext": {"Database": "labellake"},
            "WorkGroup": "labellake",
            "ExecutionParameters": ["1", "'first-level'"],
        },
    )
    stubber.add_response(
        "get_query_execution", _execution("SUCCEEDED"), {"QueryExecutionId": "q-1"}
    )
    stubber.add_response(
        "get_query_results",
        {
            "ResultSet": {
                "Rows": [],
                "ResultSetMetadata": {
                    "ColumnInfo": [
                        {"Name": "worker_id", "Type": "varchar"},
                        {"Name": "tasks", "Type": "bigint"},
                    ]
                },
            }
        },
    )
    result = engine.query(query, [1, "first-level"])
    assert result.to_pylist() == [
        {"worker_id": "local.ann", "tasks": 2},
        {"worker_id": "local.bea", "tasks": 3},
    ]
    stubber.assert_no_pending_responses()


def test_a_failed_query_names_the_workgroup(moto_endpoint: str) -> None:
    engine, stubber = _stubbed(moto_endpoint)
    stubber.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
    stubber.add_response(
        "get_query_execution", _execution("FAILED", "TABLE_NOT_FOUND: line 1:15: batches")
    )
    with pytest.raises(LabellakeError, match="query failed in Athena \\(workgroup labellake\\)"):
        engine.query("select count(*) from batches")
