"""The model-run store in one DynamoDB table (the aws profile's model table), so the
portal host keeps no model state.

Items, under the hash key ``Id`` and the range key ``Record``:

- a run: ``Id`` the run id, ``Record`` RUN;
- its trials: ``Id`` the run id, ``Record`` TRIAL#<number, zero-padded>;
- an endpoint: ``Id`` the endpoint id, ``Record`` ENDPOINT;
- the endpoints in service, newest first: one LIVE item under ``Id`` #endpoints.

A run's and an endpoint's status is ``Status`` and its creation time ``CreatedAt``; the
indexes record-index (Record, CreatedAt: every run or every endpoint in order) and
status-index (Status, CreatedAt: the runs in one status) are built on them. Every other
attribute is the field of ``store.py`` of the same name (JSON fields as JSON text);
an absent attribute reads as None.

Writes are conditional: a run is written only if new, a trial only beside its run, a
move only from an expected status, and a deploy rewrites the LIVE item only if it still
holds what the deploy read (strongly consistent), in one transaction with the new
endpoint and the ones it evicts; a deploy that lost the race reads again. Lists from
the indexes are eventually consistent: a worker's next pass sees what one pass missed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from labellake.aws_clients import error_code
from labellake.errors import ConflictError, LabellakeError, NotFoundError
from labellake.workflows.labeling.store import timestamp
from labellake.workflows.models.store import (
    ENDPOINT_FIELDS,
    FINAL_STATUSES,
    JSON_FIELDS,
    RUN_FIELDS,
    TRIAL_FIELDS,
    UNFINISHED_STATUSES,
    EndpointStatus,
    RunStatus,
    check_movable,
    eviction_reason,
    no_endpoint,
    replaced_reason,
    unknown_run,
)

RUN, ENDPOINT, LIVE, TRIAL = "RUN", "ENDPOINT", "LIVE", "TRIAL#"
LIVE_ID = "#endpoints"  # no run or endpoint id has a '#'
DEPLOY_ATTEMPTS = 5
# Fields kept in the key and index attributes, per record.
RUN_ATTRIBUTES = {"run_id": "Id", "status": "Status", "created_at": "CreatedAt"}
TRIAL_ATTRIBUTES = {"run_id": "Id"}
ENDPOINT_ATTRIBUTES = {"endpoint_id": "Id", "status": "Status", "created_at": "CreatedAt"}
INTEGER_FIELDS = frozenset({"rows", "number"})
FLOAT_FIELDS = frozenset({"value", "seconds"})


def _encode(field: str, value: Any) -> dict[str, str] | None:
    """A field's value as an attribute value; None (remove it) for None, and for a number
    DynamoDB cannot hold (SQLite keeps NaN as NULL too)."""
    if value is None:
        return None
    if field in JSON_FIELDS:
        return {"S": json.dumps(value)}
    if field in INTEGER_FIELDS:
        return {"N": str(int(value))}
    if field in FLOAT_FIELDS:
        number = float(value)
        return {"N": repr(number)} if math.isfinite(number) else None
    return {"S": str(value)}


def _decode(field: str, value: dict[str, Any]) -> Any:
    if "N" in value:
        return int(value["N"]) if field in INTEGER_FIELDS else float(value["N"])
    text = value.get("S")
    if field in JSON_FIELDS:
        return json.loads(text) if text else None
    return text


def _record(item: dict[str, Any], fields: tuple[str, ...], names: dict[str, str]) -> dict[str, Any]:
    """An item as the store's record: every field, in order (None where absent)."""
    record: dict[str, Any] = {}
    for field in fields:
        value = item.get(names.get(field, field))
        record[field] = None if value is None else _decode(field, value)
    return record


def _item(record: dict[str, Any], names: dict[str, str], kind: str) -> dict[str, Any]:
    item = {"Record": {"S": kind}}
    for field, value in record.items():
        encoded = _encode(field, value)
        if encoded is not None:
            item[names.get(field, field)] = encoded
    return item


