"""What the batch and model state machines share: the SQS queue their Task states hand
steps to, creating or updating a state machine, the worker's receive loop, the answers
to a task token (success, failure, heartbeat), and the check of executions that ended
FAILED, TIMED_OUT or ABORTED where no step of ours runs (at most once per
EXECUTION_CHECK_S). The loop never dies of a failed step: it logs it and backs off
(``workflows/loop.py``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from labellake.errors import LabellakeError
from labellake.workflows.loop import Backoff, Pulse, keep_running

log = logging.getLogger(__name__)

HEARTBEAT_S = 300  # a task fails when no worker has shown a sign of life for this long
RECEIVE_WAIT_S = 1
VISIBILITY_S = 120
EXECUTION_CHECK_S = 30.0  # how often a worker describes the executions of unfinished work
ENDED_TYPES = {
    "FAILED": "ExecutionFailed",
    "TIMED_OUT": "ExecutionTimedOut",
    "ABORTED": "ExecutionAborted",
}


def heartbeat_s(timeout_s: int) -> int:
    """How long a task waits for a worker's sign of life (under its timeout)."""
    return max(1, min(HEARTBEAT_S, timeout_s // 2))


def _reason(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", exc))


def queue_url(sqs: Any, name: str, purpose: str) -> str:
    """The URL of queue ``name``; a missing queue is a one-line error with the fix."""
    try:
        return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except ClientError as exc:
        raise LabellakeError(
            f"no SQS queue {name} for the {purpose} ({_reason(exc)}); create it with "
            "`labellake --profile aws aws bootstrap`"
        ) from exc


def ensure_state_machine(sfn: Any, name: str, definition: dict[str, Any], role_arn: str) -> str:
    """The ARN of state machine ``name``, created, or updated to ``definition``."""
    text = json.dumps(definition)
    try:
        return str(
            sfn.create_state_machine(name=name, definition=text, roleArn=role_arn, type="STANDARD")[
                "stateMachineArn"
            ]
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "StateMachineAlreadyExists":
            raise LabellakeError(
                f"cannot create the state machine {name}: {_reason(exc)[:300]}"
            ) from exc
    arn = next(
        (
            str(machine["stateMachineArn"])
            for page in sfn.get_paginator("list_state_machines").paginate()
            for machine in page["stateMachines"]
            if machine["name"] == name
        ),
        None,
    )
    if arn is None:
        raise LabellakeError(f"state machine {name} exists but cannot be listed")
    sfn.update_state_machine(stateMachineArn=arn, definition=text)
    return arn


def receive(sqs: Any, url: str, handle: Callable[[str], None], wait_s: int = 0) -> bool:
    """Handle (then delete) the step messages waiting on the queue; True if there were any."""
    answer = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=wait_s,
        VisibilityTimeout=VISIBILITY_S,
    )
    messages = answer.get("Messages") or []
    for message in messages:
        handle(message.get("Body") or "")
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bool(messages)


def work(
    step: Callable[[int], bool],
    stop: threading.Event,
    poll_s: float,
    until: Callable[[], bool] | None = None,
    pulse: Pulse | None = None,
    backoff: Backoff | None = None,
    name: str = "worker",
) -> None:
    """Call ``step(wait_s)`` until stopped (or ``until()`` holds), waiting ``poll_s`` when
    nothing moved; a failed step is logged with its traceback and retried after a backoff."""
    keep_running(lambda: step(RECEIVE_WAIT_S), stop, poll_s, until, pulse, backoff, name)


class Answers:
    """Answers to the task tokens of one Step Functions client. A refused answer (the
    task was answered already, by a duplicate message, or timed out) is only logged."""

    def __init__(self, sfn: Any, clock: Callable[[], float]) -> None:
        self.sfn = sfn
        self.clock = clock
        self._beats: dict[str, float] = {}

    def succeed(self, token: str) -> None:
        self._beats.pop(token, None)
        self._send(self.sfn.send_task_success, taskToken=token, output="{}")

    def fail(self, token: str, error: str, cause: str) -> None:
        self._beats.pop(token, None)
        self._send(
            self.sfn.send_task_failure, taskToken=token, error=error[:256], cause=cause[:32768]
        )

    def heartbeat(self, token: str, every_s: float) -> None:
        """A heartbeat for ``token`` if the last one is ``every_s`` old or more."""
        now = self.clock()
        if now - self._beats.get(token, 0.0) >= every_s:
            self._beats[token] = now
            self._send(self.sfn.send_task_heartbeat, taskToken=token)

    @staticmethod
    def _send(call: Callable[..., Any], **params: Any) -> None:
        try:
            call(**params)
        except ClientError as exc:
            log.info("task answer refused: %s", exc.response.get("Error", {}).get("Code"))


class Interval:
    """Due at most once per ``seconds`` of ``clock``: at the first call, then again once
    ``seconds`` have passed since it was last due."""

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self.seconds = seconds
        self.clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        now = self.clock()
        if self._last is not None and now - self._last < self.seconds:
            return False
        self._last = now
        return True


def ended_execution(sfn: Any, arn: str, subject: str, own_error: str) -> tuple[str, str] | None:
    """(error type, message) of execution ``arn`` if it ended FAILED, TIMED_OUT or ABORTED
    (one DescribeExecution, and its history only then); None while it runs or succeeded."""
    described = sfn.describe_execution(executionArn=arn)
    if described["status"] not in ENDED_TYPES:
        return None
    events = [
        event
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        for event in page["events"]
    ]
    return execution_failure(described, events, subject, own_error)


def execution_failure(
    described: dict[str, Any], events: list[dict[str, Any]], subject: str, own_error: str
) -> tuple[str, str]:
    """(error type, message) of an execution that ended FAILED, TIMED_OUT or ABORTED
    without finishing its ``subject`` (a batch, a model run), from DescribeExecution and
    GetExecutionHistory.

    The cause is the first failure in the history, skipping ``own_error`` (the error of
    the state machine's own Failed state, which only points at a message of ours that
    was never written), else the execution's error.
    """
    status = str(described["status"])
    failures = [
        details
        for event in sorted(events, key=lambda e: int(e.get("id") or 0))
        for key, details in event.items()
        if key.endswith("EventDetails")
        and isinstance(details, dict)
        and details.get("error")
        and details["error"] != own_error
    ]
    first = failures[0] if failures else described
    error, cause = first.get("error"), first.get("cause")
    if error == own_error:
        error, cause = None, None
    reason = f"{error}: {cause}" if error and cause else str(error or cause or "no cause given")
    name = described.get("name") or str(described.get("executionArn", "")).rsplit(":", 1)[-1]
    return (
        ENDED_TYPES.get(status, "ExecutionFailed"),
        f"its Step Functions execution {name} ended {status} without finishing the {subject}: "
        f"{reason[:2000]}",
    )
