"""The model runs' tables in the SQLite state db: model_runs, model_trials and
model_endpoints.

The rule: this module holds only their migrations (``MODELS``); the SQLite model-run
store applies them when it opens the db (``db.migrate(MODELS)``) and is the only
reader and writer of these tables.
"""

from __future__ import annotations

from labellake.workflows.statedb import Schema

MODELS = Schema(
    "models",
    (
        # 1: model runs (TRAIN and HPO), their trials, and the endpoints that serve them.
        """
        CREATE TABLE model_runs (
            run_id TEXT PRIMARY KEY,
            model_name TEXT NOT NULL,
            mode TEXT NOT NULL,
            status TEXT NOT NULL,
            estimator TEXT,
            request TEXT NOT NULL,
            dataset TEXT,
            rows INTEGER,
            params TEXT,
            metrics TEXT,
            artifact_uri TEXT,
            endpoint_id TEXT,
            error TEXT,
            cause TEXT,
            actor TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            completed_at TEXT,
            execution_arn TEXT,
            step TEXT,
            task_token TEXT,
            backend_job TEXT
        );
        CREATE INDEX model_runs_name ON model_runs(model_name, created_at);
        CREATE TABLE model_trials (
            run_id TEXT NOT NULL REFERENCES model_runs(run_id) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            params TEXT NOT NULL,
            value REAL,
            state TEXT NOT NULL,
            seconds REAL NOT NULL,
            PRIMARY KEY (run_id, number)
        );
        CREATE TABLE model_endpoints (
            endpoint_id TEXT PRIMARY KEY,
            model_name TEXT NOT NULL,
            run_id TEXT NOT NULL,
            artifact_uri TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL,
            deleted_at TEXT,
            deleted_reason TEXT
        );
        """,
    ),
    legacy=(6,),
)
