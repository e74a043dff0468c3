"""Worker metrics: worker-response files and worker activity events -> lake tables."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from labellake.etl.labeling import Problem, json_lines, number
from labellake.lake import get_table

_ACTIVITY_FORMATS = ("%a %b %d %H:%M:%S %Z %Y", "%a %b %d %H:%M:%S %Y")


def parse_time(value: Any) -> dt.datetime | None:
    """A timestamp in any form the worker logs use; None when empty or unreadable.

    >>> parse_time("Fri Nov 20 09:41:12 UTC 2026").isoformat()
    '2026-11-20T09:41:12+00:00'
    >>> parse_time("1795686835").isoformat()
    '2026-11-26T09:53:55+00:00'
    """
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    text = str(value).strip()
    for fmt in _ACTIVITY_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            pass
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def response_rows(
    document: Any,
    *,
    uri: str,
    job_name: str,
    batch_id: str | None,
    data_object_id: str | None,
    source_ref: str | None,
) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Rows of one worker-response file; a file with no answers is a Problem."""
    answers = document.get("answers") if isinstance(document, dict) else None
    if not answers or not isinstance(answers, list):
        return [], [Problem(uri, None, "worker-response file has no answers")]
    rows = []
    for answer in answers:
        if not isinstance(answer, dict) or not answer.get("workerId"):
            continue
        identity = (answer.get("workerMetadata") or {}).get("identityData") or {}
        accepted = parse_time(answer.get("acceptanceTime"))
        submitted = parse_time(answer.get("submissionTime"))
        spent = number(answer.get("timeSpentInSeconds"))
        if spent is None and accepted and submitted:
            spent = (submitted - accepted).total_seconds()
        rows.append(
            {
                "batch_id": batch_id,
                "job_name": job_name,
                "source_ref": source_ref,
                "data_object_id": data_object_id,
                "worker_id": str(answer["workerId"]),
                "sub": identity.get("sub"),
                "acceptance_time": accepted,
                "submission_time": submitted,
                "time_spent_s": spent,
                "response_uri": uri,
            }
        )
    return rows, []


def responses_table(rows: Iterable[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=get_table("worker_responses").schema)


def job_of_arn(arn: str | None) -> str | None:
    """arn:aws:sagemaker:...:labeling-job/drive-0042-vehicle -> drive-0042-vehicle."""
    return arn.rsplit("/", 1)[-1] if arn and "labeling-job/" in arn else None


def events_table(
    text: str, source: str, job_name: str | None = None
) -> tuple[pa.Table, list[Problem]]:
    """Worker activity events (JSON lines, or CloudWatch export records with a `message`)."""
    rows = []
    events, problems = json_lines(text, source)
    for line_no, event in events:
        if isinstance(event, dict) and isinstance(event.get("message"), str):
            try:  # a CloudWatch Logs export wraps each event in {"timestamp", "message"}
                event = json.loads(event["message"])
            except json.JSONDecodeError:
                problems.append(Problem(source, line_no, "message is not a JSON event"))
                continue
        if not isinstance(event, dict) or not event.get("worker_id"):
            problems.append(Problem(source, line_no, "not a worker activity event (no worker_id)"))
            continue
        job = job_of_arn(event.get("labeling_job_arn")) or job_name
        if job is None:
            problems.append(Problem(source, line_no, "no labeling_job_arn"))
            continue
        times = {
            key: parse_time(event.get(key))
            for key in (
                "task_accepted_time",
                "task_submitted_time",
                "task_returned_time",
                "task_declined_time",
            )
        }
        event_time = parse_time(event.get("event_timestamp")) or next(
            (
                t
                for t in (
                    times["task_submitted_time"],
                    times["task_returned_time"],
                    times["task_declined_time"],
                    times["task_accepted_time"],
                )
                if t
            ),
            None,
        )
        rows.append(
            {
                "job_name": job,
                "worker_id": str(event["worker_id"]),
                "cognito_user_pool_id": event.get("cognito_user_pool_id"),
                "cognito_sub_id": event.get("cognito_sub_id"),
                "workteam_arn": event.get("workteam_arn"),
                "labeling_job_arn": event.get("labeling_job_arn"),
                "work_requester_account_id": _text(event.get("work_requester_account_id")),
                "job_reference_code": event.get("job_reference_code"),
                "job_type": event.get("job_type"),
                "event_type": event.get("event_type"),
                "event_time": event_time,
                **times,
            }
        )
    return pa.Table.from_pylist(rows, schema=get_table("worker_events").schema), problems


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
