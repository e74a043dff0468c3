from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from labellake.aws_clients import AwsTarget
from labellake.workflows.labeling import notify
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.labeling.runner import Runner
from tests.workflows.conftest import FakeClock


class Webhook:
    """A real HTTP server on 127.0.0.1 that records what it receives."""

    def __init__(self, status: int = 200) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = status
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append(json.loads(body))
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/hook"


def test_completion_message_is_posted_to_the_webhook(
    make_engine: Callable[..., Engine],
    request_for: Callable[..., dict[str, Any]],
    webhook: Webhook,
) -> None:
    engine = make_engine(webhook_url=webhook.url)
    engine.run_to_end(engine.submit(request_for("b1")), poll_s=0)
    assert notify.deliver_due(engine.state) == 1
    assert notify.deliver_due(engine.state) == 0  # delivered once only
    (message,) = webhook.received
    assert set(message) == {"batchId", "message", "batchInfo", "token", "status"}
    assert message["status"] == "SUCCESS" and message["batchId"] == "b1"
    assert notify.notifications(engine.state, "b1")[0]["status"] == "DELIVERED"


def test_a_dead_webhook_never_blocks_a_batch_and_is_retried_with_backoff(
    make_engine: Callable[..., Engine],
    request_for: Callable[..., dict[str, Any]],
) -> None:
    engine = make_engine(webhook_url=closed_port_url())
    engine.submit(request_for("b1"))
    Runner(engine, poll_s=0.01).run(
        threading.Event(), until=lambda: engine.state.batch("b1")["status"] == "COMPLETE"
    )
    assert engine.state.batch("b1")["status"] == "COMPLETE"
    clock = FakeClock()
    clock.now = notify.now()
    waits = []
    for _ in range(notify.MAX_ATTEMPTS + 2):
        notify.deliver_due(engine.state, timeout_s=0.5, clock=clock)
        (item,) = notify.notifications(engine.state, "b1")
        waits.append(item["attempts"])
        clock.advance(notify.MAX_BACKOFF_S)
    (item,) = notify.notifications(engine.state, "b1")
    assert item["status"] == "GAVE_UP" and item["attempts"] == notify.MAX_ATTEMPTS
    assert "Connection refused" in item["last_error"] or "refused" in item["last_error"].lower()
    assert [notify.backoff_s(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    # The message itself is kept as an event.
    assert engine.state.events("b1", kind="BatchCompleted")


def test_not_due_yet_is_not_retried(
    make_engine: Callable[..., Engine],
    request_for: Callable[..., dict[str, Any]],
) -> None:
    engine = make_engine(webhook_url=closed_port_url())
    engine.run_to_end(engine.submit(request_for("b1")), poll_s=0)
    clock = FakeClock()
    clock.now = notify.now()
    notify.deliver_due(engine.state, timeout_s=0.5, clock=clock)
    notify.deliver_due(engine.state, timeout_s=0.5, clock=clock)
    assert notify.notifications(engine.state, "b1")[0]["attempts"] == 1


def test_failure_message_goes_out_too(
    make_engine: Callable[..., Engine],
    request_for: Callable[..., dict[str, Any]],
    webhook: Webhook,
    objects,  # type: ignore[no-untyped-def]
) -> None:
    engine = make_engine(webhook_url=webhook.url)
    batch_id = engine.submit(request_for("b1"))
    objects.delete("samples/test/clip-01_seq.json")
    engine.run_to_end(batch_id, poll_s=0)
    notify.deliver_due(engine.state)
    (message,) = webhook.received
    assert message["status"] == "FAILED" and message["errorType"] == "LabelingJobFailed"


def test_notifications_go_to_the_batch_topic_or_the_default_one(
    make_engine: Callable[..., Engine],
    request_for: Callable[..., dict[str, Any]],
    moto_endpoint: str,
) -> None:
    import boto3

    sns = boto3.client("sns", endpoint_url=moto_endpoint, region_name="eu-west-1")
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="eu-west-1")
    inboxes = {}
    for name in ("labellake-notifications", "team-alerts"):
        topic = sns.create_topic(Name=name)["TopicArn"]
        queue = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        inboxes[name] = (topic, queue)
    engine = make_engine(
        topic_arn=inboxes["labellake-notifications"][0],
        aws=AwsTarget("eu-west-1", moto_endpoint),
    )
    engine.submit(request_for("default-topic"))
    engine.submit({**request_for("own-topic"), "destinationSnsArn": inboxes["team-alerts"][0]})
    for batch in ("default-topic", "own-topic"):
        assert engine.run_to_end(batch, poll_s=0) == "COMPLETE"
    delivered = notify.deliver_due(
        engine.state,
        send=lambda url, payload, timeout: notify.send_notification(
            url, payload, timeout, engine.config.aws
        ),
    )
    assert delivered == 2

    def received(name: str) -> list[dict[str, Any]]:
        answer = sqs.receive_message(QueueUrl=inboxes[name][1], MaxNumberOfMessages=10)
        return [json.loads(json.loads(m["Body"])["Message"]) for m in answer.get("Messages", [])]

    assert [m["batchId"] for m in received("labellake-notifications")] == ["default-topic"]
    [own] = received("team-alerts")
    assert own["batchId"] == "own-topic" and own["status"] == "SUCCESS"


def test_a_missing_topic_is_retried_and_named(
    make_engine: Callable[..., Engine],
    request_for: Callable[..., dict[str, Any]],
    moto_endpoint: str,
) -> None:
    engine = make_engine(
        topic_arn="arn:aws:sns:us-east-1:123456789012:nobody-made-this",
        aws=AwsTarget("us-east-1", moto_endpoint),
    )
    engine.submit(request_for("lost"))
    assert engine.run_to_end("lost", poll_s=0) == "COMPLETE"
    assert (
        notify.deliver_due(
            engine.state,
            send=lambda url, payload, t: notify.send_notification(
                url, payload, t, engine.config.aws
            ),
        )
        == 0
    )
    [row] = notify.notifications(engine.state, "lost")
    assert row["status"] == "PENDING" and row["attempts"] == 1
    assert "nobody-made-this" in str(row["last_error"])


def test_two_deliverers_send_a_message_once(
    make_engine: Callable[..., Engine],
    request_for: Callable[..., dict[str, Any]],
) -> None:
    engine = make_engine(webhook_url="http://127.0.0.1:9/hook")
    engine.run_to_end(engine.submit(request_for("b1")), poll_s=0)
    sent: list[str] = []
    gate = threading.Barrier(2)

    def send(url: str, payload: str, timeout: float) -> None:
        sent.append(url)

    def deliver() -> None:
        gate.wait()
        notify.deliver_due(engine.state, send=send)

    workers = [threading.Thread(target=deliver) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sent == ["http://127.0.0.1:9/hook"]
    [item] = notify.notifications(engine.state, "b1")
    assert item["status"] == "DELIVERED" and item["attempts"] == 1


@pytest.mark.parametrize("store_kind", ["sqlite", "dynamodb"])
def test_a_claimed_notification_is_not_taken_again(
    make_engine: Callable[..., Engine],
    request_for: Callable[..., dict[str, Any]],
    store_kind: str,
) -> None:
    # Checked request by request: moto does not serialise concurrent conditional writes.
    engine = make_engine(webhook_url="http://127.0.0.1:9/hook")
    engine.run_to_end(engine.submit(request_for("b1")), poll_s=0)
    [seen] = engine.state.due_notifications(notify.now())
    later = notify.now() + dt.timedelta(minutes=2)
    assert engine.state.claim_notification(seen, later)
    assert not engine.state.claim_notification(seen, later)  # a second deliverer's stale copy
    assert engine.state.due_notifications(notify.now()) == []
    assert [n["id"] for n in engine.state.due_notifications(later)] == [seen["id"]]
