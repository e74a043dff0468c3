"""The BatchStore contract, run against every implementation: SQLite on tmp_path and the
DynamoDB state table on a moto server (127.0.0.1). What only one of them does is in
tests/workflows/test_state.py and tests/workflows/test_dynamo.py."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from labellake.errors import ConflictError
from labellake.workflows.labeling.status import (
    BatchStatus,
    LabelingJobStatus,
    LevelStatus,
    NotificationStatus,
)
from labellake.workflows.labeling.store import (
    BATCH_ROW,
    EVENT_ROW,
    JOB_ROW,
    LEVEL_ROW,
    NOTIFICATION_ROW,
    BatchStore,
    Event,
    Notice,
    now,
    timestamp,
)
from labellake.workflows.statedb import lease_owner

CREATED = "2026-11-26T00:00:00+00:00"
LATER = "2026-11-26T01:00:00+00:00"


@pytest.fixture(params=["sqlite", "dynamodb"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Every case runs on the SQLite store and on the DynamoDB state table."""
    return str(request.param)


@pytest.fixture
def store(state_store: Callable[[], BatchStore]) -> BatchStore:
    return state_store()


def _create(store: BatchStore, batch_id: str = "b1", **batch: Any) -> None:
    """A two-level batch as the engine records it: a job, and its audit chained from it."""
    store.create_batch(
        {
            "batch_id": batch_id,
            "status": BatchStatus.IN_PROGRESS,
            "request": "{}",
            "down_sampling_rate": 100.0,
            "destination": None,
            "token": f"{batch_id}-token",
            "attempt": 1,
            "created_at": CREATED,
            "updated_at": CREATED,
            **batch,
        },
        [{"batch_id": batch_id, "level": level, "status": LevelStatus.PENDING} for level in (1, 2)],
        [_job(batch_id, f"{batch_id}-vehicle", 1), _job(batch_id, f"{batch_id}-audit", 2)],
        Event("BatchCreated", batch_id=batch_id, payload={"jobs": 2}),
    )


def _job(batch_id: str, name: str, level: int) -> dict[str, Any]:
    return {
        "job_name": name,
        "batch_id": batch_id,
        "level": level,
        "modality": "VideoObjectTracking" if level == 1 else "AdjustmentVideoObjectTracking",
        "annotation_type": "BoundingBox",
        "status": LabelingJobStatus.PENDING,
        "chain_from": f"{batch_id}-vehicle" if level == 2 else None,
        "workteam_arn": "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/t",
        "label_attribute_name": "vehicle",
        "label_config_uri": "s3://b/config.json",
        "source_manifest_uri": "s3://b/input.manifest" if level == 1 else None,
        "down_sampling_rate": 100.0 if level == 2 else None,
        "attempt": 1,
        "spec": "{}",
        "created_at": CREATED,
        "updated_at": CREATED,
        "backend": "simulated",
    }


def _start(store: BatchStore, job_name: str, tasks: list[str] | None = None) -> bool:
    return store.move_job(
        job_name,
        LabelingJobStatus.PENDING,
        LabelingJobStatus.WAIT_FOR_SMGT_RESPONSE,
        Event("JobStarted", batch_id="b1", job_name=job_name),
        tasks=tasks,
        backend_job_id=job_name,
        object_count=len(tasks or []),
        started_at=CREATED,
        updated_at=CREATED,
    )


