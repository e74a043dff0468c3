"""The model-run store in the SQLite state db: tables model_runs, model_trials and
model_endpoints, whose migrations (``schema.py``) it applies when it opens the db.

Every write is one transaction of the state db, so deploying an endpoint and marking
the oldest beyond the limit Deleted happen together, and a move with an expected status
checks it in the UPDATE itself.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from typing import Any

from labellake.errors import ConflictError, NotFoundError
from labellake.workflows.labeling.store import timestamp
from labellake.workflows.models.schema import MODELS
from labellake.workflows.models.store import (
    FINAL_STATUSES,
    JSON_FIELDS,
    EndpointStatus,
    RunStatus,
    check_movable,
    eviction_reason,
    no_endpoint,
    replaced_reason,
    unknown_run,
)
from labellake.workflows.statedb import OnStateDb, StateDb, state_db


def _run(row: Any) -> dict[str, Any]:
    run = dict(row)
    for name in JSON_FIELDS:
        run[name] = json.loads(run[name]) if run[name] else None
    return run


class SqliteModelRunStore:
    """Model runs, trials and endpoints in a state db, or in the state db of a batch store
    (a ModelRunStore)."""

    def __init__(self, state: StateDb | OnStateDb) -> None:
        self.db = state_db(state).subsystem(MODELS)

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
        try:
            with self.db.transaction() as con:
                con.execute(
                    "INSERT INTO model_runs (run_id, model_name, mode, status, request, "
                    "dataset, rows, actor, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        model_name,
                        mode,
                        str(RunStatus.TRAINING_MODEL),
                        json.dumps(request),
                        dataset,
                        rows,
                        actor,
                        now,
                        now,
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise ConflictError(
                f"model run '{run_id}' is recorded already; a run id is never reused"
            ) from exc

    def move(
        self,
        run_id: str,
        status: str,
        *,
        expected: Collection[str] | None = None,
        **fields: Any,
    ) -> bool:
        """Set the run's status and ``fields`` (dicts stored as JSON), only from ``expected``."""
        check_movable(fields)
        if expected is not None and not expected:
            return False
        values = {
            name: json.dumps(value) if name in JSON_FIELDS and value is not None else value
            for name, value in fields.items()
        }
        now = timestamp()
        if status in FINAL_STATUSES:
            values["completed_at"] = now
        sets = ", ".join(f"{name} = ?" for name in ["status", "updated_at", *values])
        where, args = "run_id = ?", [run_id]
        if expected is not None:
            where += f" AND status IN ({', '.join('?' * len(expected))})"
            args += [str(s) for s in expected]
        with self.db.transaction() as con:
            moved = con.execute(
                f"UPDATE model_runs SET {sets} WHERE {where}",
                (str(status), now, *values.values(), *args),
            ).rowcount
        return moved > 0

    def run(self, run_id: str) -> dict[str, Any]:
        with self.db.connect() as con:
            row = con.execute("SELECT * FROM model_runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(unknown_run(run_id))
        return _run(row)

    def runs(self, mode: str | None = None) -> list[dict[str, Any]]:
        query, args = "SELECT * FROM model_runs", ()
        if mode:
            query, args = query + " WHERE mode = ?", (mode,)
        with self.db.connect() as con:
            return [_run(r) for r in con.execute(query + " ORDER BY created_at DESC", args)]

    def newest(
        self, model_name: str, mode: str | None = None, status: str = RunStatus.READY
    ) -> dict[str, Any] | None:
        query = "SELECT * FROM model_runs WHERE model_name = ? AND status = ?"
        args: tuple[Any, ...] = (model_name, str(status))
        if mode:
            query, args = query + " AND mode = ?", (*args, mode)
        with self.db.connect() as con:
            row = con.execute(query + " ORDER BY created_at DESC LIMIT 1", args).fetchone()
        return _run(row) if row else None

    # -- Step Functions: the step a run's execution waits on ------------------------------

    def set_task(
        self, run_id: str, step: str | None, token: str | None, backend_job: str | None = None
    ) -> None:
        """Keep (or, with None, drop) the task token of the step the run's execution waits on,
        and the SageMaker job or endpoint that step watches."""
        with self.db.transaction() as con:
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
        with self.db.connect() as con:
            return [
                _run(r)
                for r in con.execute(
                    f"SELECT * FROM model_runs WHERE {column} IS NOT NULL AND status NOT IN "
                    "(?, ?) ORDER BY created_at",
                    tuple(str(s) for s in FINAL_STATUSES),
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
        try:
            with self.db.transaction() as con:
                con.execute(
                    "INSERT OR REPLACE INTO model_trials (run_id, number, params, value, state, "
                    "seconds) VALUES (?, ?, ?, ?, ?, ?)",
                    (run_id, number, json.dumps(params), value, state, seconds),
                )
        except sqlite3.IntegrityError as exc:  # the run's foreign key
            raise NotFoundError(unknown_run(run_id)) from exc

    def trials(self, run_id: str) -> list[dict[str, Any]]:
        with self.db.connect() as con:
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
        self,
        endpoint_id: str,
        model_name: str,
        run_id: str,
        artifact_uri: str,
        limit: int,
        replaces: bool = False,
    ) -> list[str]:
        """Put an endpoint in service; with ``replaces`` the model's other live endpoints
        are deleted; then the oldest beyond ``limit`` are (all of them returned)."""
        now = timestamp()
        live_status = str(EndpointStatus.IN_SERVICE)
        replaced: list[str] = []
        try:
            with self.db.transaction() as con:
                con.execute(
                    "INSERT INTO model_endpoints (endpoint_id, model_name, run_id, "
                    "artifact_uri, status, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (endpoint_id, model_name, run_id, artifact_uri, live_status, now),
                )
                if replaces:
                    replaced = [
                        r["endpoint_id"]
                        for r in con.execute(
                            "SELECT endpoint_id FROM model_endpoints WHERE status = ? AND "
                            "model_name = ? AND endpoint_id <> ?",
                            (live_status, model_name, endpoint_id),
                        )
                    ]
                    for old in replaced:
                        con.execute(
                            "UPDATE model_endpoints SET status = ?, deleted_at = ?, "
                            "deleted_reason = ? WHERE endpoint_id = ?",
                            (str(EndpointStatus.DELETED), now, replaced_reason(endpoint_id), old),
                        )
                live = [
                    r["endpoint_id"]
                    for r in con.execute(
                        "SELECT endpoint_id FROM model_endpoints WHERE status = ? "
                        "ORDER BY created_at DESC, rowid DESC",
                        (live_status,),
                    )
                ]
                evicted = live[limit:]
                for old in evicted:
                    con.execute(
                        "UPDATE model_endpoints SET status = ?, deleted_at = ?, "
                        "deleted_reason = ? WHERE endpoint_id = ?",
                        (
                            str(EndpointStatus.DELETED),
                            now,
                            eviction_reason(endpoint_id, limit),
                            old,
                        ),
                    )
        except sqlite3.IntegrityError as exc:
            raise ConflictError(
                f"model endpoint '{endpoint_id}' is recorded already; an endpoint is deployed once"
            ) from exc
        return [*replaced, *evicted]

    def endpoints(self, live_only: bool = False) -> list[dict[str, Any]]:
        query, args = "SELECT * FROM model_endpoints", ()
        if live_only:
            query, args = query + " WHERE status = ?", (str(EndpointStatus.IN_SERVICE),)
        with self.db.connect() as con:
            return [dict(r) for r in con.execute(query + " ORDER BY created_at DESC", args)]

    def endpoint_for(self, model_name: str) -> dict[str, Any]:
        """The newest endpoint in service of ``model_name`` (a model name or endpoint id)."""
        with self.db.connect() as con:
            row = con.execute(
                "SELECT * FROM model_endpoints WHERE status = ? AND (model_name = ? OR "
                "endpoint_id = ?) ORDER BY created_at DESC LIMIT 1",
                (str(EndpointStatus.IN_SERVICE), model_name, model_name),
            ).fetchone()
        if row is None:
            raise NotFoundError(no_endpoint(model_name))
        return dict(row)
