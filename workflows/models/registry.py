"""Model runs, their HPO trials and the endpoints that serve them, in the state store.

A run moves TRAINING_MODEL -> CREATING_MODEL -> DEPLOYING_ENDPOINT -> READY, or
to ERROR with the error and its cause. At most ``max_endpoints`` endpoints are in
service; deploying one more deletes the oldest, and the deletion is recorded.
"""

from __future__ import annotations

import json
from typing import Any

from labellake.errors import NotFoundError
from labellake.workflows.labeling.state import StateStore, timestamp

TRAINING_MODEL = "TRAINING_MODEL"
CREATING_MODEL = "CREATING_MODEL"
DEPLOYING_ENDPOINT = "DEPLOYING_ENDPOINT"
READY = "READY"
ERROR = "ERROR"
RUN_STATUSES = (TRAINING_MODEL, CREATING_MODEL, DEPLOYING_ENDPOINT, READY, ERROR)
IN_SERVICE = "InService"
DELETED = "Deleted"

_JSON_COLUMNS = ("request", "params", "metrics")


def _run(row: Any) -> dict[str, Any]:
    run = dict(row)
    for name in _JSON_COLUMNS:
        run[name] = json.loads(run[name]) if run[name] else None
    return run


class Registry:
    def __init__(self, state: StateStore) -> None:
        self.state = state

    # -- runs ---------------------------------------------------------------------------

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
        with self.state.transaction() as con:
            con.execute(
                "INSERT INTO model_runs (run_id, model_name, mode, status, request, dataset, "
                "rows, actor, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    model_name,
                    mode,
                    TRAINING_MODEL,
                    json.dumps(request),
                    dataset,
                    rows,
                    actor,
                    now,
                    now,
                ),
            )

    def move(self, run_id: str, status: str, **fields: Any) -> None:
        """Set the run's status and ``fields`` (dicts stored as JSON)."""
        values = {
            name: json.dumps(value) if name in _JSON_COLUMNS and value is not None else value
            for name, value in fields.items()
        }
        now = timestamp()
        if status in (READY, ERROR):
            values["completed_at"] = now
        sets = ", ".join(f"{name} = ?" for name in ["status", "updated_at", *values])
        with self.state.transaction() as con:
            con.execute(
                f"UPDATE model_runs SET {sets} WHERE run_id = ?",
                (status, now, *values.values(), run_id),
            )

    def run(self, run_id: str) -> dict[str, Any]:
        with self.state.connect() as con:
            row = con.execute("SELECT * FROM model_runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(
                f"unknown model run '{run_id}'; list runs with `labellake model list`"
            )
        return _run(row)

    def runs(self, mode: str | None = None) -> list[dict[str, Any]]:
        query, args = "SELECT * FROM model_runs", ()
        if mode:
            query, args = query + " WHERE mode = ?", (mode,)
        with self.state.connect() as con:
            return [_run(r) for r in con.execute(query + " ORDER BY created_at DESC", args)]

    def newest(
        self, model_name: str, mode: str | None = None, status: str = READY
    ) -> dict[str, Any] | None:
        query = "SELECT * FROM model_runs WHERE model_name = ? AND status = ?"
        args: tuple[Any, ...] = (model_name, status)
        if mode:
            query, args = query + " AND mode = ?", (*args, mode)
        with self.state.connect() as con:
            row = con.execute(query + " ORDER BY created_at DESC LIMIT 1", args).fetchone()
        return _run(row) if row else None

    # -- Step Functions: the step a run's execution waits on ------------------------------

    def set_task(
        self, run_id: str, step: str | None, token: str | None, backend_job: str | None = None
    ) -> None:
        """Keep (or, with None, drop) the task token of the step the run's execution waits on,
        and the SageMaker job or endpoint that step watches."""
        with self.state.transaction() as con:
            con.execute(
                "UPDATE model_runs SET step = ?, task_token = ?, "
                "backend_job = coalesce(?, backend_job) WHERE run_id = ?",
                (step, token, backend_job, run_id),
            )

    def waiting(self) -> list[dict[str, Any]]:
        """Runs whose execution waits on a step a worker watches."""
        return self._unfinished("task_token")

    def executing(self) -> list[dict[str, Any]]:
        """Unfinished runs that have a Step Functions execution."""
        return self._unfinished("execution_arn")

    def _unfinished(self, column: str) -> list[dict[str, Any]]:
        """Runs not READY or ERROR whose ``column`` (one of this module's own) is set."""
        with self.state.connect() as con:
            return [
                _run(r)
                for r in con.execute(
                    f"SELECT * FROM model_runs WHERE {column} IS NOT NULL AND status NOT IN "
                    "(?, ?) ORDER BY created_at",
                    (READY, ERROR),
                )
            ]

    # -- trials -------------------------------------------------------------------------

    def add_trial(
        self,
        run_id: str,
        number: int,
        params: dict[str, Any],
        value: float | None,
        state: str,
        seconds: float,
    ) -> None:
        with self.state.transaction() as con:
            con.execute(
                "INSERT OR REPLACE INTO model_trials (run_id, number, params, value, state, "
                "seconds) VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, number, json.dumps(params), value, state, seconds),
            )

    def trials(self, run_id: str) -> list[dict[str, Any]]:
        with self.state.connect() as con:
            rows = [
                dict(r)
                for r in con.execute(
                    "SELECT * FROM model_trials WHERE run_id = ? ORDER BY number", (run_id,)
                )
            ]
        for row in rows:
            row["params"] = json.loads(row["params"])
        return rows

    # -- endpoints ------------------------------------------------------------------------

    def deploy(
        self, endpoint_id: str, model_name: str, run_id: str, artifact_uri: str, limit: int
    ) -> list[str]:
        """Put an endpoint in service; the oldest beyond ``limit`` are deleted (returned)."""
        now = timestamp()
        with self.state.transaction() as con:
            con.execute(
                "INSERT INTO model_endpoints (endpoint_id, model_name, run_id, artifact_uri, "
                "status, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (endpoint_id, model_name, run_id, artifact_uri, IN_SERVICE, now),
            )
            live = [
                r["endpoint_id"]
                for r in con.execute(
                    "SELECT endpoint_id FROM model_endpoints WHERE status = ? "
                    "ORDER BY created_at DESC, rowid DESC",
                    (IN_SERVICE,),
                )
            ]
            evicted = live[limit:]
            for old in evicted:
                con.execute(
                    "UPDATE model_endpoints SET status = ?, deleted_at = ?, deleted_reason = ? "
                    "WHERE endpoint_id = ?",
                    (
                        DELETED,
                        now,
                        f"oldest of {limit + 1} endpoints when {endpoint_id} was deployed "
                        f"(at most {limit} live)",
                        old,
                    ),
                )
        return evicted

    def endpoints(self, live_only: bool = False) -> list[dict[str, Any]]:
        query, args = "SELECT * FROM model_endpoints", ()
        if live_only:
            query, args = query + " WHERE status = ?", (IN_SERVICE,)
        with self.state.connect() as con:
            return [dict(r) for r in con.execute(query + " ORDER BY created_at DESC", args)]

    def endpoint_for(self, model_name: str) -> dict[str, Any]:
        """The newest endpoint in service of ``model_name`` (a model name or endpoint id)."""
        with self.state.connect() as con:
            row = con.execute(
                "SELECT * FROM model_endpoints WHERE status = ? AND (model_name = ? OR "
                "endpoint_id = ?) ORDER BY created_at DESC LIMIT 1",
                (IN_SERVICE, model_name, model_name),
            ).fetchone()
        if row is None:
            raise NotFoundError(
                f"modelName: no endpoint in service for '{model_name}'; train one with "
                "`labellake model train` (or POST /model) and wait for READY"
            )
        return dict(row)