class _Expression:
    """Placeholders of an expression's attribute names and values."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        for placeholder, known in self.names.items():
            if known == attribute:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, encoded: dict[str, Any]) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = encoded
        return placeholder

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"ExpressionAttributeNames": self.names}
        if self.values:
            params["ExpressionAttributeValues"] = self.values
        return params


class DynamoModelRunStore:
    """Model runs, trials and endpoints in the DynamoDB model table (a ModelRunStore)."""

    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table
        self._check()

    def _check(self) -> None:
        table = self.table
        try:
            self.client.describe_table(TableName=table)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise LabellakeError(
                    f"DynamoDB model table {table} does not exist; create the aws profile's "
                    "resources with `labellake --profile aws aws bootstrap` (or `aws deploy`), "
                    "or set aws_model_table"
                ) from exc
            raise LabellakeError(f"DynamoDB model table {table}: {exc}") from exc
        except NoCredentialsError as exc:
            raise LabellakeError(
                f"no AWS credentials to reach the DynamoDB model table {table}; set "
                "AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            ) from exc
        except BotoCoreError as exc:
            raise LabellakeError(f"cannot reach the DynamoDB model table {table}: {exc}") from exc

    # -- runs -------------------------------------------------------------------------------

    def add_run(
        self,
        run_id: str,
        model_name: str,
        mode: str,
        request: dict[str, Any],
        dataset: str,
        rows: int,
        actor: str | None,
    ) -> None:
        now = timestamp()
        record = {
            "run_id": run_id,
            "model_name": model_name,
            "mode": mode,
            "status": RunStatus.TRAINING_MODEL,
            "request": request,
            "dataset": dataset,
            "rows": rows,
            "actor": actor,
            "created_at": now,
            "updated_at": now,
        }
        try:
            self.client.put_item(
                TableName=self.table,
                Item=_item(record, RUN_ATTRIBUTES, RUN),
                ConditionExpression="attribute_not_exists(Id)",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise ConflictError(
                    f"model run '{run_id}' is recorded already; a run id is never reused"
                ) from exc
            raise

    def move(
        self,
        run_id: str,
        status: str,
        *,
        expected: Collection[str] | None = None,
        **fields: Any,
    ) -> bool:
        check_movable(fields)
        if expected is not None and not expected:
            return False
        now = timestamp()
        values = {"status": str(status), "updated_at": now, **fields}
        if status in FINAL_STATUSES:
            values["completed_at"] = now
        return self._update(run_id, values, expected)

    def run(self, run_id: str) -> dict[str, Any]:
        item = self._get(run_id, RUN)
        if item is None:
            raise NotFoundError(unknown_run(run_id))
        return _record(item, RUN_FIELDS, RUN_ATTRIBUTES)

    def runs(self, mode: str | None = None) -> list[dict[str, Any]]:
        where = _Expression()
        params: dict[str, Any] = {
            "IndexName": "record-index",
            "KeyConditionExpression": f"{where.name('Record')} = {where.value({'S': RUN})}",
            "ScanIndexForward": False,
        }
        if mode:
            params["FilterExpression"] = f"{where.name('mode')} = {where.value({'S': mode})}"
        return [
            _record(item, RUN_FIELDS, RUN_ATTRIBUTES)
            for item in self._query(**params, **where.params())
        ]

    def newest(
        self, model_name: str, mode: str | None = None, status: str = RunStatus.READY
    ) -> dict[str, Any] | None:
        where = _Expression()
        conditions = [
            f"{where.name('Record')} = {where.value({'S': RUN})}",
            f"{where.name('model_name')} = {where.value({'S': model_name})}",
        ]
        if mode:
            conditions.append(f"{where.name('mode')} = {where.value({'S': mode})}")
        for item in self._query(
            IndexName="status-index",
            KeyConditionExpression=f"{where.name('Status')} = {where.value({'S': str(status)})}",
            FilterExpression=" AND ".join(conditions),
            ScanIndexForward=False,
            **where.params(),
        ):
            return _record(item, RUN_FIELDS, RUN_ATTRIBUTES)
        return None

    # -- Step Functions: the step a run's execution waits on --------------------------------

    def set_task(
        self, run_id: str, step: str | None, token: str | None, backend_job: str | None = None
    ) -> None:
        values: dict[str, Any] = {"step": step, "task_token": token}
        if backend_job is not None:
            values["backend_job"] = backend_job
        self._update(run_id, values)  # no such run: nothing to keep

    def waiting(self) -> list[dict[str, Any]]:
        return self._unfinished("task_token")

    def executing(self) -> list[dict[str, Any]]:
        return self._unfinished("execution_arn")

    def _unfinished(self, attribute: str) -> list[dict[str, Any]]:
        """Runs not READY or ERROR that have ``attribute``, oldest first."""
        found = []
        for status in UNFINISHED_STATUSES:
            where = _Expression()
            found += [
                _record(item, RUN_FIELDS, RUN_ATTRIBUTES)
                for item in self._query(
                    IndexName="status-index",
                    KeyConditionExpression=(
                        f"{where.name('Status')} = {where.value({'S': str(status)})}"
                    ),
                    FilterExpression=(
                        f"{where.name('Record')} = {where.value({'S': RUN})} AND "
                        f"attribute_exists({where.name(attribute)})"
                    ),
                    **where.params(),
                )
            ]
        return sorted(found, key=lambda run: run["created_at"])

    # -- trials -----------------------------------------------------------------------------

    def add_trial(
        self,
        run_id: str,
        number: int,
        params: dict[str, Any],
        value: float | None,
        state: str,
        seconds: float,
    ) -> None:
        record = {
            "run_id": run_id,
            "number": number,
            "params": params,
            "value": value,
            "state": state,
            "seconds": seconds,
        }
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.table,
                            "Key": _key(run_id, RUN),
                            "ConditionExpression": "attribute_exists(Id)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": _item(record, TRIAL_ATTRIBUTES, f"{TRIAL}{number:010d}"),
                        }
                    },
                ]
            )
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or [{}]
            if reasons[0].get("Code") == "ConditionalCheckFailed":  # the run's check
                raise NotFoundError(unknown_run(run_id)) from exc
            raise

    def trials(self, run_id: str) -> list[dict[str, Any]]:
        where = _Expression()
        return [
            _record(item, TRIAL_FIELDS, TRIAL_ATTRIBUTES)
            for item in self._query(
                KeyConditionExpression=(
                    f"{where.name('Id')} = {where.value({'S': run_id})} AND "
                    f"begins_with({where.name('Record')}, {where.value({'S': TRIAL})})"
                ),
                ConsistentRead=True,
                **where.params(),
            )
        ]

    # -- endpoints --------------------------------------------------------------------------

    def deploy(
        self,
        endpoint_id: str,
        model_name: str,
        run_id: str,
        artifact_uri: str,
        limit: int,
        replaces: bool = False,
    ) -> list[str]:
        now = timestamp()
        endpoint = {
            "endpoint_id": endpoint_id,
            "model_name": model_name,
            "run_id": run_id,
            "artifact_uri": artifact_uri,
            "status": EndpointStatus.IN_SERVICE,
            "created_at": now,
        }
        for _ in range(DEPLOY_ATTEMPTS):
            if self._get(endpoint_id, ENDPOINT) is not None:
                raise ConflictError(
                    f"model endpoint '{endpoint_id}' is recorded already; an endpoint is "
                    "deployed once"
                )
            seen = self._get(LIVE_ID, LIVE)
            before = json.loads(seen["endpoints"]["S"]) if seen else []
            replaced = []
            if replaces:
                for old in before:
                    item = self._get(old, ENDPOINT)
                    if item is not None and item.get("model_name", {}).get("S") == model_name:
                        replaced.append(old)
            live = [endpoint_id, *(old for old in before if old not in replaced)]
            kept, evicted = live[:limit], live[limit:]
            actions = [
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": _item(endpoint, ENDPOINT_ATTRIBUTES, ENDPOINT),
                        "ConditionExpression": "attribute_not_exists(Id)",
                    }
                },
                self._live_put(kept, seen),
                *(self._evict(old, now, replaced_reason(endpoint_id)) for old in replaced),
                *(self._evict(old, now, eviction_reason(endpoint_id, limit)) for old in evicted),
            ]
            try:
                self.client.transact_write_items(TransactItems=actions)
            except ClientError as exc:
                if error_code(exc) == "TransactionCanceledException":
                    continue  # another deploy came first, or this endpoint is recorded: look again
                raise
            return [*replaced, *evicted]
        raise ConflictError(
            f"endpoints kept changing while {endpoint_id} was being deployed; try again"
        )

    def _live_put(self, kept: list[str], seen: dict[str, Any] | None) -> dict[str, Any]:
        """The LIVE item's Put, only over the list the deploy read."""
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": {**_key(LIVE_ID, LIVE), "endpoints": {"S": json.dumps(kept)}},
        }
        if seen is None:
            put["ConditionExpression"] = "attribute_not_exists(Id)"
        else:
            put["ConditionExpression"] = "#live = :seen"
            put["ExpressionAttributeNames"] = {"#live": "endpoints"}
            put["ExpressionAttributeValues"] = {":seen": seen["endpoints"]}
        return {"Put": put}

    def _evict(self, endpoint_id: str, at: str, reason: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": _key(endpoint_id, ENDPOINT),
                "UpdateExpression": "SET #s = :deleted, deleted_at = :at, deleted_reason = :why",
                "ConditionExpression": "attribute_exists(Id)",
                "ExpressionAttributeNames": {"#s": "Status"},
                "ExpressionAttributeValues": {
                    ":deleted": {"S": str(EndpointStatus.DELETED)},
                    ":at": {"S": at},
                    ":why": {"S": reason},
                },
            }
        }

    def endpoints(self, live_only: bool = False) -> list[dict[str, Any]]:
        if live_only:
            return self._live()
        where = _Expression()
        return [
            _record(item, ENDPOINT_FIELDS, ENDPOINT_ATTRIBUTES)
            for item in self._query(
                IndexName="record-index",
                KeyConditionExpression=f"{where.name('Record')} = {where.value({'S': ENDPOINT})}",
                ScanIndexForward=False,
                **where.params(),
            )
        ]

    def endpoint_for(self, model_name: str) -> dict[str, Any]:
        for endpoint in self._live():
            if model_name in (endpoint["model_name"], endpoint["endpoint_id"]):
                return endpoint
        raise NotFoundError(no_endpoint(model_name))

    def _live(self) -> list[dict[str, Any]]:
        """The endpoints in service, newest first (consistent: by the LIVE item's list)."""
        seen = self._get(LIVE_ID, LIVE)
        ids = json.loads(seen["endpoints"]["S"]) if seen else []
        found: dict[str, dict[str, Any]] = {}
        pending: dict[str, Any] = {
            self.table: {"Keys": [_key(i, ENDPOINT) for i in ids], "ConsistentRead": True}
        }
        while ids and pending:
            answer = self.client.batch_get_item(RequestItems=pending)
            for item in answer["Responses"].get(self.table, []):
                endpoint = _record(item, ENDPOINT_FIELDS, ENDPOINT_ATTRIBUTES)
                found[endpoint["endpoint_id"]] = endpoint
            pending = answer.get("UnprocessedKeys") or {}
        return [found[i] for i in ids if i in found]

    # -- items ------------------------------------------------------------------------------

    def _get(self, item_id: str, kind: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.table, Key=_key(item_id, kind), ConsistentRead=True
        ).get("Item")
        return item or None

    def _update(
        self, run_id: str, values: dict[str, Any], expected: Collection[str] | None = None
    ) -> bool:
        """Set (None: remove) fields of an existing run, only from an ``expected`` status;
        False when the condition did not hold."""
        where = _Expression()
        sets, removes = [], []
        for field, value in values.items():
            name = where.name(RUN_ATTRIBUTES.get(field, field))
            encoded = _encode(field, value)
            if encoded is None:
                removes.append(name)
            else:
                sets.append(f"{name} = {where.value(encoded)}")
        expression = " ".join(
            part
            for part in (
                f"SET {', '.join(sets)}" if sets else "",
                f"REMOVE {', '.join(removes)}" if removes else "",
            )
            if part
        )
        condition = f"attribute_exists({where.name('Id')})"
        if expected is not None:
            allowed = ", ".join(where.value({"S": str(s)}) for s in expected)
            condition += f" AND {where.name('Status')} IN ({allowed})"
        try:
            self.client.update_item(
                TableName=self.table,
                Key=_key(run_id, RUN),
                UpdateExpression=expression,
                ConditionExpression=condition,
                **where.params(),
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _query(self, **params: Any) -> Iterator[dict[str, Any]]:
        for page in self.client.get_paginator("query").paginate(TableName=self.table, **params):
            yield from page["Items"]


def _key(item_id: str, kind: str) -> dict[str, Any]:
    return {"Id": {"S": item_id}, "Record": {"S": kind}}
