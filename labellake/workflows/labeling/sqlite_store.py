"""The batch store in SQLite (the embedded default): batches, levels, jobs, their tasks,
history and queued notifications, in tables of the state db this module owns.

The rule: this module is the only one that reads or writes these tables (their
migrations are ``LABELING`` below); the state db (workflows/statedb.py) gives it a
connection, WAL, the write lock and the migration runner, and keeps the leases. The API,
the runner and the portal use it at the same time, so every write is one short IMMEDIATE
transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

from labellake.errors import ConflictError
from labellake.workflows.labeling.status import (
    BatchStatus,
    LabelingJobStatus,
    LevelStatus,
    NotificationStatus,
    TaskStatus,
)
from labellake.workflows.labeling.store import Event, Notice, timestamp
from labellake.workflows.statedb import Schema, StateDb

LABELING = Schema(
    "labeling",
    (
        # 1: the first schema.
        """
        CREATE TABLE batches (
            batch_id TEXT PRIMARY KEY COLLATE NOCASE,
            status TEXT NOT NULL,
            request TEXT NOT NULL,
            down_sampling_rate REAL NOT NULL DEFAULT 100,
            destination TEXT,
            token TEXT NOT NULL,
            message TEXT,
            error_type TEXT,
            attempt INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            completed_at TEXT
        );
        CREATE INDEX batches_status ON batches(status);
        CREATE TABLE levels (
            batch_id TEXT NOT NULL COLLATE NOCASE REFERENCES batches(batch_id) ON DELETE CASCADE,
            level INTEGER NOT NULL,
            status TEXT NOT NULL,
            started_at TEXT,
            completed_at TEXT,
            PRIMARY KEY (batch_id, level)
        );
        CREATE TABLE jobs (
            job_name TEXT PRIMARY KEY COLLATE NOCASE,
            batch_id TEXT NOT NULL COLLATE NOCASE REFERENCES batches(batch_id) ON DELETE CASCADE,
            level INTEGER NOT NULL,
            modality TEXT NOT NULL,
            annotation_type TEXT,
            status TEXT NOT NULL,
            chain_from TEXT COLLATE NOCASE,
            workteam_arn TEXT NOT NULL,
            label_attribute_name TEXT NOT NULL,
            label_config_uri TEXT,
            source_manifest_uri TEXT,
            input_manifest_uri TEXT,
            output_manifest_uri TEXT,
            down_sampling_rate REAL,
            backend_job_id TEXT,
            attempt INTEGER NOT NULL DEFAULT 0,
            object_count INTEGER,
            message TEXT,
            spec TEXT NOT NULL,
            created_at TEXT NOT NULL,
            started_at TEXT,
            completed_at TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX jobs_batch ON jobs(batch_id, level);
        CREATE TABLE tasks (
            job_name TEXT NOT NULL COLLATE NOCASE REFERENCES jobs(job_name) ON DELETE CASCADE,
            data_object_id INTEGER NOT NULL,
            source_ref TEXT NOT NULL,
            status TEXT NOT NULL,
            worker_id TEXT,
            accepted_at TEXT,
            submitted_at TEXT,
            PRIMARY KEY (job_name, data_object_id)
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            batch_id TEXT COLLATE NOCASE,
            job_name TEXT COLLATE NOCASE,
            kind TEXT NOT NULL,
            actor TEXT,
            payload TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX events_batch ON events(batch_id, id);
        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id INTEGER NOT NULL,
            batch_id TEXT NOT NULL COLLATE NOCASE,
            url TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            delivered_at TEXT
        );
        CREATE INDEX notifications_due ON notifications(status, next_attempt_at);
        CREATE TABLE retired_names (
            name TEXT PRIMARY KEY COLLATE NOCASE,
            kind TEXT NOT NULL,
            retired_at TEXT NOT NULL
        );
        """,
        # 2: jobs name their labeling backend.
        "ALTER TABLE jobs ADD COLUMN backend TEXT;",
        # 3: Step Functions: a batch's execution, and the task token a level's task waits on.
        """
        ALTER TABLE batches ADD COLUMN execution_arn TEXT;
        ALTER TABLE levels ADD COLUMN task_token TEXT;
        """,
    ),
    legacy=(1, 4, 5),
)


class SqliteBatchStore:
    """The batch store (a BatchStore) in the SQLite state db at ``path``."""

    def __init__(self, path: Path | str) -> None:
        self.db = StateDb(path)
        self.path = self.db.path
        self.db.migrate(LABELING)

    # -- the state db's leases ------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        return self.db.acquire_lease(name, owner, ttl_s)

    def release_lease(self, name: str, owner: str) -> None:
        self.db.release_lease(name, owner)

    def lease_holder(self, name: str) -> str | None:
        return self.db.lease_holder(name)

    # -- reads ----------------------------------------------------------------

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        with self.db.connect() as con:
            row = con.execute("SELECT * FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
        return dict(row) if row else None

    def batches(self, status: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT * FROM batches"
        args: tuple[Any, ...] = ()
        if status:
            query += " WHERE status = ?"
            args = (status,)
        with self.db.connect() as con:
            return [dict(r) for r in con.execute(query + " ORDER BY created_at, batch_id", args)]

    def levels(self, batch_id: str) -> list[dict[str, Any]]:
        with self.db.connect() as con:
            return [
                dict(r)
                for r in con.execute(
                    "SELECT * FROM levels WHERE batch_id = ? ORDER BY level", (batch_id,)
                )
            ]

    def jobs(self, batch_id: str, level: int | None = None) -> list[dict[str, Any]]:
        query = "SELECT * FROM jobs WHERE batch_id = ?"
        args: tuple[Any, ...] = (batch_id,)
        if level is not None:
            query += " AND level = ?"
            args += (level,)
        with self.db.connect() as con:
            return [dict(r) for r in con.execute(query + " ORDER BY level, rowid", args)]

    def job(self, job_name: str) -> dict[str, Any] | None:
        with self.db.connect() as con:
            row = con.execute("SELECT * FROM jobs WHERE job_name = ?", (job_name,)).fetchone()
        return dict(row) if row else None

    def events(self, batch_id: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        query, args = "SELECT * FROM events WHERE 1 = 1", []
        if batch_id is not None:
            query += " AND batch_id = ?"
            args.append(batch_id)
        if kind is not None:
            query += " AND kind = ?"
            args.append(kind)
        with self.db.connect() as con:
            rows = [dict(r) for r in con.execute(query + " ORDER BY id", args)]
        for row in rows:
            row["payload"] = json.loads(row["payload"]) if row["payload"] else None
        return rows

    def names_taken(self, names: list[str]) -> list[str]:
        """Which of ``names`` (batch ids or job names) exist or once existed, any case."""
        if not names:
            return []
        marks = ", ".join("?" for _ in names)
        with self.db.connect() as con:
            rows = con.execute(
                f"SELECT batch_id AS name FROM batches WHERE batch_id IN ({marks}) "
                f"UNION SELECT job_name FROM jobs WHERE job_name IN ({marks}) "
                f"UNION SELECT name FROM retired_names WHERE name IN ({marks})",
                (*names, *names, *names),
            ).fetchall()
        return [row["name"] for row in rows]

    def task_count(self, batch_id: str) -> int:
        with self.db.connect() as con:
            return int(
                con.execute(
                    "SELECT count(*) FROM tasks WHERE job_name IN (SELECT job_name FROM jobs "
                    "WHERE batch_id = ?)",
                    (batch_id,),
                ).fetchone()[0]
            )

    # -- batch records: the engine's state changes -------------------------------
    #
    # Each operation is one transaction, and each that moves a status does so only
    # from the status the caller expects, returning False (and changing nothing) when
    # the record is elsewhere: a step repeated after a crash, or by a second worker,
    # has no second effect.

    def create_batch(
        self,
        batch: dict[str, Any],
        levels: list[dict[str, Any]],
        jobs: list[dict[str, Any]],
        event: Event,
    ) -> None:
        """Record a batch with its levels and jobs; ConflictError when a name is taken."""
        try:
            with self.db.transaction() as con:
                _insert(con, "batches", batch)
                for level in levels:
                    _insert(con, "levels", level)
                for job in jobs:
                    _insert(con, "jobs", job)
                record_event(con, event)
        except sqlite3.IntegrityError as exc:
            raise ConflictError(
                f"batch id '{batch['batch_id']}' or one of its job names is already "
                f"recorded ({exc}); choose another"
            ) from exc

    def move_level(
        self, batch_id: str, level: int, expected: str, status: str, event: Event, **fields: Any
    ) -> bool:
        with self.db.transaction() as con:
            sets, args = _sets({"status": status, **fields})
            moved = con.execute(
                f"UPDATE levels SET {sets} WHERE batch_id = ? AND level = ? AND status = ?",
                (*args, batch_id, level, expected),
            ).rowcount
            if moved:
                record_event(con, event)
            return bool(moved)

    def move_job(
        self,
        job_name: str,
        expected: str,
        status: str,
        event: Event,
        tasks: list[str] | None = None,
        **fields: Any,
    ) -> bool:
        """Move a job; ``tasks`` (one source-ref per data object) replaces its task list."""
        with self.db.transaction() as con:
            sets, args = _sets({"status": status, **fields})
            moved = con.execute(
                f"UPDATE jobs SET {sets} WHERE job_name = ? AND status = ?",
                (*args, job_name, expected),
            ).rowcount
            if not moved:
                return False
            record_event(con, event)
            if tasks is not None:
                con.execute("DELETE FROM tasks WHERE job_name = ?", (job_name,))
                con.executemany(
                    "INSERT INTO tasks (job_name, data_object_id, source_ref, status) "
                    "VALUES (?, ?, ?, ?)",
                    [(job_name, index, ref, TaskStatus.QUEUED) for index, ref in enumerate(tasks)],
                )
            if status == LabelingJobStatus.COMPLETE:
                con.execute(
                    "UPDATE tasks SET status = ? WHERE job_name = ?",
                    (TaskStatus.COMPLETE, job_name),
                )
            return True

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
        """Move a batch out of one of the ``expected`` statuses. With ``children``, its
        unfinished levels and jobs move too (jobs keep a message they have, or get
        ``child_message``); ``notice`` is queued for delivery."""
        with self.db.transaction() as con:
            sets, args = _sets({"status": status, **fields})
            marks = ", ".join("?" for _ in expected)
            moved = con.execute(
                f"UPDATE batches SET {sets} WHERE batch_id = ? AND status IN ({marks})",
                (*args, batch_id, *expected),
            ).rowcount
            if not moved:
                return False
            if children is not None:
                con.execute(
                    "UPDATE jobs SET status = ?, message = coalesce(message, ?), updated_at = ? "
                    "WHERE batch_id = ? AND status != ?",
                    (
                        children,
                        child_message,
                        fields.get("updated_at"),
                        batch_id,
                        LabelingJobStatus.COMPLETE,
                    ),
                )
                con.execute(
                    "UPDATE levels SET status = ? WHERE batch_id = ? AND status != ?",
                    (children, batch_id, LevelStatus.COMPLETE),
                )
            event_id = record_event(con, event)
            for url in notice.urls if notice else []:
                con.execute(
                    "INSERT INTO notifications (event_id, batch_id, url, payload, status, "
                    "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        event_id,
                        batch_id,
                        url,
                        json.dumps(notice.message),
                        NotificationStatus.PENDING,
                        timestamp(),
                    ),
                )
            return True

    def retry_batch(self, batch_id: str, expected: tuple[str, ...], at: str, event: Event) -> bool:
        """Back to IN_PROGRESS: unfinished levels and jobs to PENDING, a job that had
        started on its next attempt."""
        with self.db.transaction() as con:
            marks = ", ".join("?" for _ in expected)
            moved = con.execute(
                "UPDATE batches SET status = ?, message = NULL, error_type = NULL, "
                "completed_at = NULL, attempt = attempt + 1, updated_at = ? "
                f"WHERE batch_id = ? AND status IN ({marks})",
                (BatchStatus.IN_PROGRESS, at, batch_id, *expected),
            ).rowcount
            if not moved:
                return False
            con.execute(
                "UPDATE jobs SET status = ?, message = NULL, updated_at = ?, "
                "attempt = attempt + (CASE WHEN backend_job_id IS NULL THEN 0 ELSE 1 END), "
                "backend_job_id = NULL, output_manifest_uri = NULL, started_at = NULL "
                "WHERE batch_id = ? AND status != ?",
                (LabelingJobStatus.PENDING, at, batch_id, LabelingJobStatus.COMPLETE),
            )
            con.execute(
                "UPDATE levels SET status = ? WHERE batch_id = ? AND status != ?",
                (LevelStatus.PENDING, batch_id, LevelStatus.COMPLETE),
            )
            record_event(con, event)
            return True

    def set_down_sampling_rate(self, batch_id: str, rate: float, at: str, event: Event) -> None:
        """The batch's rate, and that of every chained job not yet started."""
        with self.db.transaction() as con:
            con.execute(
                "UPDATE batches SET down_sampling_rate = ?, updated_at = ? WHERE batch_id = ?",
                (rate, at, batch_id),
            )
            con.execute(
                "UPDATE jobs SET down_sampling_rate = ? WHERE batch_id = ? AND "
                "status = ? AND chain_from IS NOT NULL",
                (rate, batch_id, LabelingJobStatus.PENDING),
            )
            record_event(con, event)

    def delete_batch(self, batch_id: str, job_names: list[str], at: str, event: Event) -> None:
        """Remove the batch and everything below it; its id and job names stay retired."""
        with self.db.transaction() as con:
            for name, kind in [(batch_id, "batch")] + [(job, "job") for job in job_names]:
                con.execute(
                    "INSERT OR IGNORE INTO retired_names (name, kind, retired_at) VALUES (?, ?, ?)",
                    (name, kind, at),
                )
            con.execute("DELETE FROM notifications WHERE batch_id = ?", (batch_id,))
            con.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))
            record_event(con, event)

    # -- notifications -------------------------------------------------------------

    def due_notifications(self, moment: dt.datetime) -> list[dict[str, Any]]:
        with self.db.connect() as con:
            return [
                dict(row)
                for row in con.execute(
                    "SELECT * FROM notifications WHERE status = ? AND "
                    "next_attempt_at <= ? ORDER BY id",
                    (NotificationStatus.PENDING, timestamp(moment)),
                )
            ]

    def claim_notification(self, item: dict[str, Any], until: dt.datetime) -> bool:
        """Take a due notification for delivery: it is not due again before ``until`` (a
        deliverer that dies mid-send is replaced then). False when another deliverer took
        it first, so two workers never send the same message at once."""
        with self.db.transaction() as con:
            return bool(
                con.execute(
                    "UPDATE notifications SET next_attempt_at = ? WHERE id = ? AND "
                    "status = ? AND next_attempt_at = ?",
                    (
                        timestamp(until),
                        item["id"],
                        NotificationStatus.PENDING,
                        item["next_attempt_at"],
                    ),
                ).rowcount
            )

    def notification_delivered(self, item_id: int, attempts: int, moment: dt.datetime) -> None:
        with self.db.transaction() as con:
            con.execute(
                "UPDATE notifications SET attempts = ?, status = ?, "
                "delivered_at = ?, last_error = NULL WHERE id = ?",
                (attempts, NotificationStatus.DELIVERED, timestamp(moment), item_id),
            )

    def notification_failed(
        self, item_id: int, attempts: int, error: str, retry_at: dt.datetime, give_up: bool
    ) -> None:
        with self.db.transaction() as con:
            con.execute(
                "UPDATE notifications SET attempts = ?, last_error = ?, status = ?, "
                "next_attempt_at = ? WHERE id = ?",
                (
                    attempts,
                    error[:500],
                    NotificationStatus.GAVE_UP if give_up else NotificationStatus.PENDING,
                    timestamp(retry_at),
                    item_id,
                ),
            )

    def notifications(self, batch_id: str) -> list[dict[str, Any]]:
        with self.db.connect() as con:
            rows = [
                dict(row)
                for row in con.execute(
                    "SELECT * FROM notifications WHERE batch_id = ? ORDER BY id", (batch_id,)
                )
            ]
        for row in rows:
            row["payload"] = json.loads(str(row["payload"]))
        return rows

    # -- Step Functions: executions and the task tokens levels wait on ---------------

    def set_execution(self, batch_id: str, execution_arn: str) -> None:
        with self.db.transaction() as con:
            con.execute(
                "UPDATE batches SET execution_arn = ? WHERE batch_id = ?",
                (execution_arn, batch_id),
            )

    def unstarted_batches(self) -> list[str]:
        """Batches IN_PROGRESS whose execution never started."""
        with self.db.connect() as con:
            return [
                row["batch_id"]
                for row in con.execute(
                    "SELECT batch_id FROM batches WHERE status = ? AND execution_arn IS NULL",
                    (BatchStatus.IN_PROGRESS,),
                )
            ]

    def set_level_token(
        self, batch_id: str, level: int, token: str | None, only: str | None = None
    ) -> None:
        """Keep (or, with None, drop) the task token a level's task waits on; with ``only``,
        only while the level still holds that token."""
        with self.db.transaction() as con:
            con.execute(
                "UPDATE levels SET task_token = ? WHERE batch_id = ? AND level = ?"
                + (" AND task_token = ?" if only is not None else ""),
                (token, batch_id, level, *([only] if only is not None else [])),
            )

    def waiting_levels(self) -> list[dict[str, Any]]:
        """Levels of IN_PROGRESS batches whose task waits on a token."""
        with self.db.connect() as con:
            return [
                dict(row)
                for row in con.execute(
                    "SELECT l.batch_id, l.level, l.task_token FROM levels AS l "
                    "JOIN batches AS b USING (batch_id) "
                    "WHERE l.task_token IS NOT NULL AND b.status = ?",
                    (BatchStatus.IN_PROGRESS,),
                )
            ]


def record_event(con: sqlite3.Connection, event: Event) -> int:
    """Add ``event`` to the history inside the caller's transaction; returns its id."""
    cursor = con.execute(
        "INSERT INTO events (batch_id, job_name, kind, actor, payload, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            event.batch_id,
            event.job_name,
            event.kind,
            event.actor,
            json.dumps(event.payload) if event.payload is not None else None,
            timestamp(),
        ),
    )
    return int(cursor.lastrowid or 0)


def _insert(con: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    con.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))


def _sets(fields: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """``a = ?, b = ?`` and its arguments; ``started_at`` keeps a value it has (a level
    started again after a retry keeps its first start)."""
    parts = []
    for name in fields:
        if name == "started_at":
            parts.append(f"{name} = coalesce({name}, ?)")
        else:
            parts.append(f"{name} = ?")
    return ", ".join(parts), tuple(fields.values())
