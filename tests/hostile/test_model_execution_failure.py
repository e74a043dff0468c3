"""A model run's execution that ends without finishing the run records the run ERROR;
GET /health reports the model steps worker beside the runner.

A model run's Step Functions execution can end FAILED, TIMED_OUT or ABORTED where no
step of ours runs (a States.Runtime error, a queue the state machine cannot reach, a
stop in the console), so its ModelError step never records the run. The model worker
describes the execution of each unfinished run (once per check interval) and records
the run ERROR with the execution's cause; a running execution, a finished run and a
run without an execution are left alone. (The other ends, TIMED_OUT and ABORTED, share
``execution_failure`` with batches: tests/hostile/test_stepfunctions_failure.py.)
Executions run on moto's ASL interpreter; SageMaker is stubbed and must see no call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from labellake.portal.api import create_app
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.loop import Pulse
from labellake.workflows.models.stepfunctions import ModelStateMachine, ModelWorker
from labellake.workflows.models.store import RunStatus
from labellake.workflows.models.workflow import RunRequest
from tests.hostile.test_stepfunctions_failure import described_in_step, execution_ended
from tests.workflows.models.test_stepfunctions import ROLE, STATES_ROLE, Setup, effort_data


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def machine_on(setup: Setup, prefix: str, queue_url: str) -> ModelStateMachine:
    """A model state machine of its own whose Task states send to ``queue_url``."""
    machine = ModelStateMachine(
        setup.sfn,
        setup.sqs,
        setup.sm,
        setup.objects,
        "unused",
        STATES_ROLE,
        ROLE,
        prefix,
        "us-east-1",
        timeout_s=3600,
    )
    machine._queue_url = queue_url
    return machine


def start_on(setup: Setup, machine: ModelStateMachine, model_name: str) -> str:
    request, data = RunRequest(model_name=model_name), effort_data()
    run_id = setup.workflow.submit(request, data)
    machine.start(setup.workflow.registry, run_id, request, data)
    return run_id


def settled(setup: Setup, run_id: str, seconds: float = 30) -> dict[str, Any]:
    """DescribeExecution of the run's execution once it is no longer RUNNING."""
    return execution_ended(setup.sfn, setup.workflow.registry.run(run_id)["execution_arn"], seconds)


def test_an_execution_that_cannot_reach_its_queue_records_its_run_error(
    tmp_path: Path, sfn_endpoint: str
) -> None:
    setup = Setup(tmp_path, sfn_endpoint, "mdl-lost")
    registry = setup.workflow.registry
    clock = Clock()
    worker = ModelWorker(setup.workflow, setup.machine, poll_s=0, clock=clock, execution_check_s=60)
    assert described_in_step(setup.sfn, worker) == []  # no run at all: no AWS call
    clock.now += 60
    # A run carried out here (no execution) is never described.
    local = setup.workflow.submit(RunRequest(model_name="local"), effort_data())
    assert described_in_step(setup.sfn, worker) == []
    clock.now += 60

    # A state machine whose steps go to a queue that is gone: TrainModel fails, its
    # ModelError step cannot be sent either, and the execution ends FAILED.
    gone = setup.sqs.create_queue(QueueName="mdl-lost-gone")["QueueUrl"]
    setup.sqs.delete_queue(QueueUrl=gone)
    lost = start_on(setup, machine_on(setup, "mdl-lost-broken", gone), "lost")
    # One whose steps wait on a queue no worker reads: its execution stays RUNNING.
    parked_url = setup.sqs.create_queue(QueueName="mdl-lost-parked")["QueueUrl"]
    waiting = start_on(setup, machine_on(setup, "mdl-lost-parked", parked_url), "waiting")
    # A READY run whose execution (for the test, a failed one) must not be looked at.
    done = start_on(setup, machine_on(setup, "mdl-lost-broken", gone), "done")
    assert settled(setup, done)["status"] == "FAILED"
    registry.move(done, RunStatus.READY, endpoint_id="kept")
    assert settled(setup, lost)["status"] == "FAILED"
    assert registry.run(lost)["status"] == RunStatus.TRAINING_MODEL  # what was left behind

    arns = {r: registry.run(r)["execution_arn"] for r in (lost, waiting, done)}
    assert sorted(described_in_step(setup.sfn, worker)) == sorted([arns[lost], arns[waiting]])
    run = setup.workflow.describe(lost)
    assert run["status"] == RunStatus.ERROR
    assert run["error"] == "ExecutionFailed"
    assert "without finishing the model run" in run["cause"]
    assert "The specified queue does not exist" in run["cause"]
    assert registry.run(waiting)["status"] == RunStatus.TRAINING_MODEL  # RUNNING: left alone
    assert registry.run(done)["status"] == RunStatus.READY
    assert registry.run(done)["error"] is None
    assert registry.run(local)["status"] == RunStatus.TRAINING_MODEL

    assert described_in_step(setup.sfn, worker) == []  # not again within the interval
    clock.now += 59
    assert described_in_step(setup.sfn, worker) == []
    clock.now += 1
    assert described_in_step(setup.sfn, worker) == [arns[waiting]]  # the ERROR run no more

    assert registry.run(waiting)["status"] == RunStatus.TRAINING_MODEL
    assert registry.run(lost)["status"] == RunStatus.ERROR
    assert registry.run(local)["status"] == RunStatus.TRAINING_MODEL
    setup.stubber.assert_no_pending_responses()  # and SageMaker saw no call


def test_health_reports_the_model_steps_worker(engine: Engine) -> None:
    clock = Clock()
    runner, steps = Pulse(clock), Pulse(clock)
    health = TestClient(create_app(engine, runner=runner, model_steps=steps, stale_s=60))
    runner.passed()
    steps.passed()
    answer = health.get("/health")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert answer.json()["modelSteps"]["secondsSinceHeartbeat"] == 0

    clock.now += 61
    runner.passed()  # the runner beats on; the model steps worker fails every pass
    steps.failed(RuntimeError("SQS is unreachable"))
    answer = health.get("/health")
    assert answer.status_code == 503 and answer.json()["status"] == "stale"
    assert answer.json()["runner"]["secondsSinceHeartbeat"] == 0
    assert answer.json()["modelSteps"]["secondsSinceHeartbeat"] == 61
    assert answer.json()["modelSteps"]["lastError"] == "RuntimeError: SQS is unreachable"

    steps.passed()
    assert health.get("/health").status_code == 200
    # Without a model steps worker, /health answers as it did.
    alone = TestClient(create_app(engine, runner=runner, stale_s=60)).get("/health").json()
    assert set(alone) == {"status", "version", "runner"}