def test_a_batch_is_recorded_with_its_levels_and_jobs(store: BatchStore) -> None:
    _create(store)
    batch = store.batch("b1")
    assert batch is not None and list(batch) == list(BATCH_ROW)
    assert (batch["status"], batch["token"], batch["attempt"]) == ("IN_PROGRESS", "b1-token", 1)
    assert batch["execution_arn"] is None and batch["completed_at"] is None
    levels = store.levels("b1")
    assert [list(level) for level in levels] == [list(LEVEL_ROW)] * 2
    assert [(lv["level"], lv["status"]) for lv in levels] == [(1, "PENDING"), (2, "PENDING")]
    jobs = store.jobs("b1")
    assert [list(job) for job in jobs] == [list(JOB_ROW)] * 2
    assert [j["job_name"] for j in jobs] == ["b1-vehicle", "b1-audit"]
    assert [j["job_name"] for j in store.jobs("b1", level=2)] == ["b1-audit"]
    assert store.job("b1-audit")["chain_from"] == "b1-vehicle"
    assert store.job("nope") is None and store.batch("nope") is None
    assert store.levels("nope") == [] and store.jobs("nope") == []
    [event] = store.events("b1")
    assert list(event) == list(EVENT_ROW)
    assert (event["kind"], event["payload"]) == ("BatchCreated", {"jobs": 2})
    assert [b["batch_id"] for b in store.batches()] == ["b1"]
    assert [b["batch_id"] for b in store.batches(BatchStatus.IN_PROGRESS)] == ["b1"]
    assert store.batches(BatchStatus.COMPLETE) == []


def test_names_are_taken_in_any_case_and_stay_taken(store: BatchStore) -> None:
    batch = {"batch_id": "Mixed", "status": "IN_PROGRESS", "attempt": 1, "token": "t"}
    batch |= {"created_at": CREATED, "updated_at": CREATED, "request": "{}"}
    store.create_batch(
        batch,
        [{"batch_id": "Mixed", "level": 1, "status": "PENDING"}],
        [{**_job("Mixed", "Mixed-Job", 1), "chain_from": None}],
        Event("BatchCreated", batch_id="Mixed"),
    )
    assert store.batch("mixed")["batch_id"] == "Mixed"
    assert store.job("MIXED-JOB")["job_name"] == "Mixed-Job"
    assert sorted(store.names_taken(["MIXED", "mixed-job", "other"])) == ["Mixed", "Mixed-Job"]
    with pytest.raises(ConflictError):
        store.create_batch({**batch, "batch_id": "MIXED"}, [], [], Event("BatchCreated"))
    store.delete_batch("mixed", ["Mixed-Job"], LATER, Event("BatchDeleted", batch_id="Mixed"))
    assert store.batch("Mixed") is None and store.job("Mixed-Job") is None
    # Retired under the spelling the store kept (DynamoDB: the first; SQLite: the delete's).
    assert sorted(name.lower() for name in store.names_taken(["mixed", "MIXED-JOB"])) == [
        "mixed",
        "mixed-job",
    ]
    assert [e["kind"] for e in store.events("Mixed")] == ["BatchCreated", "BatchDeleted"]


def test_a_status_moves_only_from_the_one_the_caller_saw(store: BatchStore) -> None:
    _create(store)
    moves = [
        store.move_level(
            "b1",
            1,
            LevelStatus.PENDING,
            LevelStatus.IN_PROGRESS,
            Event("LevelStarted", batch_id="b1", payload={"level": 1}),
            started_at=CREATED,
        )
        for _ in range(3)
    ]
    assert moves == [True, False, False]
    assert [_start(store, "b1-vehicle", ["a", "b", "c"]) for _ in range(2)] == [True, False]
    assert not store.move_job(
        "nope", LabelingJobStatus.PENDING, LabelingJobStatus.COMPLETE, Event("JobSkipped")
    )
    job = store.job("b1-vehicle")
    assert (job["status"], job["backend_job_id"], job["object_count"]) == (
        "WAIT_FOR_SMGT_RESPONSE",
        "b1-vehicle",
        3,
    )
    assert store.task_count("b1") == 3
    # A start time that is set stays (a level started again after a retry keeps its first).
    store.move_level(
        "b1",
        1,
        LevelStatus.IN_PROGRESS,
        LevelStatus.COMPLETE,
        Event("LevelCompleted", batch_id="b1"),
        started_at=LATER,
    )
    assert store.levels("b1")[0]["started_at"] == CREATED
    assert [e["kind"] for e in store.events("b1")] == [
        "BatchCreated",
        "LevelStarted",
        "JobStarted",
        "LevelCompleted",
    ]
    assert [e["kind"] for e in store.events(kind="JobStarted")] == ["JobStarted"]


