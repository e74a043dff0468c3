"""Delivery of batch notifications to a webhook and to SNS, with retries and backoff.

The engine stores every completion or failure message as an event and queues
it in `notifications`, once per destination (the webhook, and the batch's
destinationSnsArn or the default topic), in the same transaction that changes
the batch's status. Delivery runs apart from the batch steps, so
a dead webhook never blocks a batch: each failed POST waits twice as long as
the one before, and after MAX_ATTEMPTS the message is given up on (it stays
in the events).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

from labellake.aws_clients import AwsTarget
from labellake.workflows.labeling.store import BatchStore, now

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_BACKOFF_S = 2.0
MAX_BACKOFF_S = 600.0
CLAIM_S = 120.0  # a claimed message is sent again only if its deliverer died this long ago


def post_json(url: str, payload: str, timeout_s: float) -> None:
    """POST ``payload``; raises OSError (urllib's errors included) unless the answer is 2xx."""
    request = urllib.request.Request(
        url,
        data=payload.encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "labellake-notifier"},
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
        if not 200 <= response.status < 300:
            raise OSError(f"HTTP {response.status}")


def publish_sns(
    topic_arn: str, payload: str, timeout_s: float, endpoint_url: str | None = None
) -> None:
    """Publish ``payload`` to an SNS topic (its region is the ARN's); OSError on failure."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    region = topic_arn.split(":")[3]
    client = boto3.client(
        "sns",
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(connect_timeout=timeout_s, read_timeout=timeout_s),
    )
    status = json.loads(payload).get("status", "")
    try:
        client.publish(
            TopicArn=topic_arn,
            Message=payload,
            Subject=f"labellake batch {json.loads(payload).get('batchId', '')} {status}"[:100],
        )
    except (ClientError, BotoCoreError) as exc:
        raise OSError(f"SNS publish to {topic_arn} failed: {exc}") from exc


def send_notification(
    url: str, payload: str, timeout_s: float, aws: AwsTarget | None = None
) -> None:
    """Deliver to an SNS topic (arn:aws:sns:..., through ``aws``'s endpoint) or POST to a
    webhook URL."""
    if url.startswith("arn:aws:sns:"):
        publish_sns(url, payload, timeout_s, aws.endpoint_url if aws else None)
    else:
        post_json(url, payload, timeout_s)


def backoff_s(attempts: int) -> float:
    return min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** max(0, attempts - 1))


def deliver_due(
    state: BatchStore,
    timeout_s: float = 5.0,
    send: Callable[[str, str, float], None] = send_notification,
    clock: Callable[[], dt.datetime] = now,
) -> int:
    """Try every notification that is due; returns how many were delivered."""
    delivered = 0
    for item in state.due_notifications(clock()):
        # Claimed for a while longer than a send may take; another deliverer skips it.
        if not state.claim_notification(item, clock() + dt.timedelta(seconds=CLAIM_S)):
            continue
        attempts = item["attempts"] + 1
        try:
            send(item["url"], item["payload"], timeout_s)
        except (OSError, urllib.error.URLError, ValueError) as exc:
            retry_at = clock() + dt.timedelta(seconds=backoff_s(attempts))
            state.notification_failed(
                item["id"], attempts, str(exc), retry_at, give_up=attempts >= MAX_ATTEMPTS
            )
            log.warning(
                "notification %s for batch %s to %s failed (attempt %s): %s",
                item["id"],
                item["batch_id"],
                item["url"],
                attempts,
                exc,
            )
            continue
        state.notification_delivered(item["id"], attempts, clock())
        delivered += 1
    return delivered


def notifications(state: BatchStore, batch_id: str) -> list[dict[str, object]]:
    return state.notifications(batch_id)


@contextlib.contextmanager
def delivering(state: BatchStore, aws: AwsTarget | None, poll_s: float) -> Iterator[None]:
    """Deliver due notifications from a thread of their own while the block runs (a slow
    webhook never holds up a batch), and once more as it ends, for a message queued last."""

    def deliver_once() -> None:
        try:
            deliver_due(
                state,
                send=lambda url, payload, timeout: send_notification(url, payload, timeout, aws),
            )
        except Exception:  # noqa: BLE001 - delivery must never take the runner down
            log.exception("notification delivery failed")

    def loop() -> None:
        while not done.is_set():
            deliver_once()
            done.wait(poll_s)
        deliver_once()

    done = threading.Event()
    thread = threading.Thread(target=loop, daemon=True, name="labellake-notifier")
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=10)
