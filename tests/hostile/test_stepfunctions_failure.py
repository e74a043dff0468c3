"""Issue 15, item 9: an execution that ends without its batch finishing fails the batch.

A batch's Step Functions execution can end FAILED, TIMED_OUT or ABORTED where no step
of ours runs (a States.Runtime error, a queue the state machine cannot reach, a stop in
the console), so its BatchError step never marks the batch. The worker describes the
execution of each IN_PROGRESS batch (once per check interval) and fails the batch with
the execution's cause, as any failure does; a running or succeeded execution leaves its
batch alone. Executions run on moto's ASL interpreter.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from labellake.workflows.labeling import notify
from labellake.workflows.labeling.status import BatchStatus, LabelingJobStatus
from labellake.workflows.labeling.stepfunctions import Worker, definition, execution_failure
from labellake.workflows.people.workforce import Workforce
from labellake.workflows.samples.demo import demo_request
from labellake.workflows.samples.synthetic import SampleSet
from tests.workflows.labeling.test_stepfunctions import Setup

TOPIC = "arn:aws:sns:us-east-1:123456789012:labellake-batches"


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def one_level(batch_id: str, samples: SampleSet) -> dict[str, Any]:
    """The demo batch's first level alone, with an SNS topic to notify."""
    request = demo_request(batch_id, samples)
    request["labelingJobs"] = [j for j in request["labelingJobs"] if j["jobLevel"] == 1]
    return {**request, "destinationSnsArn": TOPIC}


def ended(setup: Setup, batch_id: str, seconds: float = 30) -> dict[str, Any]:
    """DescribeExecution of the batch's execution once it is no longer RUNNING."""
    return execution_ended(setup.sfn, setup.state.batch(batch_id)["execution_arn"], seconds)


def execution_ended(sfn: Any, arn: str, seconds: float = 30) -> dict[str, Any]:
    """DescribeExecution of ``arn`` once it is no longer RUNNING."""
    deadline = time.monotonic() + seconds
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"execution {arn} still RUNNING"
        time.sleep(0.1)
    return described


def described_in_step(sfn: Any, worker: Any) -> list[str]:
    """The executions one step of ``worker`` (batch or model steps) describes."""
    calls: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        calls.append(params["executionArn"])

    sfn.meta.events.register("provide-client-params.states.DescribeExecution", count)
    try:
        worker.step(wait_s=0)
    finally:
        sfn.meta.events.unregister("provide-client-params.states.DescribeExecution", count)
    return calls


def failures(setup: Setup, batch_id: str) -> int:
    return [e["kind"] for e in setup.state.events(batch_id)].count("BatchFailed")


