"""The batch store in the DynamoDB state table (the aws profile): batches, levels, jobs,
their history and queued notifications as items of the table (see dynamo_table.py for
the items and their keys).

The rule: writes are conditional. A batch is created with all its levels, jobs and
names in one transaction only if none of them exists, and a status moves only from the
status the caller saw, so a step that runs twice changes nothing the second time. The
steps read what they decide on with strongly consistent reads (the batch item lists its
children's keys), never from an index. Rows come back in the shapes of store.py.

What stays on the portal host, in the SQLite state db ``db`` that this store holds (it
inherits nothing from the SQLite batch store): the leases, and the subsystems that open
the db through it (accounts, the local workforce and its task queue).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from labellake.aws_clients import error_code
from labellake.errors import ConflictError, LabellakeError
from labellake.workflows.labeling.dynamo_table import (
    BATCH,
    EVENT,
    JOB,
    LEVEL,
    NAME,
    NOTIFICATION,
    STATUS,
    DynamoStateTable,
    item_keys,
    job_id,
    key_of,
    level_id,
    name_id,
    to_item,
)
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
    Event,
    Notice,
    timestamp,
)
from labellake.workflows.statedb import StateDb


class DynamoBatchStore:
    """The batch store (a BatchStore) in the DynamoDB state table ``table``; this host's
    records (leases, accounts, the local workforce) in the SQLite state db at ``path``."""

    def __init__(self, path: Path | str, client: Any, table: str) -> None:
        self.db = StateDb(path)
        self.path = self.db.path
        self.items = DynamoStateTable(client, table)
        self._check(client, table)

    @staticmethod
    def _check(client: Any, table: str) -> None:
        try:
            client.describe_table(TableName=table)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise LabellakeError(
                    f"DynamoDB state table {table} does not exist; create the aws profile's "
                    "resources with `labellake --profile aws aws bootstrap` (or `aws deploy`), "
                    "or set aws_state_table"
                ) from exc
            raise LabellakeError(f"DynamoDB state table {table}: {exc}") from exc
        except NoCredentialsError as exc:
            raise LabellakeError(
                f"no AWS credentials to reach the DynamoDB state table {table}; set "
                "AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            ) from exc
        except BotoCoreError as exc:
            raise LabellakeError(f"cannot reach the DynamoDB state table {table}: {exc}") from exc

    # -- the state db's leases ----------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        return self.db.acquire_lease(name, owner, ttl_s)

    def release_lease(self, name: str, owner: str) -> None:
        self.db.release_lease(name, owner)

    def lease_holder(self, name: str) -> str | None:
        return self.db.lease_holder(name)

    # -- records by name ----------------------------------------------------------------------

    def _target(self, name: str, kind: str) -> str | None:
        """The key of the batch or job called ``name`` (any case), from its NAME item."""
        claim = self.items.get(name_id(name))
        if not claim or claim.get("kind") != kind or claim.get("retired_at"):
            return None
        return str(claim["target"])

    def _batch_record(self, batch_id: str) -> dict[str, Any] | None:
        record = self.items.batch(batch_id)
        if record is None:
            key = self._target(batch_id, "batch")
            record = self.items.batch(key) if key else None
        return record

    def _event(self, event: Event) -> dict[str, Any]:
        key = f"EVENT#{time.time_ns():020d}#{uuid.uuid4().hex[:8]}"
        return self.items.put(
            {
                **to_item(
                    {
                        "batch_id": event.batch_id,
                        "job_name": event.job_name,
                        "kind": event.kind,
                        "actor": event.actor,
                        "payload": json.dumps(event.payload) if event.payload is not None else None,
                        "created_at": timestamp(),
                    }
                ),
                **item_keys(key, EVENT, parent=event.batch_id),
            }
        )

    # -- reads --------------------------------------------------------------------------------

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        record = self._batch_record(batch_id)
        return _row(BATCH_ROW, record) if record else None

    def batches(self, status: str | None = None) -> list[dict[str, Any]]:
        records = self.items.by_status(status) if status else self.items.of_type(BATCH)
        rows = [_row(BATCH_ROW, record) for record in records]
        return sorted(rows, key=lambda r: (r["created_at"], r["batch_id"]))

    def levels(self, batch_id: str) -> list[dict[str, Any]]:
        record = self._batch_record(batch_id)
        if record is None:
            return []
        return [_row(LEVEL_ROW, r) for r in self.items.children(key_of(record), LEVEL)]

    def jobs(self, batch_id: str, level: int | None = None) -> list[dict[str, Any]]:
        record = self._batch_record(batch_id)
        if record is None:
            return []
        rows = [_row(JOB_ROW, r) for r in self.items.children(key_of(record), JOB)]
        return [row for row in rows if level is None or row["level"] == level]

    def job(self, job_name: str) -> dict[str, Any] | None:
        key = self._target(job_name, "job")
        record = self.items.get(key) if key else None
        return _row(JOB_ROW, record) if record else None

    def events(self, batch_id: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        if batch_id is not None:
            record = self._batch_record(batch_id)
            records = self.items.related(key_of(record) if record else batch_id, EVENT)
        else:
            records = self.items.of_type(EVENT)
        rows = [_row(EVENT_ROW, r) for r in sorted(records, key=key_of)]
        for row in rows:
            row["payload"] = json.loads(row["payload"]) if row["payload"] else None
        return [row for row in rows if kind is None or row["kind"] == kind]

    def names_taken(self, names: list[str]) -> list[str]:
        claims = self.items.get_many(sorted({name_id(name) for name in names}))
        return [str(claim["name"]) for claim in claims]

    def task_count(self, batch_id: str) -> int:
        return sum(int(job["object_count"] or 0) for job in self.jobs(batch_id))

    # -- batch records ------------------------------------------------------------------------

    def create_batch(
        self,
        batch: dict[str, Any],
        levels: list[dict[str, Any]],
        jobs: list[dict[str, Any]],
        event: Event,
    ) -> None:
        batch_id = str(batch["batch_id"])
        claims = [_claim(batch_id, "batch", batch_id)] + [
            _claim(job["job_name"], "job", job_id(batch_id, job["level"], job["job_name"]))
            for job in jobs
        ]
        self.items.create_batch(batch, levels, jobs, claims + [self._event(event)["Put"]["Item"]])

    def move_level(
        self, batch_id: str, level: int, expected: str, status: str, event: Event, **fields: Any
    ) -> bool:
        record = self._batch_record(batch_id)
        if record is None:
            return False
        key = level_id(key_of(record), level)
        update = self.items.update(key, {"status": status, **fields}, (expected,))
        return self.items.write([{"Update": update}, self._event(event)])

    def move_job(
        self,
        job_name: str,
        expected: str,
        status: str,
        event: Event,
        tasks: list[str] | None = None,
        **fields: Any,
    ) -> bool:
        key = self._target(job_name, "job")
        if key is None:
            return False
        update = self.items.update(key, {"status": status, **fields}, (expected,))
        return self.items.write([{"Update": update}, self._event(event)])

    def move_batch(
        self,
        batch_id: str,
        expected: tuple[str, ...],
        status: str,
        event: Event,
        *,
        children: str | None = None,
        child_message: str | None = None,
        notice: Notice | None = None,
        **fields: Any,
    ) -> bool:
        def changes(record: dict[str, Any]) -> list[dict[str, Any]]:
            actions = []
            if children is not None:
                for child in self.items.children(key_of(record), LEVEL):
                    if child[STATUS] != LevelStatus.COMPLETE:
                        actions.append(self._child(child, {"status": children}))
                for child in self.items.children(key_of(record), JOB):
                    if child[STATUS] != LabelingJobStatus.COMPLETE:
                        actions.append(
                            self._child(
                                child,
                                {
                                    "status": children,
                                    "message": child.get("message") or child_message,
                                    "updated_at": fields.get("updated_at"),
                                },
                            )
                        )
            created = self._event(event)
            for url in notice.urls if notice else []:
                actions.append(self.items.put(_notification(key_of(record), url, notice)))
            return [*actions, created]

        return self._move_batch(batch_id, expected, {"status": status, **fields}, changes)

    def retry_batch(self, batch_id: str, expected: tuple[str, ...], at: str, event: Event) -> bool:
        def changes(record: dict[str, Any]) -> list[dict[str, Any]]:
            actions = [
                self._child(child, {"status": LevelStatus.PENDING})
                for child in self.items.children(key_of(record), LEVEL)
                if child[STATUS] != LevelStatus.COMPLETE
            ]
            for child in self.items.children(key_of(record), JOB):
                if child[STATUS] == LabelingJobStatus.COMPLETE:
                    continue
                started = child.get("backend_job_id") is not None
                actions.append(
                    self._child(
                        child,
                        {
                            "status": LabelingJobStatus.PENDING,
                            "message": None,
                            "updated_at": at,
                            "attempt": int(child.get("attempt", 1)) + (1 if started else 0),
                            "backend_job_id": None,
                            "output_manifest_uri": None,
                            "started_at": None,
                        },
                    )
                )
            return [*actions, self._event(event)]

        def fields(record: dict[str, Any]) -> dict[str, Any]:
            return {
                "status": BatchStatus.IN_PROGRESS,
                "message": None,
                "error_type": None,
                "completed_at": None,
                "attempt": int(record.get("attempt", 1)) + 1,
                "updated_at": at,
            }

        return self._move_batch(batch_id, expected, fields, changes)

    def _move_batch(
        self,
        batch_id: str,
        expected: tuple[str, ...],
        fields: dict[str, Any] | Any,
        changes: Any,
    ) -> bool:
        """Move the batch item and apply ``changes(record)`` in one transaction; a child
        that moved meanwhile makes it read and try again."""
        for _ in range(5):
            record = self._batch_record(batch_id)
            if record is None or record[STATUS] not in expected:
                return False
            values = fields(record) if callable(fields) else fields
            update = self.items.update(key_of(record), values, (record[STATUS],))
            if self.items.write([{"Update": update}, *changes(record)]):
                return True
        raise ConflictError(
            f"batch {batch_id} kept changing while it was being moved to {fields}; try again"
        )

    def _child(self, record: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        return {"Update": self.items.update(key_of(record), fields, (record[STATUS],))}

    def set_down_sampling_rate(self, batch_id: str, rate: float, at: str, event: Event) -> None:
        record = self._batch_record(batch_id)
        if record is None:
            return
        actions = [
            {
                "Update": self.items.update(
                    key_of(record), {"down_sampling_rate": rate, "updated_at": at}
                )
            }
        ]
        for job in self.items.children(key_of(record), JOB):
            if job[STATUS] == LabelingJobStatus.PENDING and job.get("chain_from"):
                actions.append(self._child(job, {"down_sampling_rate": rate}))
        if not self.items.write([*actions, self._event(event)]):
            raise ConflictError(f"batch {batch_id} changed meanwhile; set the rate again")

    def delete_batch(self, batch_id: str, job_names: list[str], at: str, event: Event) -> None:
        record = self._batch_record(batch_id)
        if record is None:
            return
        key = key_of(record)
        below = [
            self.items.delete(key_of(r))
            for r in self.items.children(key, LEVEL)
            + self.items.children(key, JOB)
            + self.items.related(key, NOTIFICATION)
        ]
        # Everything below first (in as many transactions as it takes), then the batch
        # with its names retired: a delete cut short is finished by running it again.
        self.items.write(below)
        retired = [
            {"Update": self.items.update(name_id(name), {"retired_at": at})}
            for name in [key, *job_names]
        ]
        self.items.write([self.items.delete(key), *retired, self._event(event)])

    # -- notifications -----------------------------------------------------------------------

    def due_notifications(self, moment: dt.datetime) -> list[dict[str, Any]]:
        due = timestamp(moment)
        records = [
            r
            for r in self.items.by_status(NotificationStatus.PENDING, NOTIFICATION)
            if r["next_attempt_at"] <= due
        ]
        return [_row(NOTIFICATION_ROW, r) for r in sorted(records, key=key_of)]

    def claim_notification(self, item: dict[str, Any], until: dt.datetime) -> bool:
        update = self.items.update(
            str(item["id"]), {"next_attempt_at": timestamp(until)}, (NotificationStatus.PENDING,)
        )
        update["ConditionExpression"] += " AND #seen = :seen"
        update["ExpressionAttributeNames"]["#seen"] = "next_attempt_at"
        update["ExpressionAttributeValues"][":seen"] = {"S": item["next_attempt_at"]}
        return self.items.write([{"Update": update}])

    def notification_delivered(self, item_id: Any, attempts: int, moment: dt.datetime) -> None:
        self.items.write(
            [
                {
                    "Update": self.items.update(
                        str(item_id),
                        {
                            "attempts": attempts,
                            "status": NotificationStatus.DELIVERED,
                            "delivered_at": timestamp(moment),
                            "last_error": None,
                        },
                    )
                }
            ]
        )

    def notification_failed(
        self, item_id: Any, attempts: int, error: str, retry_at: dt.datetime, give_up: bool
    ) -> None:
        self.items.write(
            [
                {
                    "Update": self.items.update(
                        str(item_id),
                        {
                            "attempts": attempts,
                            "last_error": error[:500],
                            "status": (
                                NotificationStatus.GAVE_UP
                                if give_up
                                else NotificationStatus.PENDING
                            ),
                            "next_attempt_at": timestamp(retry_at),
                        },
                    )
                }
            ]
        )

    def notifications(self, batch_id: str) -> list[dict[str, Any]]:
        record = self._batch_record(batch_id)
        records = self.items.related(key_of(record) if record else batch_id, NOTIFICATION)
        rows = [_row(NOTIFICATION_ROW, r) for r in sorted(records, key=key_of)]
        for row in rows:
            row["payload"] = json.loads(str(row["payload"]))
        return rows

    # -- Step Functions ------------------------------------------------------------------------

    def set_execution(self, batch_id: str, execution_arn: str) -> None:
        record = self._batch_record(batch_id)
        if record is not None:
            self.items.write(
                [{"Update": self.items.update(key_of(record), {"execution_arn": execution_arn})}]
            )

    def unstarted_batches(self) -> list[str]:
        return [
            str(r["batch_id"])
            for r in self.items.by_status(BatchStatus.IN_PROGRESS)
            if not r.get("execution_arn")
        ]

    def set_level_token(
        self, batch_id: str, level: int, token: str | None, only: str | None = None
    ) -> None:
        record = self._batch_record(batch_id)
        if record is None:
            return
        update = self.items.update(level_id(key_of(record), level), {"task_token": token})
        if only is not None:
            update["ConditionExpression"] += " AND #token = :only"
            update["ExpressionAttributeNames"]["#token"] = "task_token"
            update.setdefault("ExpressionAttributeValues", {})[":only"] = {"S": only}
        self.items.write([{"Update": update}])

    def waiting_levels(self) -> list[dict[str, Any]]:
        waiting = []
        for batch in self.items.by_status(BatchStatus.IN_PROGRESS):
            for level in self.items.children(key_of(batch), LEVEL):
                if level.get("task_token"):
                    waiting.append(
                        {
                            "batch_id": batch["batch_id"],
                            "level": level["level"],
                            "task_token": level["task_token"],
                        }
                    )
        return waiting


def _row(shape: tuple[str, ...], record: dict[str, Any]) -> dict[str, Any]:
    """An item as a row of ``shape``: its status from the Status attribute, the id of an
    event or a notification from its key."""
    row = {column: record.get(column) for column in shape}
    if "status" in row:
        row["status"] = record.get(STATUS)
    if "id" in row:
        row["id"] = key_of(record)
    return row


def _claim(name: str, kind: str, target: str) -> dict[str, Any]:
    return {
        **to_item({"name": name, "kind": kind, "target": target}),
        **item_keys(name_id(name), NAME),
    }


def _notification(batch_id: str, url: str, notice: Notice) -> dict[str, Any]:
    key = f"NOTIFY#{time.time_ns():020d}#{uuid.uuid4().hex[:8]}"
    return {
        **to_item(
            {
                "event_id": None,
                "batch_id": batch_id,
                "url": url,
                "payload": json.dumps(notice.message),
                "attempts": 0,
                "next_attempt_at": timestamp(),
            }
        ),
        **item_keys(key, NOTIFICATION, NotificationStatus.PENDING, batch_id),
    }
