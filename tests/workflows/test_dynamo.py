"""Batch, level and job records in the DynamoDB state table (moto server on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from labellake.errors import ConflictError, LabellakeError
from labellake.workflows import aws
from labellake.workflows.labeling.dynamo import (
    JOB,
    LEVEL,
    DynamoStateStore,
    DynamoStateTable,
    job_id,
    level_id,
)
from labellake.workflows.labeling.state import Event


@pytest.fixture
def table(moto_endpoint: str, request: pytest.FixtureRequest) -> DynamoStateTable:
    client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    name = f"state-{abs(hash(request.node.nodeid)) % 10**8}"
    client.create_table(**aws._state_table(name))
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
        DynamoStateStore(tmp_path / "state.db", client, "nowhere-state")


def test_missing_credentials_are_said_plainly(
    no_credentials: boto3.session.Session, tmp_path: Path
) -> None:
    client = no_credentials.client("dynamodb", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(LabellakeError, match="no AWS credentials to reach the DynamoDB state"):
        DynamoStateStore(tmp_path / "state.db", client, "any-state")


def test_names_are_taken_in_any_case_and_stay_taken(
    table: DynamoStateTable, tmp_path: Path
) -> None:
    store = DynamoStateStore(tmp_path / "state.db", table.client, table.table)
    batch = {"batch_id": "Mixed", "status": "IN_PROGRESS", "attempt": 1, "token": "t"}
    batch |= {"created_at": "2026-11-26T00:00:00+00:00", "request": "{}"}
    store.create_batch(
        batch,
        [{"batch_id": "Mixed", "level": 1, "status": "PENDING"}],
        [{"batch_id": "Mixed", "job_name": "Mixed-Job", "level": 1, "status": "PENDING"}],
        Event("BatchCreated", batch_id="Mixed"),
    )
    assert store.batch("mixed")["batch_id"] == "Mixed"
    assert store.job("MIXED-JOB")["job_name"] == "Mixed-Job"
    assert sorted(store.names_taken(["MIXED", "mixed-job", "other"])) == ["Mixed", "Mixed-Job"]
    with pytest.raises(ConflictError):
        store.create_batch({**batch, "batch_id": "MIXED"}, [], [], Event("BatchCreated"))
    store.delete_batch("mixed", ["Mixed-Job"], "2026-11-26T01:00:00+00:00", Event("BatchDeleted"))
    assert store.batch("Mixed") is None and store.job("Mixed-Job") is None
    assert sorted(store.names_taken(["mixed", "MIXED-JOB"])) == ["Mixed", "Mixed-Job"]
