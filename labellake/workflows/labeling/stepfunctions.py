"""The stepfunctions engine: a state machine per level count drives the batch steps.

The Amazon States Language definition is generated from a batch's levels: one
Task state per level, then Finish; any error (a failed labeling job, a level
past its TimeoutSeconds, a lost heartbeat) is caught and moves to BatchError,
which marks the batch and its children INTERNAL_ERROR and notifies. Each Task
hands its step to Python workers with ``sqs:sendMessage.waitForTaskToken``:
`labellake worker` processes (any number, on any machines) poll the queue, run
the step with the same functions the embedded engine uses, and answer with
SendTaskSuccess or SendTaskFailure. A level's task token is kept with the level
while its labeling jobs run; workers poll the level, send heartbeats, and
answer when it completes. Every step is idempotent, so a message delivered
twice has no second effect.

An execution can also end FAILED, TIMED_OUT or ABORTED where no step of ours runs
(a States.Runtime error, a queue the state machine cannot reach, a stop in the
console); then BatchError never marks the batch. So workers describe the execution
of every IN_PROGRESS batch, once per EXECUTION_CHECK_S, and fail the batch of an
execution that ended with the first failure in its history. A worker's loop never
dies of a failed step (``workflows/loop.py``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from labellake.errors import LabellakeError
from labellake.workflows.aws import stepfunctions as steps
from labellake.workflows.labeling import notify
from labellake.workflows.labeling.engine import Engine, JobFailed
from labellake.workflows.labeling.status import BatchStatus, LevelStatus
from labellake.workflows.loop import Backoff, Pulse

log = logging.getLogger(__name__)

EXECUTION_CHECK_S = steps.EXECUTION_CHECK_S
FAILED_STATE_ERROR = "BatchFailed"  # the Failed state's error: the cause is the batch's message


def definition(levels: int, queue_url: str, level_timeout_s: int) -> dict[str, Any]:
    """The ASL definition for a batch of ``levels`` levels."""

    def task(step: str, next_state: str, **extra: Any) -> dict[str, Any]:
        body = {
            "step": step,
            "batchId.$": "$.batchId",
            "taskToken.$": "$$.Task.Token",
            "execution.$": "$$.Execution.Id",
            **extra,
        }
        return {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": queue_url, "MessageBody": body},
            "ResultPath": None,
            "Next": next_state,
        }

    states: dict[str, Any] = {}
    for level in range(1, levels + 1):
        following = f"Level{level + 1}" if level < levels else "Finish"
        states[f"Level{level}"] = {
            **task("run_level", following, level=level),
            "Comment": f"Start the level-{level} jobs and wait until all of them complete",
            "TimeoutSeconds": level_timeout_s,
            "HeartbeatSeconds": steps.heartbeat_s(level_timeout_s),
            "Catch": [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "BatchError"}
            ],
        }
    states["Finish"] = {
        **task("finish", "Complete"),
        "Comment": "Land the batch in the lake, mark it COMPLETE and notify",
        "TimeoutSeconds": 3600,
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "BatchError"}],
    }
    states["BatchError"] = {
        **task("fail", "Failed", **{"error.$": "$.error"}),
        "Comment": "Mark the batch and its children INTERNAL_ERROR and notify",
        "TimeoutSeconds": 3600,
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
    }
    states["Complete"] = {"Type": "Succeed"}
    states["Failed"] = {
        "Type": "Fail",
        "Error": FAILED_STATE_ERROR,
        "Cause": "see the batch's message",
    }
    return {
        "Comment": f"labellake batch with {levels} level(s)",
        "StartAt": "Level1",
        "States": states,
    }


class StepFunctions:
    """Starts and stops a batch's execution; creates the state machines it needs."""

    def __init__(
        self,
        sfn: Any,
        sqs: Any,
        queue_name: str,
        role_arn: str,
        prefix: str,
        level_timeout_s: int,
    ) -> None:
        self.sfn = sfn
        self.sqs = sqs
        self.queue_name = queue_name
        self.role_arn = role_arn
        self.prefix = prefix
        self.level_timeout_s = level_timeout_s
        self._queue_url: str | None = None
        self._machines: dict[int, str] = {}
        self._lock = threading.Lock()

    def install(self, engine: Engine) -> None:
        engine.on_start.append(lambda engine, batch_id: self.start(engine, batch_id))
        engine.on_stop.append(lambda engine, batch_id: self.stop(engine, batch_id))

    @property
    def queue_url(self) -> str:
        if self._queue_url is None:
            self._queue_url = steps.queue_url(self.sqs, self.queue_name, "workflow steps")
        return self._queue_url

    def state_machine(self, levels: int) -> str:
        """The ARN of the state machine for ``levels`` levels, created or updated to the
        definition this version generates."""
        with self._lock:
            if levels in self._machines:
                return self._machines[levels]
            name = f"{self.prefix}-batches-{levels}-level{'s' if levels > 1 else ''}"
            arn = steps.ensure_state_machine(
                self.sfn,
                name,
                definition(levels, self.queue_url, self.level_timeout_s),
                self.role_arn,
            )
            self._machines[levels] = arn
            return arn

    def start(self, engine: Engine, batch_id: str) -> str:
        """Start the batch's execution (named after the batch and its attempt)."""
        batch = engine.state.batch(batch_id)
        assert batch is not None
        levels = len(engine.state.levels(batch_id))
        name = execution_name(batch)
        machine = self.state_machine(levels)
        try:
            arn = self.sfn.start_execution(
                stateMachineArn=machine, name=name, input=json.dumps({"batchId": batch_id})
            )["executionArn"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise LabellakeError(
                    f"batch {batch_id}: cannot start its execution "
                    f"({exc.response.get('Error', {}).get('Message', exc)})"
                ) from exc
            arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
        engine.state.set_execution(batch_id, str(arn))
        return str(arn)

    def stop(self, engine: Engine, batch_id: str) -> None:
        batch = engine.state.batch(batch_id)
        if not batch or not batch.get("execution_arn"):
            return
        try:
            self.sfn.stop_execution(
                executionArn=batch["execution_arn"], error="BatchStopped", cause=batch["message"]
            )
        except ClientError:
            log.warning("batch %s: could not stop its execution", batch_id, exc_info=True)


class Worker:
    """Runs the steps the state machines hand out, until stopped (the Runner's interface)."""

    def __init__(
        self,
        engine: Engine,
        orchestrator: StepFunctions,
        poll_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        backoff: Backoff | None = None,
        execution_check_s: float = EXECUTION_CHECK_S,
    ) -> None:
        self.engine = engine
        self.orchestrator = orchestrator
        self.poll_s = poll_s
        self.clock = clock
        self.answers = steps.Answers(orchestrator.sfn, clock)
        self.backoff = backoff or Backoff()
        self.pulse = Pulse()
        self.executions = steps.Interval(execution_check_s, clock)

    # -- the loop ------------------------------------------------------------------------

    def run(self, stop: threading.Event, until: Callable[[], bool] | None = None) -> None:
        with notify.delivering(self.engine.state, self.engine.config.aws, self.poll_s):
            steps.work(
                self.step, stop, self.poll_s, until, self.pulse, self.backoff, "batch worker"
            )

    def step(self, wait_s: int = 0) -> bool:
        """Handle the waiting messages, check the levels in flight and (when due) the
        executions; True if anything moved."""
        moved = self._start_orphans()
        received = steps.receive(
            self.orchestrator.sqs, self.orchestrator.queue_url, self.handle, wait_s
        )
        checked = self.check_levels()
        ended = self.check_executions()
        return checked or ended or received or moved

    # -- steps -----------------------------------------------------------------------------

    def handle(self, body: str) -> None:
        """One step message from a state machine."""
        try:
            message = json.loads(body)
            step, batch_id, token = message["step"], message["batchId"], message["taskToken"]
        except (json.JSONDecodeError, KeyError, TypeError):
            log.warning("ignoring a message that is not a workflow step: %.200s", body)
            return
        try:
            if step == "run_level":
                self._run_level(batch_id, int(message["level"]), token)
            elif step == "finish":
                if self._in_progress(batch_id):
                    self.engine.finish(batch_id)
                self.answers.succeed(token)
            elif step == "fail":
                error = message.get("error") or {}
                error_type, cause = _describe(error)
                self.engine.fail(batch_id, error_type, cause)
                self.answers.succeed(token)
            else:
                self.answers.fail(token, "UnknownStep", f"no workflow step '{step}'")
        except JobFailed as exc:
            self.answers.fail(token, "LabelingJobFailed", str(exc))
        except LabellakeError as exc:
            self.answers.fail(token, "InvalidInput", str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug fails the batch, not the worker
            log.exception("batch %s: step %s failed", batch_id, step)
            self.answers.fail(token, "InternalError", f"{type(exc).__name__}: {exc}")

    def _run_level(self, batch_id: str, level: int, token: str) -> None:
        if not self._in_progress(batch_id):
            self.answers.fail(token, "BatchNotInProgress", f"batch {batch_id} is not IN_PROGRESS")
            return
        row = next((lv for lv in self.engine.state.levels(batch_id) if lv["level"] == level), None)
        if row is None:
            self.answers.fail(token, "InvalidInput", f"batch {batch_id} has no level {level}")
            return
        if row["status"] == LevelStatus.PENDING:
            self.engine.start_level(batch_id, level)
        self.engine.state.set_level_token(batch_id, level, token)
        self._check_level(batch_id, level, token)

    def check_levels(self) -> bool:
        """Poll every level a task waits on; answer the ones that finished."""
        waiting = self.engine.state.waiting_levels()
        moved = False
        for row in waiting:
            try:
                moved = self._check_level(row["batch_id"], row["level"], row["task_token"]) or moved
            except Exception as exc:  # noqa: BLE001 - one batch's bug must not stop the others
                log.exception("batch %s level %s: checking failed", row["batch_id"], row["level"])
                self._clear(row["batch_id"], row["level"], row["task_token"])
                self.answers.fail(
                    row["task_token"], "InternalError", f"{type(exc).__name__}: {exc}"
                )
                moved = True
        return moved

    def _check_level(self, batch_id: str, level: int, token: str) -> bool:
        try:
            moved = self.engine.poll_level(batch_id, level)
        except JobFailed as exc:
            self._clear(batch_id, level, token)
            self.answers.fail(token, "LabelingJobFailed", str(exc))
            return True
        row = next(lv for lv in self.engine.state.levels(batch_id) if lv["level"] == level)
        if row["status"] == LevelStatus.COMPLETE:
            self._clear(batch_id, level, token)
            self.answers.succeed(token)
            return True
        self.answers.heartbeat(token, steps.heartbeat_s(self.orchestrator.level_timeout_s) / 3)
        return moved

    def check_executions(self) -> bool:
        """Fail each IN_PROGRESS batch whose execution ended without finishing it; runs at
        most once per ``execution_check_s`` (one DescribeExecution per batch in progress)."""
        if not self.executions.due():
            return False
        moved = False
        for batch in self.engine.state.batches(BatchStatus.IN_PROGRESS):
            if not batch.get("execution_arn"):
                continue  # never started: _start_orphans starts it
            try:
                moved = self._check_execution(batch) or moved
            except (ClientError, LabellakeError) as exc:
                log.warning("batch %s: cannot check its execution: %s", batch["batch_id"], exc)
        return moved

    def _check_execution(self, batch: dict[str, Any]) -> bool:
        batch_id, arn = batch["batch_id"], str(batch["execution_arn"])
        if arn.rsplit(":", 1)[-1] != execution_name(batch):
            # Retried, but the new attempt's StartExecution failed: start it now.
            self.orchestrator.start(self.engine, batch_id)
            return True
        ended = steps.ended_execution(self.orchestrator.sfn, arn, "batch", FAILED_STATE_ERROR)
        if ended is None:
            return False
        error_type, message = ended
        latest = self.engine.state.batch(batch_id)
        if latest is None or latest.get("execution_arn") != arn:
            return False  # retried or deleted meanwhile
        log.warning("batch %s: %s", batch_id, message)
        self.engine.fail(batch_id, error_type, message)
        return True

    def _clear(self, batch_id: str, level: int, token: str) -> None:
        self.engine.state.set_level_token(batch_id, level, None, only=token)

    def _start_orphans(self) -> bool:
        """Start batches recorded IN_PROGRESS whose execution never started."""
        orphans = self.engine.state.unstarted_batches()
        for batch_id in orphans:
            self.orchestrator.start(self.engine, batch_id)
        return bool(orphans)

    def _in_progress(self, batch_id: str) -> bool:
        batch = self.engine.state.batch(batch_id)
        return batch is not None and batch["status"] == BatchStatus.IN_PROGRESS


def execution_name(batch: dict[str, Any]) -> str:
    """The name of the execution of the batch's current attempt."""
    batch_id, attempt = str(batch["batch_id"]), int(batch["attempt"] or 1)
    return batch_id if attempt <= 1 else f"{batch_id}-{attempt}"


def execution_failure(described: dict[str, Any], events: list[dict[str, Any]]) -> tuple[str, str]:
    """(error type, message) of a batch's execution that ended without finishing it."""
    return steps.execution_failure(described, events, "batch", FAILED_STATE_ERROR)


def _describe(error: dict[str, Any]) -> tuple[str, str]:
    """(error type, message) from a Catch's error output."""
    name = str(error.get("Error") or "InternalError")
    cause = str(error.get("Cause") or name)
    if name == "States.Timeout":
        return "Timeout", f"a level did not complete within its TimeoutSeconds ({cause})"
    if name == "States.HeartbeatTimeout":
        return "Timeout", "no worker checked a running level in time (lost heartbeat)"
    return name, cause
