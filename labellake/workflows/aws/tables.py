"""The DynamoDB state table: its one definition, used by the CloudFormation template, the
bootstrap and the DynamoDB stores (and by the tests that create it on moto)."""

from __future__ import annotations

from typing import Any

STATE_TABLE_KEY = "BatchId"  # the hash key of every item
STATUS_INDEX = "status-index"
PARENT_INDEX = "parent-index"
JOB_NAME_INDEX = "job-name-index"
# Each index by the attribute it is keyed on (all but job-name-index sort by the item key).
STATE_TABLE_INDEXES = {
    STATUS_INDEX: "Status",
    PARENT_INDEX: "ParentBatchId",
    JOB_NAME_INDEX: "LabelingJobName",
}


def state_table(name: str) -> dict[str, Any]:
    """The DynamoDB state table: batch, level and job items under the hash key BatchId."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": STATE_TABLE_KEY, "AttributeType": "S"},
            *({"AttributeName": key, "AttributeType": "S"} for key in STATE_TABLE_INDEXES.values()),
        ],
        "KeySchema": [{"AttributeName": STATE_TABLE_KEY, "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": key, "KeyType": "HASH"},
                    *(
                        [{"AttributeName": STATE_TABLE_KEY, "KeyType": "RANGE"}]
                        if index != JOB_NAME_INDEX
                        else []
                    ),
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, key in STATE_TABLE_INDEXES.items()
        ],
    }


MODEL_TABLE_INDEXES = {"record-index": "Record", "status-index": "Status"}


def model_table(name: str) -> dict[str, Any]:
    """The DynamoDB model table: runs, trials and endpoints under the hash key Id and the
    range key Record; each index orders its items by CreatedAt (see
    workflows/models/dynamo_store.py)."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": key, "AttributeType": "S"}
            for key in ("Id", "Record", "Status", "CreatedAt")
        ],
        "KeySchema": [
            {"AttributeName": "Id", "KeyType": "HASH"},
            {"AttributeName": "Record", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": key, "KeyType": "HASH"},
                    {"AttributeName": "CreatedAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, key in MODEL_TABLE_INDEXES.items()
        ],
    }
