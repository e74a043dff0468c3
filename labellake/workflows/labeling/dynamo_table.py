"""The DynamoDB state table's items: conditional writes, consistent reads, index queries.

Every record is an item under the hash key ``BatchId``: a batch's own id, a level's
``<batchId>-<level>`` and a job's ``<batchId>-<level>-<jobName>``. ``ItemType``
tells them apart; ``Status``, ``ParentBatchId`` and ``LabelingJobName`` carry the
global secondary indexes declared in workflows/aws/tables.py. Beside them live a
batch's history (EVENT items), its queued notifications (NOTIFICATION) and one NAME
item per batch id and job name, lower-cased, which makes names unique regardless of
case and keeps them taken after a batch is deleted.

The rule: this module knows DynamoDB's wire format and the table's keys, nothing of
what a batch means; ``DynamoBatchStore`` (dynamo_store.py) builds on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from labellake.aws_clients import error_code
from labellake.errors import ConflictError, LabellakeError
from labellake.workflows.aws.tables import (
    JOB_NAME_INDEX,
    PARENT_INDEX,
    STATE_TABLE_INDEXES,
    STATE_TABLE_KEY,
    STATUS_INDEX,
)

BATCH, LEVEL, JOB = "BATCH", "LEVEL", "JOB"
NAME, EVENT, NOTIFICATION = "NAME", "EVENT", "NOTIFICATION"
TRANSACTION_LIMIT = 100  # items in one TransactWriteItems call
STATUS = STATE_TABLE_INDEXES[STATUS_INDEX]  # the attribute of an item's status


def level_id(batch_id: str, level: int) -> str:
    return f"{batch_id}-{level}"


def job_id(batch_id: str, level: int, job_name: str) -> str:
    return f"{batch_id}-{level}-{job_name}"


def name_id(name: str) -> str:
    return f"NAME#{name.lower()}"


def attribute_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": repr(value)}
    return {"S": str(value)}


def to_item(record: dict[str, Any]) -> dict[str, Any]:
    """A plain record as a DynamoDB item (strings, numbers and booleans; None is left out)."""
    return {key: attribute_value(value) for key, value in record.items() if value is not None}


def key_of(record: dict[str, Any]) -> str:
    """The item key of a record read from the table."""
    return str(record[STATE_TABLE_KEY])


def from_item(item: dict[str, Any]) -> dict[str, Any]:
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
                **to_item(_data(batch)),
                **item_keys(batch_id, BATCH, batch["status"]),
                "Children": {"S": json.dumps(level_keys + job_keys)},
            },
            *(
                {**to_item(_data(level)), **item_keys(key, LEVEL, level["status"], batch_id)}
                for key, level in zip(level_keys, levels, strict=True)
            ),
            *(
                {
                    **to_item({**_data(job), "seq": index}),
                    **item_keys(key, JOB, job["status"], batch_id, job["job_name"]),
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
                            "ConditionExpression": f"attribute_not_exists({STATE_TABLE_KEY})",
                        }
                    }
                    for item in items
                ]
            )
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
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
            names[placeholder] = STATUS if name == "status" else name
            if value is None:
                removes.append(placeholder)
                continue
            values[f":a{index}"] = attribute_value(value)
            if name == "started_at":
                sets.append(f"{placeholder} = if_not_exists({placeholder}, :a{index})")
            else:
                sets.append(f"{placeholder} = :a{index}")
        expression = (f"SET {', '.join(sets)} " if sets else "") + (
            f"REMOVE {', '.join(removes)}" if removes else ""
        )
        condition = f"attribute_exists({STATE_TABLE_KEY})"
        if expected:
            names["#st"] = STATUS
            for index, status in enumerate(expected):
                values[f":e{index}"] = {"S": status}
            condition += " AND #st IN (" + ", ".join(f":e{i}" for i in range(len(expected))) + ")"
        spec: dict[str, Any] = {
            "TableName": self.table,
            "Key": {STATE_TABLE_KEY: {"S": key}},
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
                if error_code(exc) in (
                    "ConditionalCheckFailedException",
                    "TransactionCanceledException",
                ):
                    return False
                raise
        return True

    def put(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self.table, "Item": item}}

    def delete(self, key: str) -> dict[str, Any]:
        return {"Delete": {"TableName": self.table, "Key": {STATE_TABLE_KEY: {"S": key}}}}

    # -- reads --------------------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.table, Key={STATE_TABLE_KEY: {"S": key}}, ConsistentRead=True
        ).get("Item")
        return from_item(item) if item else None

    def get_many(self, keys: list[str]) -> list[dict[str, Any]]:
        """The items of ``keys`` that exist (consistent reads), in no particular order."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            pending: dict[str, Any] = {
                self.table: {
                    "Keys": [{STATE_TABLE_KEY: {"S": key}} for key in keys[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            while pending:
                answer = self.client.batch_get_item(RequestItems=pending)
                found += [from_item(item) for item in answer["Responses"].get(self.table, [])]
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
        return list(self._query(PARENT_INDEX, batch_id, item_type))

    def by_status(self, status: str, item_type: str = BATCH) -> list[dict[str, Any]]:
        return list(self._query(STATUS_INDEX, status, item_type))

    def of_type(self, item_type: str) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for page in self.client.get_paginator("scan").paginate(
            TableName=self.table,
            FilterExpression="ItemType = :t",
            ExpressionAttributeValues={":t": {"S": item_type}},
        ):
            records += [from_item(item) for item in page["Items"]]
        return records

    def job_named(self, job_name: str) -> dict[str, Any] | None:
        found = list(self._query(JOB_NAME_INDEX, job_name))
        return found[0] if found else None

    def _query(
        self, index: str, value: str, item_type: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """The items whose ``index`` key is ``value`` (of ``item_type``), in index order."""
        params: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": "#k = :k",
            "ExpressionAttributeNames": {"#k": STATE_TABLE_INDEXES[index]},
            "ExpressionAttributeValues": {":k": {"S": value}},
        }
        if item_type is not None:
            params["FilterExpression"] = "ItemType = :t"
            params["ExpressionAttributeValues"][":t"] = {"S": item_type}
        for page in self.client.get_paginator("query").paginate(TableName=self.table, **params):
            for item in page["Items"]:
                yield from_item(item)


def _data(record: dict[str, Any]) -> dict[str, Any]:
    """A record's attributes but its status (the item's Status carries that)."""
    return {key: value for key, value in record.items() if key != "status"}


def item_keys(
    key: str,
    item_type: str,
    status: str | None = None,
    parent: str | None = None,
    job_name: str | None = None,
) -> dict[str, Any]:
    """The key and index attributes of an item (an index leaves out items without its key)."""
    return to_item(
        {
            STATE_TABLE_KEY: key,
            "ItemType": item_type,
            STATUS: status,
            STATE_TABLE_INDEXES[PARENT_INDEX]: parent,
            STATE_TABLE_INDEXES[JOB_NAME_INDEX]: job_name,
        }
    )