def test_an_execution_that_cannot_reach_its_queue_fails_its_batch(
    tmp_path: Path, sfn_endpoint: str, store: str
) -> None:
    setup = Setup(tmp_path, sfn_endpoint, "sfn-lost", store)
    clock = Clock()
    worker = Worker(setup.engine, setup.orchestrator, poll_s=0, clock=clock, execution_check_s=60)
    assert len(described_in_step(setup.sfn, worker)) == 0  # nothing in progress, nothing described
    clock.now += 60

    # The one-level state machine hands its steps to a queue that is gone: its tasks
    # fail, its BatchError step cannot be sent either, and the execution ends FAILED.
    gone = setup.sqs.create_queue(QueueName=f"{setup.prefix}-gone")["QueueUrl"]
    setup.sqs.delete_queue(QueueUrl=gone)
    setup.sfn.update_state_machine(
        stateMachineArn=setup.orchestrator.state_machine(1),
        definition=json.dumps(definition(1, gone, 86400)),
    )
    setup.engine.submit(one_level("lost", setup.samples))
    # Two levels, on a sound machine, labeled by people who have not started: RUNNING.
    force = Workforce(setup.state, "us-east-1", "111122223333")
    force.add_team("first-level")
    force.add_team("second-level")
    setup.engine.submit({**demo_request("waiting", setup.samples), "backend": "local"})
    assert ended(setup, "lost")["status"] == "FAILED"
    assert setup.state.batch("lost")["status"] == BatchStatus.IN_PROGRESS  # what was left behind

    assert len(described_in_step(setup.sfn, worker)) == 2  # once per batch in progress
    batch = setup.state.batch("lost")
    assert batch["status"] == BatchStatus.INTERNAL_ERROR
    assert batch["error_type"] == "ExecutionFailed"
    assert "The specified queue does not exist" in batch["message"]
    assert {j["status"] for j in setup.state.jobs("lost")} == {LabelingJobStatus.INTERNAL_ERROR}
    assert failures(setup, "lost") == 1
    (notice,) = notify.notifications(setup.state, "lost")
    assert notice["payload"]["status"] == "FAILED"
    assert "The specified queue does not exist" in notice["payload"]["errorString"]
    assert setup.state.batch("waiting")["status"] == BatchStatus.IN_PROGRESS  # RUNNING: left alone

    assert len(described_in_step(setup.sfn, worker)) == 0  # not again within the interval
    clock.now += 60
    assert len(described_in_step(setup.sfn, worker)) == 1  # "waiting" only

    # A retry starts a new execution (on the same broken machine), which fails it again.
    setup.engine.retry("lost")
    assert setup.state.batch("lost")["execution_arn"].endswith(":lost-2")
    assert ended(setup, "lost")["status"] == "FAILED"
    clock.now += 60
    worker.step(wait_s=0)
    assert setup.state.batch("lost")["status"] == BatchStatus.INTERNAL_ERROR
    assert failures(setup, "lost") == 2

    # A sound batch runs to the end; its SUCCEEDED execution changes nothing.
    setup.engine.submit(demo_request("fine", setup.samples))
    assert setup.work_until("fine") == BatchStatus.COMPLETE
    assert setup.execution("fine")["status"] == "SUCCEEDED"
    clock.now += 60
    assert len(described_in_step(setup.sfn, worker)) == 1  # "waiting" only
    assert setup.state.batch("fine")["status"] == BatchStatus.COMPLETE
    assert failures(setup, "fine") == 0
    assert setup.state.batch("waiting")["status"] == BatchStatus.IN_PROGRESS


def event(kind: str, key: str, error: str, cause: str, number: int) -> dict[str, Any]:
    return {"id": number, "type": kind, key: {"error": error, "cause": cause}}


@pytest.mark.parametrize(
    ("described", "events", "expected"),
    [
        (
            {"status": "FAILED", "error": "States.Runtime", "cause": "bad path"},
            [event("ExecutionFailed", "executionFailedEventDetails", "States.Runtime", "bad", 3)],
            ("ExecutionFailed", "States.Runtime: bad"),
        ),
        (
            {"status": "FAILED", "error": "BatchFailed", "cause": "see the batch's message"},
            [
                event("TaskFailed", "taskFailedEventDetails", "SQS.Gone", "no queue", 4),
                event("TaskFailed", "taskFailedEventDetails", "SQS.Gone", "still none", 9),
                event(
                    "ExecutionFailed",
                    "executionFailedEventDetails",
                    "BatchFailed",
                    "see the batch's message",
                    12,
                ),
            ],
            ("ExecutionFailed", "SQS.Gone: no queue"),
        ),
        (
            {"status": "ABORTED", "error": "Manual", "cause": "stopped in the console"},
            [event("ExecutionAborted", "executionAbortedEventDetails", "Manual", "console", 5)],
            ("ExecutionAborted", "Manual: console"),
        ),
        (
            {"status": "TIMED_OUT"},
            [{"id": 7, "type": "ExecutionTimedOut", "executionTimedOutEventDetails": {}}],
            ("ExecutionTimedOut", "no cause given"),
        ),
        (
            {"status": "ABORTED", "error": "Manual", "cause": "stopped"},
            [],
            ("ExecutionAborted", "Manual: stopped"),
        ),
    ],
)
def test_the_cause_is_the_first_failure_of_the_execution(
    described: dict[str, Any], events: list[dict[str, Any]], expected: tuple[str, str]
) -> None:
    error_type, message = execution_failure({"name": "b1", **described}, list(reversed(events)))
    assert error_type == expected[0]
    assert message.endswith(expected[1])
    assert described["status"] in message and "b1" in message
