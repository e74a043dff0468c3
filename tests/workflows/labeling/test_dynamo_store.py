"""Batch, level and job items in the DynamoDB state table (moto server on 127.0.0.1), and
what only the DynamoDB batch store does; what every batch store does is in
tests/workflows/labeling/test_batch_store_contract.py."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import boto3
import pytest

from labellake.errors import ConflictError, LabellakeError
from labellake.workflows.aws import tables
from labellake.workflows.labeling.dynamo_store import DynamoBatchStore
from labellake.workflows.labeling.dynamo_table import (
    JOB,
    LEVEL,
    DynamoStateTable,
    job_id,
    level_id,
)
from labellake.workflows.people.accounts import ACCOUNTS, Accounts
from labellake.workflows.statedb import LEASES


@pytest.fixture
def table(moto_endpoint: str, request: pytest.FixtureRequest) -> DynamoStateTable:
    client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    name = f"state-{abs(hash(request.node.nodeid)) % 10**8}"
    client.create_table(**tables.state_table(name))
    return DynamoStateTable(client, name)


def _create(table: DynamoStateTable, batch_id: str = "b1") -> None:
    table.create_batch(
        {"batch_id": batch_id, "status": "IN_PROGRESS", "attempt": 1, "token": "t"},
        [{"level": 1, "status": "PENDING"}, {"level": 2, "status": "PENDING"}],
        [
            {"job_name": f"{batch_id}-vehicle", "level": 1, "status": "PENDING"},
            {"job_name": f"{batch_id}-vehicle-audit", "level": 2, "status": "PENDING"},
        ],
    )


def test_a_batch_is_written_with_its_levels_and_jobs(table: DynamoStateTable) -> None:
    _create(table)
    batch = table.batch("b1")
    assert batch is not None and batch["Status"] == "IN_PROGRESS" and batch["attempt"] == 1
    levels = table.children("b1", LEVEL)
    assert [lv["BatchId"] for lv in levels] == [level_id("b1", 1), level_id("b1", 2)]
    jobs = table.children("b1", JOB)
    assert [j["BatchId"] for j in jobs] == [
        job_id("b1", 1, "b1-vehicle"),
        job_id("b1", 2, "b1-vehicle-audit"),
    ]
    assert table.job_named("b1-vehicle-audit")["level"] == 2
    assert [b["BatchId"] for b in table.by_status("IN_PROGRESS")] == ["b1"]


def test_a_batch_id_is_written_once(table: DynamoStateTable) -> None:
    _create(table)
    with pytest.raises(ConflictError, match="batch id 'b1'"):
        _create(table)
    assert len(table.children("b1", JOB)) == 2  # nothing half-written


def test_a_status_moves_once_from_what_was_seen(table: DynamoStateTable) -> None:
    # Four workers saw the job PENDING and each tries the same move; the condition on the
    # status they saw lets one through. (Sequential: moto serialises nothing between
    # requests, so concurrent conditional writes there are not the service's behaviour.)
    _create(table)
    key = job_id("b1", 1, "b1-vehicle")
    results = [
        table.move(key, "PENDING", "WAIT_FOR_SMGT_RESPONSE", backend_job_id="b1-vehicle")
        for _ in range(4)
    ]
    assert results == [True, False, False, False]
    job = table.get(key)
    assert job["Status"] == "WAIT_FOR_SMGT_RESPONSE" and job["backend_job_id"] == "b1-vehicle"
    assert table.move(key, "WAIT_FOR_SMGT_RESPONSE", "COMPLETE", backend_job_id=None)
    assert "backend_job_id" not in table.get(key)
    assert not table.move("no-such-item", "PENDING", "COMPLETE")


def test_a_missing_state_table_is_named(moto_endpoint: str, tmp_path: Path) -> None:
    client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    with pytest.raises(LabellakeError, match="state table nowhere-state does not exist.*bootstrap"):
        DynamoBatchStore(tmp_path / "state.db", client, "nowhere-state")


def test_missing_credentials_are_said_plainly(
    no_credentials: boto3.session.Session, tmp_path: Path
) -> None:
    client = no_credentials.client("dynamodb", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(LabellakeError, match="no AWS credentials to reach the DynamoDB state"):
        DynamoBatchStore(tmp_path / "state.db", client, "any-state")


def test_the_host_records_stay_in_the_state_db_and_the_batches_do_not(
    table: DynamoStateTable, tmp_path: Path
) -> None:
    store = DynamoBatchStore(tmp_path / "state.db", table.client, table.table)
    Accounts(store).add("ann", "a long enough password")
    assert store.acquire_lease("runner", "host:1:a", ttl_s=60)
    with sqlite3.connect(tmp_path / "state.db") as con:
        names = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
    assert {"accounts", "leases"} <= names and "batches" not in names
    assert store.db.versions() == {"accounts": ACCOUNTS.version, "leases": LEASES.version}
