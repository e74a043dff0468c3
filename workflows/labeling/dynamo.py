"""Batch, level and job records in one DynamoDB table (the aws profile's state table).

Every record is an item under the hash key ``BatchId``: a batch's own id, a level's
``<batchId>-<level>`` and a job's ``<batchId>-<level>-<jobName>``. ``ItemType``
tells them apart; ``Status``, ``ParentBatchId`` and ``LabelingJobName`` carry the
global secondary indexes (status-index, parent-index, job-name-index). Writes are
conditional: a batch is created with all its levels and jobs in one transaction
only if none of them exists, and a status moves only from the status the caller
saw, so a step that runs twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from labellake.errors import ConflictError, LabellakeError

BATCH, LEVEL, JOB = "BATCH", "LEVEL", "JOB"


def level_id(batch_id: str, level: int) -> str:
    return f"{batch_id}-{level}"


def job_id(batch_id: str, level: int, job_name: str) -> str:
    return f"{batch_id}-{level}-{job_name}"


def _to_item(record: dict[str, Any]) -> dict[str, Any]:
    """A plain record as a DynamoDB item (strings, numbers and booleans; None is left out)."""
    item: dict[str, Any] = {}
    for key, value in record.items():
        if value is None:
            continue
        if isinstance(value, bool):
            item[key] = {"BOOL": value}
        elif isinstance(value, int | float):
            item[key] = {"N": repr(value)}
        else:
            item[key] = {"S": str(value)}
    return item


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
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    # -- writes -----------------------------------------------------------------------------

    def create_batch(
        self,
        batch: dict[str, Any],
        levels: list[dict[str, Any]],
        jobs: list[dict[str, Any]],
    ) -> None:
        """Write a batch with its levels and jobs, all or nothing; ConflictError when the
        batch id (or one of the items) exists already."""
        batch_id = str(batch["batch_id"])
        items = [
            {**_to_item(batch), **_keys(batch_id, BATCH, batch["status"])},
            *(
                {
                    **_to_item(level),
                    **_keys(level_id(batch_id, level["level"]), LEVEL, level["status"], batch_id),
                }
                for level in levels
            ),
            *(
                {
                    **_to_item(job),
                    **_keys(
                        job_id(batch_id, job["level"], job["job_name"]),
                        JOB,
                        job["status"],
                        batch_id,
                        job["job_name"],
                    ),
                }
                for job in jobs
            ),
        ]
        if len(items) > 100:
            raise LabellakeError(
                f"batch {batch_id} has {len(items)} records; DynamoDB writes at most 100 in one "
                "transaction, so split the batch"
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
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise ConflictError(
                    f"batch id '{batch_id}' (or one of its jobs) is already recorded; a batch "
                    "id is never reused, choose another"
                ) from exc
            raise

    def move(self, key: str, expected: str, status: str, **fields: Any) -> bool:
        """Set ``Status`` (and ``fields``) only if the item's status is ``expected``; False
        when it was not (another worker moved it first, or it was never there)."""
        names = {"#s": "Status"}
        values = {":expected": {"S": expected}, ":status": {"S": status}}
        sets = ["#s = :status"]
        for index, (name, value) in enumerate(sorted(fields.items())):
            names[f"#f{index}"] = name
            if value is None:
                continue
            values[f":f{index}"] = _to_item({"v": value})["v"]
            sets.append(f"#f{index} = :f{index}")
        removed = [f"#f{i}" for i, (_, v) in enumerate(sorted(fields.items())) if v is None]
        expression = "SET " + ", ".join(sets) + (f" REMOVE {', '.join(removed)}" if removed else "")
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"BatchId": {"S": key}},
                UpdateExpression=expression,
                ConditionExpression="#s = :expected",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # -- reads --------------------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.table, Key={"BatchId": {"S": key}}, ConsistentRead=True
        ).get("Item")
        return _from_item(item) if item else None

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        record = self.get(batch_id)
        return record if record and record.get("ItemType") == BATCH else None

    def children(self, batch_id: str, item_type: str) -> list[dict[str, Any]]:
        """A batch's levels or jobs (parent-index), in level order."""
        records = [
            record
            for record in self._query(
                IndexName="parent-index",
                KeyConditionExpression="ParentBatchId = :b",
                ExpressionAttributeValues={":b": {"S": batch_id}},
            )
            if record.get("ItemType") == item_type
        ]
        return sorted(records, key=lambda r: (int(r.get("level", 0)), str(r["BatchId"])))

    def by_status(self, status: str, item_type: str = BATCH) -> list[dict[str, Any]]:
        return [
            record
            for record in self._query(
                IndexName="status-index",
                KeyConditionExpression="#s = :s",
                ExpressionAttributeNames={"#s": "Status"},
                ExpressionAttributeValues={":s": {"S": status}},
            )
            if record.get("ItemType") == item_type
        ]

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


def _keys(
    key: str, item_type: str, status: str, parent: str | None = None, job_name: str | None = None
) -> dict[str, Any]:
    return _to_item(
        {
            "BatchId": key,
            "ItemType": item_type,
            "Status": status,
            "ParentBatchId": parent,
            "LabelingJobName": job_name,
        }
    )