def test_a_failed_batch_takes_its_unfinished_children_and_queues_its_notice(
    store: BatchStore,
) -> None:
    _create(store)
    _start(store, "b1-vehicle", ["a"])
    store.move_job(
        "b1-vehicle",
        LabelingJobStatus.WAIT_FOR_SMGT_RESPONSE,
        LabelingJobStatus.COMPLETE,
        Event("JobCompleted", batch_id="b1", job_name="b1-vehicle"),
        completed_at=LATER,
    )
    message = {"batchId": "b1", "status": "FAILED"}
    notice = Notice(message, ["https://hooks.example/a", "arn:aws:sns:us-east-1:1:t"])
    failed = [
        store.move_batch(
            "b1",
            (BatchStatus.IN_PROGRESS,),
            BatchStatus.INTERNAL_ERROR,
            Event("BatchFailed", batch_id="b1", payload=message),
            children=BatchStatus.INTERNAL_ERROR,
            child_message="it broke",
            notice=notice,
            message="it broke",
            error_type="InternalError",
            completed_at=LATER,
            updated_at=LATER,
        )
        for _ in range(2)
    ]
    assert failed == [True, False]
    batch = store.batch("b1")
    assert (batch["status"], batch["message"], batch["error_type"]) == (
        "INTERNAL_ERROR",
        "it broke",
        "InternalError",
    )
    assert [j["status"] for j in store.jobs("b1")] == ["COMPLETE", "INTERNAL_ERROR"]
    assert store.job("b1-audit")["message"] == "it broke"
    assert [lv["status"] for lv in store.levels("b1")] == ["INTERNAL_ERROR"] * 2
    queued = store.notifications("b1")
    assert [list(n) for n in queued] == [list(NOTIFICATION_ROW)] * 2
    assert [n["url"] for n in queued] == notice.urls
    assert {n["status"] for n in queued} == {NotificationStatus.PENDING}
    assert [n["payload"] for n in queued] == [message, message]


def test_notifications_are_claimed_once_then_delivered_retried_or_given_up(
    store: BatchStore,
) -> None:
    _create(store)
    urls = ["https://hooks.example/a", "https://hooks.example/b", "https://hooks.example/c"]
    store.move_batch(
        "b1",
        (BatchStatus.IN_PROGRESS,),
        BatchStatus.COMPLETE,
        Event("BatchCompleted", batch_id="b1"),
        notice=Notice({"batchId": "b1"}, urls),
    )
    moment = now() + dt.timedelta(seconds=5)
    due = store.due_notifications(moment)
    assert [n["url"] for n in due] == urls
    until = moment + dt.timedelta(minutes=2)
    assert store.claim_notification(due[0], until)
    assert not store.claim_notification(due[0], until)  # another deliverer took it
    assert [n["url"] for n in store.due_notifications(moment)] == urls[1:]
    store.notification_delivered(due[0]["id"], 1, moment)
    store.notification_failed(due[1]["id"], 1, "refused", moment + dt.timedelta(hours=1), False)
    store.notification_failed(due[2]["id"], 8, "x" * 900, moment, give_up=True)
    rows = {n["url"]: n for n in store.notifications("b1")}
    assert rows[urls[0]]["status"] == NotificationStatus.DELIVERED
    assert rows[urls[0]]["delivered_at"] == timestamp(moment)
    assert (rows[urls[1]]["status"], rows[urls[1]]["last_error"]) == ("PENDING", "refused")
    assert rows[urls[2]]["status"] == NotificationStatus.GAVE_UP
    assert len(rows[urls[2]]["last_error"]) == 500 and rows[urls[2]]["attempts"] == 8
    assert store.due_notifications(moment + dt.timedelta(minutes=30)) == []
    assert [n["url"] for n in store.due_notifications(moment + dt.timedelta(hours=2))] == [urls[1]]


