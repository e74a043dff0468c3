"""Batch, level and job records in one DynamoDB table (the aws profile's state table).

Every record is an item under the hash key ``BatchId``: a batch's own id, a level's
``<batchId>-<level>`` and a job's ``<batchId>-<level>-<jobName>``. ``ItemType``
tells them apart; ``Status``, ``ParentBatchId`` and ``LabelingJobName`` carry the
global secondary indexes (status-index, parent-index, job-name-index). Beside them
live a batch's history (EVENT items), its queued notifications (NOTIFICATION) and
one NAME item per batch id and job name, lower-cased, which makes names unique
regardless of case and keeps them taken after a batch is deleted.

Writes are conditional: a batch is created with all its levels, jobs and names in
one transaction only if none of them exists, and a status moves only from the
status the caller saw, so a step that runs twice changes nothing the second time.
The steps read what they decide on with strongly consistent reads (the batch item
lists its children's keys), never from an index.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from labellake.errors import ConflictError, LabellakeError
from labellake.workflows.labeling import state
from labellake.workflows.labeling.state import Event, Notice, StateStore, timestamp

BATCH, LEVEL, JOB = "BATCH", "LEVEL", "JOB"
NAME, EVENT, NOTIFICATION = "NAME", "EVENT", "NOTIFICATION"
TRANSACTION_LIMIT = 100  # items in one TransactWriteItems call


def level_id(batch_id: str, level: int) -> str:
    return f"{batch_id}-{level}"


def job_id(batch_id: str, level: int, job_name: str) -> str:
    return f"{batch_id}-{level}-{job_name}"


def name_id(name: str) -> str:
    return f"NAME#{name.lower()}"


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": repr(value)}
    return {"S": str(value)}


def _to_item(record: dict[str, Any]) -> dict[str, Any]:
    """A plain record as a DynamoDB item (strings, numbers and booleans; None is left out)."""
    return {key: _value(value) for key, value in record.items() if value is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for key, value in item.items():
        if "S" in value:
            record[key] = value["S"]
        elif "N" in value:
            number = value["N"]
            record[key] = int(number) if number.lstrip("-").isdigit() else float(number)
        elif "BOOL" in value:
            record[key] = value["BOOL"]
    return record


class DynamoStateTable:
    """The state table's items: conditional writes, consistent reads, index queries."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    # -- writes -----------------------------------------------------------------------------

    def create_batch(
        self,
        batch: dict[str, Any],
        levels: list[dict[str, Any]],
        jobs: list[dict[str, Any]],
        extra: list[dict[str, Any]] | None = None,
    ) -> None:
        """Write a batch with its levels, jobs and ``extra`` items, all or nothing;
        ConflictError when the batch id (or one of the items) exists already."""
        batch_id = str(batch["batch_id"])
        level_keys = [level_id(batch_id, level["level"]) for level in levels]
        job_keys = [job_id(batch_id, job["level"], job["job_name"]) for job in jobs]
        items = [
            {
                **_to_item(_data(batch)),
                **_keys(batch_id, BATCH, batch["status"]),
                "Children": {"S": json.dumps(level_keys + job_keys)},
            },
            *(
                {**_to_item(_data(level)), **_keys(key, LEVEL, level["status"], batch_id)}
                for key, level in zip(level_keys, levels, strict=True)
            ),
            *(
                {
                    **_to_item({**_data(job), "seq": index}),
                    **_keys(key, JOB, job["status"], batch_id, job["job_name"]),
                }
                for index, (key, job) in enumerate(zip(job_keys, jobs, strict=True))
            ),
            *(extra or []),
        ]
        if len(items) > TRANSACTION_LIMIT:
            raise LabellakeError(
                f"batch {batch_id} has {len(items)} records; DynamoDB writes at most "
                f"{TRANSACTION_LIMIT} in one transaction, so split the batch"
            )
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(BatchId)",
                        }
                    }
                    for item in items
                ]
            )
        except ClientError as exc:
            if _code(exc) == "TransactionCanceledException":
                raise ConflictError(
                    f"batch id '{batch_id}' (or one of its jobs) is already recorded; a batch "
                    "id is never reused, choose another"
                ) from exc
            raise

    def update(
        self, key: str, fields: dict[str, Any], expected: tuple[str, ...] | None = None
    ) -> dict[str, Any]:
        """An Update (for update_item or a transaction) of an existing item: ``fields``
        set (None removes; ``status`` is the Status attribute; ``started_at`` keeps a
        value it has), only while its status is one of ``expected``."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets, removes = [], []
        for index, (name, value) in enumerate(fields.items()):
            placeholder = "#st" if name == "status" else f"#a{index}"
            names[placeholder] = "Status" if name == "status" else name
            if value is None:
                removes.append(placeholder)
                continue
            values[f":a{index}"] = _value(value)
            if name == "started_at":
                sets.append(f"{placeholder} = if_not_exists({placeholder}, :a{index})")
            else:
                sets.append(f"{placeholder} = :a{index}")
        expression = (f"SET {', '.join(sets)} " if sets else "") + (
            f"REMOVE {', '.join(removes)}" if removes else ""
        )
        condition = "attribute_exists(BatchId)"
        if expected:
            names["#st"] = "Status"
            for index, status in enumerate(expected):
                values[f":e{index}"] = {"S": status}
            condition += " AND #st IN (" + ", ".join(f":e{i}" for i in range(len(expected))) + ")"
        spec: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"BatchId": {"S": key}},
            "UpdateExpression": expression.strip(),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
        }
        if values:
            spec["ExpressionAttributeValues"] = values
        return spec

    def move(self, key: str, expected: str, status: str, **fields: Any) -> bool:
        """Set ``Status`` (and ``fields``) only if the item's status is ``expected``; False
        when it was not (another worker moved it first, or it was never there)."""
        return self.write([{"Update": self.update(key, {"status": status, **fields}, (expected,))}])

    def write(self, actions: list[dict[str, Any]]) -> bool:
        """One transaction of Update/Put/Delete actions; False when a condition failed."""
        for start in range(0, len(actions), TRANSACTION_LIMIT):
            chunk = actions[start : start + TRANSACTION_LIMIT]
            try:
                if len(chunk) == 1 and "Update" in chunk[0]:
                    self.client.update_item(**chunk[0]["Update"])
                else:
                    self.client.transact_write_items(TransactItems=chunk)
            except ClientError as exc:
                if _code(exc) in (
                    "ConditionalCheckFailedException",
                    "TransactionCanceledException",
                ):
                    return False
                raise
        return True

    def put(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self.table, "Item": item}}

    def delete(self, key: str) -> dict[str, Any]:
        return {"Delete": {"TableName": self.table, "Key": {"BatchId": {"S": key}}}}

    # -- reads --------------------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.table, Key={"BatchId": {"S": key}}, ConsistentRead=True
        ).get("Item")
        return _from_item(item) if item else None

    def get_many(self, keys: list[str]) -> list[dict[str, Any]]:
        """The items of ``keys`` that exist (consistent reads), in no particular order."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            pending: dict[str, Any] = {
                self.table: {
                    "Keys": [{"BatchId": {"S": key}} for key in keys[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            while pending:
                answer = self.client.batch_get_item(RequestItems=pending)
                found += [_from_item(item) for item in answer["Responses"].get(self.table, [])]
                pending = answer.get("UnprocessedKeys") or {}
        return found

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        record = self.get(batch_id)
        return record if record and record.get("ItemType") == BATCH else None

    def children(self, batch_id: str, item_type: str) -> list[dict[str, Any]]:
        """A batch's levels or jobs, in level order (consistent: by the batch's list)."""
        batch = self.batch(batch_id)
        keys = json.loads(batch["Children"]) if batch else []
        records = [r for r in self.get_many(keys) if r.get("ItemType") == item_type]
        return sorted(records, key=lambda r: (int(r.get("level", 0)), int(r.get("seq", 0))))

    def related(self, batch_id: str, item_type: str) -> list[dict[str, Any]]:
        """Items under a batch in the parent index (events, notifications), by key."""
        return list(
            self._query(
                IndexName="parent-index",
                KeyConditionExpression="ParentBatchId = :b",
                FilterExpression="ItemType = :t",
                ExpressionAttributeValues={":b": {"S": batch_id}, ":t": {"S": item_type}},
            )
        )

    def by_status(self, status: str, item_type: str = BATCH) -> list[dict[str, Any]]:
        return list(
            self._query(
                IndexName="status-index",
                KeyConditionExpression="#s = :s",
                FilterExpression="ItemType = :t",
                ExpressionAttributeNames={"#s": "Status"},
                ExpressionAttributeValues={":s": {"S": status}, ":t": {"S": item_type}},
            )
        )

    def of_type(self, item_type: str) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for page in self.client.get_paginator("scan").paginate(
            TableName=self.table,
            FilterExpression="ItemType = :t",
            ExpressionAttributeValues={":t": {"S": item_type}},
        ):
            records += [_from_item(item) for item in page["Items"]]
        return records

    def job_named(self, job_name: str) -> dict[str, Any] | None:
        found = list(
            self._query(
                IndexName="job-name-index",
                KeyConditionExpression="LabelingJobName = :j",
                ExpressionAttributeValues={":j": {"S": job_name}},
            )
        )
        return found[0] if found else None

    def _query(self, **params: Any) -> Iterator[dict[str, Any]]:
        for page in self.client.get_paginator("query").paginate(TableName=self.table, **params):
            for item in page["Items"]:
                yield _from_item(item)


class DynamoStateStore(StateStore):
    """The workflow state store with its batches, levels, jobs, history and queued
    notifications in the DynamoDB state table.

    Portal accounts, the local workforce's task queue and the embedded runner's lease
    stay in the SQLite file at ``path`` (they belong to one portal host).
    """

    def __init__(self, path: Path | str, client: Any, table: str) -> None:
        super().__init__(path)
        self.items = DynamoStateTable(client, table)
        self._check(client, table)
        with self.connect() as con:
            self._columns = {
                name: [row["name"] for row in con.execute(f"PRAGMA table_info({name})")]
                for name in ("batches", "levels", "jobs", "events", "notifications")
            }

    @staticmethod
    def _check(client: Any, table: str) -> None:
        try:
            client.describe_table(TableName=table)
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
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

    # -- rows in the SQLite store's shape -------------------------------------------------------

    def _row(self, table: str, record: dict[str, Any]) -> dict[str, Any]:
        row = {column: record.get(column) for column in self._columns[table]}
        if "status" in row:
            row["status"] = record.get("Status")
        if table in ("events", "notifications"):
            row["id"] = record["BatchId"]
        return row

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
                **_to_item(
                    {
                        "batch_id": event.batch_id,
                        "job_name": event.job_name,
                        "kind": event.kind,
                        "actor": event.actor,
                        "payload": json.dumps(event.payload) if event.payload is not None else None,
                        "created_at": timestamp(),
                    }
                ),
                **_keys(key, EVENT, parent=event.batch_id),
            }
        )

    # -- reads --------------------------------------------------------------------------------

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        record = self._batch_record(batch_id)
        return self._row("batches", record) if record else None

    def batches(self, status: str | None = None) -> list[dict[str, Any]]:
        records = self.items.by_status(status) if status else self.items.of_type(BATCH)
        rows = [self._row("batches", record) for record in records]
        return sorted(rows, key=lambda r: (r["created_at"], r["batch_id"]))

    def levels(self, batch_id: str) -> list[dict[str, Any]]:
        record = self._batch_record(batch_id)
        if record is None:
            return []
        return [self._row("levels", r) for r in self.items.children(record["BatchId"], LEVEL)]

    def jobs(self, batch_id: str, level: int | None = None) -> list[dict[str, Any]]:
        record = self._batch_record(batch_id)
        if record is None:
            return []
        rows = [self._row("jobs", r) for r in self.items.children(record["BatchId"], JOB)]
        return [row for row in rows if level is None or row["level"] == level]

    def job(self, job_name: str) -> dict[str, Any] | None:
        key = self._target(job_name, "job")
        record = self.items.get(key) if key else None
        return self._row("jobs", record) if record else None

    def events(self, batch_id: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        if batch_id is not None:
            record = self._batch_record(batch_id)
            records = self.items.related(record["BatchId"] if record else batch_id, EVENT)
        else:
            records = self.items.of_type(EVENT)
        rows = [self._row("events", r) for r in sorted(records, key=lambda r: r["BatchId"])]
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
        key = level_id(record["BatchId"], level)
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
                for child in self.items.children(record["BatchId"], LEVEL):
                    if child["Status"] != state.COMPLETE:
                        actions.append(self._child(child, {"status": children}))
                for child in self.items.children(record["BatchId"], JOB):
                    if child["Status"] != state.COMPLETE:
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
                actions.append(self.items.put(_notification(record["BatchId"], url, notice)))
            return [*actions, created]

        return self._move_batch(batch_id, expected, {"status": status, **fields}, changes)

    def retry_batch(self, batch_id: str, expected: tuple[str, ...], at: str, event: Event) -> bool:
        def changes(record: dict[str, Any]) -> list[dict[str, Any]]:
            actions = [
                self._child(child, {"status": state.PENDING})
                for child in self.items.children(record["BatchId"], LEVEL)
                if child["Status"] != state.COMPLETE
            ]
            for child in self.items.children(record["BatchId"], JOB):
                if child["Status"] == state.COMPLETE:
                    continue
                started = child.get("backend_job_id") is not None
                actions.append(
                    self._child(
                        child,
                        {
                            "status": state.PENDING,
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
                "status": state.IN_PROGRESS,
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
            if record is None or record["Status"] not in expected:
                return False
            values = fields(record) if callable(fields) else fields
            update = self.items.update(record["BatchId"], values, (record["Status"],))
            if self.items.write([{"Update": update}, *changes(record)]):
                return True
        raise ConflictError(
            f"batch {batch_id} kept changing while it was being moved to {fields}; try again"
        )

    def _child(self, record: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        return {"Update": self.items.update(record["BatchId"], fields, (record["Status"],))}

    def set_down_sampling_rate(self, batch_id: str, rate: float, at: str, event: Event) -> None:
        record = self._batch_record(batch_id)
        if record is None:
            return
        actions = [
            {
                "Update": self.items.update(
                    record["BatchId"], {"down_sampling_rate": rate, "updated_at": at}
                )
            }
        ]
        for job in self.items.children(record["BatchId"], JOB):
            if job["Status"] == state.PENDING and job.get("chain_from"):
                actions.append(self._child(job, {"down_sampling_rate": rate}))
        if not self.items.write([*actions, self._event(event)]):
            raise ConflictError(f"batch {batch_id} changed meanwhile; set the rate again")

    def delete_batch(self, batch_id: str, job_names: list[str], at: str, event: Event) -> None:
        record = self._batch_record(batch_id)
        if record is None:
            return
        key = record["BatchId"]
        below = [
            self.items.delete(r["BatchId"])
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
            r for r in self.items.by_status("PENDING", NOTIFICATION) if r["next_attempt_at"] <= due
        ]
        return [self._row("notifications", r) for r in sorted(records, key=lambda r: r["BatchId"])]

    def claim_notification(self, item: dict[str, Any], until: dt.datetime) -> bool:
        update = self.items.update(
            str(item["id"]), {"next_attempt_at": timestamp(until)}, ("PENDING",)
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
                            "status": "DELIVERED",
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
                            "status": "GAVE_UP" if give_up else "PENDING",
                            "next_attempt_at": timestamp(retry_at),
                        },
                    )
                }
            ]
        )

    def notifications(self, batch_id: str) -> list[dict[str, Any]]:
        record = self._batch_record(batch_id)
        records = self.items.related(record["BatchId"] if record else batch_id, NOTIFICATION)
        rows = [self._row("notifications", r) for r in sorted(records, key=lambda r: r["BatchId"])]
        for row in rows:
            row["payload"] = json.loads(str(row["payload"]))
        return rows

    # -- Step Functions ------------------------------------------------------------------------

    def set_execution(self, batch_id: str, execution_arn: str) -> None:
        record = self._batch_record(batch_id)
        if record is not None:
            self.items.write(
                [{"Update": self.items.update(record["BatchId"], {"execution_arn": execution_arn})}]
            )

    def unstarted_batches(self) -> list[str]:
        return [
            str(r["batch_id"])
            for r in self.items.by_status(state.IN_PROGRESS)
            if not r.get("execution_arn")
        ]

    def set_level_token(
        self, batch_id: str, level: int, token: str | None, only: str | None = None
    ) -> None:
        record = self._batch_record(batch_id)
        if record is None:
            return
        update = self.items.update(level_id(record["BatchId"], level), {"task_token": token})
        if only is not None:
            update["ConditionExpression"] += " AND #token = :only"
            update["ExpressionAttributeNames"]["#token"] = "task_token"
            update.setdefault("ExpressionAttributeValues", {})[":only"] = {"S": only}
        self.items.write([{"Update": update}])

    def waiting_levels(self) -> list[dict[str, Any]]:
        waiting = []
        for batch in self.items.by_status(state.IN_PROGRESS):
            for level in self.items.children(batch["BatchId"], LEVEL):
                if level.get("task_token"):
                    waiting.append(
                        {
                            "batch_id": batch["batch_id"],
                            "level": level["level"],
                            "task_token": level["task_token"],
                        }
                    )
        return waiting


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _data(record: dict[str, Any]) -> dict[str, Any]:
    """A record's attributes but its status (the item's Status carries that)."""
    return {key: value for key, value in record.items() if key != "status"}


def _claim(name: str, kind: str, target: str) -> dict[str, Any]:
    return {
        **_to_item({"name": name, "kind": kind, "target": target}),
        **_keys(name_id(name), NAME),
    }


def _notification(batch_id: str, url: str, notice: Notice) -> dict[str, Any]:
    key = f"NOTIFY#{time.time_ns():020d}#{uuid.uuid4().hex[:8]}"
    return {
        **_to_item(
            {
                "event_id": None,
                "batch_id": batch_id,
                "url": url,
                "payload": json.dumps(notice.message),
                "attempts": 0,
                "next_attempt_at": timestamp(),
            }
        ),
        **_keys(key, NOTIFICATION, "PENDING", batch_id),
    }


def _keys(
    key: str,
    item_type: str,
    status: str | None = None,
    parent: str | None = None,
    job_name: str | None = None,
) -> dict[str, Any]:
    """The key and index attributes of an item (an index leaves out items without its key)."""
    return _to_item(
        {
            "BatchId": key,
            "ItemType": item_type,
            "Status": status,
            "ParentBatchId": parent,
            "LabelingJobName": job_name,
        }
    )