def test_a_retried_batch_starts_its_unfinished_jobs_again(store: BatchStore) -> None:
    _create(store)
    _start(store, "b1-vehicle", ["a"])
    store.move_batch(
        "b1",
        (BatchStatus.IN_PROGRESS,),
        BatchStatus.STOPPED,
        Event("BatchStopped", batch_id="b1"),
        children=BatchStatus.STOPPED,
        message="stopped by ann",
        completed_at=LATER,
        updated_at=LATER,
    )
    retryable = (BatchStatus.INTERNAL_ERROR, BatchStatus.STOPPED)
    assert store.retry_batch("b1", retryable, LATER, Event("BatchRetried", batch_id="b1"))
    assert not store.retry_batch("b1", retryable, LATER, Event("BatchRetried", batch_id="b1"))
    batch = store.batch("b1")
    assert (batch["status"], batch["attempt"], batch["message"], batch["completed_at"]) == (
        "IN_PROGRESS",
        2,
        None,
        None,
    )
    started, chained = store.jobs("b1")
    assert (started["status"], started["attempt"], started["backend_job_id"]) == (
        "PENDING",
        2,
        None,
    )
    assert started["started_at"] is None and started["updated_at"] == LATER
    assert (chained["status"], chained["attempt"]) == ("PENDING", 1)  # it never started
    assert [lv["status"] for lv in store.levels("b1")] == ["PENDING", "PENDING"]


def test_the_down_sampling_rate_reaches_the_chained_jobs_not_started(store: BatchStore) -> None:
    _create(store)
    store.set_down_sampling_rate("b1", 25.0, LATER, Event("RateSet", batch_id="b1"))
    batch = store.batch("b1")
    assert (batch["down_sampling_rate"], batch["updated_at"]) == (25.0, LATER)
    assert [j["down_sampling_rate"] for j in store.jobs("b1")] == [None, 25.0]
    assert store.events("b1", kind="RateSet")


def test_executions_and_the_task_tokens_levels_wait_on(store: BatchStore) -> None:
    _create(store)
    _create(store, "b2")
    assert sorted(store.unstarted_batches()) == ["b1", "b2"]
    store.set_execution("b1", "arn:aws:states:us-east-1:1:execution:m:b1")
    assert store.unstarted_batches() == ["b2"]
    assert store.batch("b1")["execution_arn"].endswith(":b1")
    store.set_level_token("b1", 1, "token-1")
    assert store.waiting_levels() == [{"batch_id": "b1", "level": 1, "task_token": "token-1"}]
    store.set_level_token("b1", 1, None, only="another token")  # not the one it holds
    assert store.levels("b1")[0]["task_token"] == "token-1"
    store.set_level_token("b1", 1, None, only="token-1")
    assert store.waiting_levels() == []


def test_lease_of_a_dead_process_is_taken_over(store: BatchStore) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ghost = f"{socket.gethostname()}:{dead}:feed"
    assert store.acquire_lease("runner", ghost, ttl_s=60)
    assert store.lease_holder("runner") is None  # held, but by a process that is gone
    live = lease_owner()
    assert store.acquire_lease("runner", live, ttl_s=60)
    assert not store.acquire_lease("runner", lease_owner(), ttl_s=60)
    assert store.acquire_lease("runner", live, ttl_s=60)  # renewing
    assert store.lease_holder("runner") == live
    store.release_lease("runner", live)
    assert store.lease_holder("runner") is None


def test_every_implementation_has_the_whole_protocol_and_inherits_nothing(
    store: BatchStore,
) -> None:
    methods = [name for name in vars(BatchStore) if not name.startswith("_")]
    assert len(methods) >= 27
    assert [name for name in methods if not callable(getattr(store, name, None))] == []
    assert store.path == store.db.path
    assert type(store).__mro__ == (type(store), object)
