"""The workflow state store: batches, levels, jobs, tasks and events in SQLite.

The API, the runner and the portal open it at the same time, so it runs in WAL
mode and every write is one short IMMEDIATE transaction. The schema carries a
version (PRAGMA user_version) and migrates forward on open.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labellake.errors import ConflictError, LabellakeError

# Batch statuses (the reference's names where it has them).
IN_PROGRESS = "IN_PROGRESS"
VALIDATION_FAIL = "VALIDATION_FAIL"
INTERNAL_ERROR = "INTERNAL_ERROR"
COMPLETE = "COMPLETE"
STOPPED = "STOPPED"
BATCH_STATUSES = (IN_PROGRESS, VALIDATION_FAIL, INTERNAL_ERROR, COMPLETE, STOPPED)
FINAL_BATCH_STATUSES = (VALIDATION_FAIL, INTERNAL_ERROR, COMPLETE, STOPPED)

# Job and level statuses.
PENDING = "PENDING"
WAIT_FOR_SMGT_RESPONSE = "WAIT_FOR_SMGT_RESPONSE"

MIGRATIONS: tuple[str, ...] = (
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
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    """,
    # 2: portal accounts (sign-in with LABELLAKE_PORTAL_AUTH=1).
    """
    CREATE TABLE accounts (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        locked_until REAL NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        last_sign_in_at TEXT
    );
    """,
    # 3: the local workforce: work teams, their workers, one-time invites.
    """
    CREATE TABLE teams (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE team_members (
        team TEXT NOT NULL COLLATE NOCASE REFERENCES teams(name) ON DELETE CASCADE,
        account TEXT NOT NULL COLLATE NOCASE REFERENCES accounts(name) ON DELETE CASCADE,
        PRIMARY KEY (team, account)
    );
    ALTER TABLE accounts ADD COLUMN invite_hash TEXT;
    """,
    # 4: jobs name their labeling backend; the local backend's jobs, task queue and
    # worker activity events.
    """
    ALTER TABLE jobs ADD COLUMN backend TEXT;
    CREATE TABLE work_jobs (
        job_id TEXT PRIMARY KEY COLLATE NOCASE,
        job_name TEXT NOT NULL COLLATE NOCASE,
        batch_id TEXT NOT NULL COLLATE NOCASE,
        team TEXT NOT NULL COLLATE NOCASE,
        request TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE work_tasks (
        job_id TEXT NOT NULL COLLATE NOCASE REFERENCES work_jobs(job_id) ON DELETE CASCADE,
        data_object_id INTEGER NOT NULL,
        source_ref TEXT NOT NULL,
        line TEXT NOT NULL,
        status TEXT NOT NULL,
        worker TEXT COLLATE NOCASE,
        accepted_at REAL,
        lease_expires REAL,
        submitted_at REAL,
        declined_by TEXT NOT NULL DEFAULT '[]',
        draft TEXT,
        output TEXT,
        PRIMARY KEY (job_id, data_object_id)
    );
    CREATE INDEX work_tasks_status ON work_tasks(status, job_id);
    CREATE TABLE work_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL COLLATE NOCASE REFERENCES work_jobs(job_id) ON DELETE CASCADE,
        event TEXT NOT NULL
    );
    """,
    # 5: Step Functions: a batch's execution, and the task token a level's task waits on.
    """
    ALTER TABLE batches ADD COLUMN execution_arn TEXT;
    ALTER TABLE levels ADD COLUMN task_token TEXT;
    """,
    # 6: model runs (TRAIN and HPO), their trials, and the endpoints that serve them.
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
    # 7: failed sign-ins per name, whether or not an account has the name, so a name
    # without one is locked like a name with one (accounts.failed_attempts and
    # locked_until are no longer used; current locks carry over).
    """
    CREATE TABLE sign_in_failures (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        failed_attempts INTEGER NOT NULL,
        locked_until REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX sign_in_failures_expiry ON sign_in_failures(expires_at);
    INSERT INTO sign_in_failures (name, failed_attempts, locked_until, expires_at)
        SELECT name, 0, locked_until, locked_until FROM accounts
        WHERE locked_until > CAST(strftime('%s', 'now') AS REAL);
    """,
    # 8: a personal API token per account (its SHA-256; the token is shown once).
    """
    ALTER TABLE accounts ADD COLUMN api_token_hash TEXT;
    CREATE UNIQUE INDEX accounts_api_token ON accounts(api_token_hash);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class Event:
    """An entry of a batch's history, recorded with the state change it describes."""

    kind: str
    batch_id: str | None = None
    job_name: str | None = None
    actor: str | None = None
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class Notice:
    """A message to deliver to each of ``urls`` (webhooks, SNS topics) once recorded."""

    message: dict[str, Any]
    urls: list[str] = field(default_factory=list)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def timestamp(moment: dt.datetime | None = None) -> str:
    return (moment or now()).astimezone(dt.UTC).isoformat(timespec="microseconds")


def parse_timestamp(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _owner_only(path: Path) -> None:
    """Create the state file (or narrow an existing one) readable by its owner alone: it
    holds accounts and the workflow's records. SQLite gives its -wal and -shm files the
    database file's mode.

    An existing file is never opened here: closing any descriptor of it would release
    every SQLite lock this process holds on it (POSIX lock semantics)."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        try:
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
        except OSError:
            pass  # another user's file: opening it says what is wrong
    except OSError:
        pass  # a read-only folder: opening it says what is wrong


class StateStore:
    """A path to the SQLite file; each call opens a short-lived connection."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        # Threads of one process queue here for the write lock instead of in SQLite's busy
        # handler, whose sleeps grow to 100 ms and make the tail latency of the API.
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._migrate()

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection (opened once per thread and kept)."""
        con = getattr(self._local, "con", None)
        if con is None:
            try:
                con = sqlite3.connect(
                    self.path, timeout=30, isolation_level=None, check_same_thread=True
                )
            except sqlite3.Error as exc:
                raise LabellakeError(
                    f"cannot open the state store {self.path}: {exc}; check LABELLAKE_STATE_DB"
                ) from exc
            con.row_factory = sqlite3.Row
            try:
                con.execute("PRAGMA foreign_keys = ON")
                con.execute("PRAGMA busy_timeout = 30000")
                # In WAL mode, NORMAL keeps every committed transaction across a crash of the
                # process; only a power loss can take back the last few.
                con.execute("PRAGMA synchronous = NORMAL")
                con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.DatabaseError as exc:
                con.close()
                raise LabellakeError(
                    f"state store {self.path} is not a SQLite database ({exc}); move it aside "
                    "or set LABELLAKE_STATE_DB"
                ) from exc
            self._local.con = con
        try:
            yield con
        except sqlite3.DatabaseError as exc:
            if _damaged(exc):
                # This connection keeps failing even once the file is whole again.
                self.close()
            raise

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: all of it happens, or none of it."""
        with self._write_lock, self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _migrate(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LabellakeError(
                f"cannot create the folder of the state store {self.path}: {exc.strerror}"
            ) from exc
        _owner_only(self.path)
        with self.connect() as con:
            try:
                con.execute("PRAGMA journal_mode = WAL")
                version = con.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                raise LabellakeError(
                    f"state store {self.path} is not a SQLite database ({exc}); move it aside "
                    "or set LABELLAKE_STATE_DB"
                ) from exc
            if version > SCHEMA_VERSION:
                raise LabellakeError(
                    f"state store {self.path} has schema version {version}, newer than this "
                    f"labellake ({SCHEMA_VERSION}); upgrade labellake"
                )
            for number in range(version, SCHEMA_VERSION):
                con.execute("BEGIN IMMEDIATE")
                try:
                    # Another process may have migrated while this one waited.
                    if con.execute("PRAGMA user_version").fetchone()[0] > number:
                        con.execute("ROLLBACK")
                        continue
                    for statement in MIGRATIONS[number].split(";"):
                        if statement.strip():
                            con.execute(statement)
                    con.execute(f"PRAGMA user_version = {number + 1}")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        with self.connect() as con:
            return con.execute("PRAGMA user_version").fetchone()[0]

    # -- reads ----------------------------------------------------------------

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        with self.connect() as con:
            row = con.execute("SELECT * FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
        return dict(row) if row else None

    def batches(self, status: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT * FROM batches"
        args: tuple[Any, ...] = ()
        if status:
            query += " WHERE status = ?"
            args = (status,)
        with self.connect() as con:
            return [dict(r) for r in con.execute(query + " ORDER BY created_at, batch_id", args)]

    def levels(self, batch_id: str) -> list[dict[str, Any]]:
        with self.connect() as con:
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
        with self.connect() as con:
            return [dict(r) for r in con.execute(query + " ORDER BY level, rowid", args)]

    def job(self, job_name: str) -> dict[str, Any] | None:
        with self.connect() as con:
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
        with self.connect() as con:
            rows = [dict(r) for r in con.execute(query + " ORDER BY id", args)]
        for row in rows:
            row["payload"] = json.loads(row["payload"]) if row["payload"] else None
        return rows

    def names_taken(self, names: list[str]) -> list[str]:
        """Which of ``names`` (batch ids or job names) exist or once existed, any case."""
        if not names:
            return []
        marks = ", ".join("?" for _ in names)
        with self.connect() as con:
            rows = con.execute(
                f"SELECT batch_id AS name FROM batches WHERE batch_id IN ({marks}) "
                f"UNION SELECT job_name FROM jobs WHERE job_name IN ({marks}) "
                f"UNION SELECT name FROM retired_names WHERE name IN ({marks})",
                (*names, *names, *names),
            ).fetchall()
        return [row["name"] for row in rows]

    def task_count(self, batch_id: str) -> int:
        with self.connect() as con:
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
            with self.transaction() as con:
                _insert(con, "batches", batch)
                for level in levels:
                    _insert(con, "levels", level)
                for job in jobs:
                    _insert(con, "jobs", job)
                self._record(con, event)
        except sqlite3.IntegrityError as exc:
            raise ConflictError(
                f"batch id '{batch['batch_id']}' or one of its job names is already "
                f"recorded ({exc}); choose another"
            ) from exc

    def move_level(
        self, batch_id: str, level: int, expected: str, status: str, event: Event, **fields: Any
    ) -> bool:
        with self.transaction() as con:
            sets, args = _sets({"status": status, **fields})
            moved = con.execute(
                f"UPDATE levels SET {sets} WHERE batch_id = ? AND level = ? AND status = ?",
                (*args, batch_id, level, expected),
            ).rowcount
            if moved:
                self._record(con, event)
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
        with self.transaction() as con:
            sets, args = _sets({"status": status, **fields})
            moved = con.execute(
                f"UPDATE jobs SET {sets} WHERE job_name = ? AND status = ?",
                (*args, job_name, expected),
            ).rowcount
            if not moved:
                return False
            self._record(con, event)
            if tasks is not None:
                con.execute("DELETE FROM tasks WHERE job_name = ?", (job_name,))
                con.executemany(
                    "INSERT INTO tasks (job_name, data_object_id, source_ref, status) "
                    "VALUES (?, ?, ?, 'QUEUED')",
                    [(job_name, index, ref) for index, ref in enumerate(tasks)],
                )
            if status == COMPLETE:
                con.execute("UPDATE tasks SET status = ? WHERE job_name = ?", (status, job_name))
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
        with self.transaction() as con:
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
                    (children, child_message, fields.get("updated_at"), batch_id, COMPLETE),
                )
                con.execute(
                    "UPDATE levels SET status = ? WHERE batch_id = ? AND status != ?",
                    (children, batch_id, COMPLETE),
                )
            event_id = self._record(con, event)
            for url in notice.urls if notice else []:
                con.execute(
                    "INSERT INTO notifications (event_id, batch_id, url, payload, status, "
                    "next_attempt_at) VALUES (?, ?, ?, ?, 'PENDING', ?)",
                    (event_id, batch_id, url, json.dumps(notice.message), timestamp()),
                )
            return True

    def retry_batch(self, batch_id: str, expected: tuple[str, ...], at: str, event: Event) -> bool:
        """Back to IN_PROGRESS: unfinished levels and jobs to PENDING, a job that had
        started on its next attempt."""
        with self.transaction() as con:
            marks = ", ".join("?" for _ in expected)
            moved = con.execute(
                "UPDATE batches SET status = ?, message = NULL, error_type = NULL, "
                "completed_at = NULL, attempt = attempt + 1, updated_at = ? "
                f"WHERE batch_id = ? AND status IN ({marks})",
                (IN_PROGRESS, at, batch_id, *expected),
            ).rowcount
            if not moved:
                return False
            con.execute(
                "UPDATE jobs SET status = ?, message = NULL, updated_at = ?, "
                "attempt = attempt + (CASE WHEN backend_job_id IS NULL THEN 0 ELSE 1 END), "
                "backend_job_id = NULL, output_manifest_uri = NULL, started_at = NULL "
                "WHERE batch_id = ? AND status != ?",
                (PENDING, at, batch_id, COMPLETE),
            )
            con.execute(
                "UPDATE levels SET status = ? WHERE batch_id = ? AND status != ?",
                (PENDING, batch_id, COMPLETE),
            )
            self._record(con, event)
            return True

    def set_down_sampling_rate(self, batch_id: str, rate: float, at: str, event: Event) -> None:
        """The batch's rate, and that of every chained job not yet started."""
        with self.transaction() as con:
            con.execute(
                "UPDATE batches SET down_sampling_rate = ?, updated_at = ? WHERE batch_id = ?",
                (rate, at, batch_id),
            )
            con.execute(
                "UPDATE jobs SET down_sampling_rate = ? WHERE batch_id = ? AND "
                "status = ? AND chain_from IS NOT NULL",
                (rate, batch_id, PENDING),
            )
            self._record(con, event)

    def delete_batch(self, batch_id: str, job_names: list[str], at: str, event: Event) -> None:
        """Remove the batch and everything below it; its id and job names stay retired."""
        with self.transaction() as con:
            for name, kind in [(batch_id, "batch")] + [(job, "job") for job in job_names]:
                con.execute(
                    "INSERT OR IGNORE INTO retired_names (name, kind, retired_at) VALUES (?, ?, ?)",
                    (name, kind, at),
                )
            con.execute("DELETE FROM notifications WHERE batch_id = ?", (batch_id,))
            con.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))
            self._record(con, event)

    def _record(self, con: sqlite3.Connection, event: Event) -> int:
        return self.add_event(
            con,
            event.kind,
            batch_id=event.batch_id,
            job_name=event.job_name,
            actor=event.actor,
            payload=event.payload,
        )

    # -- writes used by several steps -------------------------------------------

    @staticmethod
    def add_event(
        con: sqlite3.Connection,
        kind: str,
        *,
        batch_id: str | None = None,
        job_name: str | None = None,
        actor: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> int:
        cursor = con.execute(
            "INSERT INTO events (batch_id, job_name, kind, actor, payload, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                batch_id,
                job_name,
                kind,
                actor,
                json.dumps(payload) if payload is not None else None,
                timestamp(),
            ),
        )
        return int(cursor.lastrowid or 0)

    # -- notifications -------------------------------------------------------------

    def due_notifications(self, moment: dt.datetime) -> list[dict[str, Any]]:
        with self.connect() as con:
            return [
                dict(row)
                for row in con.execute(
                    "SELECT * FROM notifications WHERE status = 'PENDING' AND "
                    "next_attempt_at <= ? ORDER BY id",
                    (timestamp(moment),),
                )
            ]

    def claim_notification(self, item: dict[str, Any], until: dt.datetime) -> bool:
        """Take a due notification for delivery: it is not due again before ``until`` (a
        deliverer that dies mid-send is replaced then). False when another deliverer took
        it first, so two workers never send the same message at once."""
        with self.transaction() as con:
            return bool(
                con.execute(
                    "UPDATE notifications SET next_attempt_at = ? WHERE id = ? AND "
                    "status = 'PENDING' AND next_attempt_at = ?",
                    (timestamp(until), item["id"], item["next_attempt_at"]),
                ).rowcount
            )

    def notification_delivered(self, item_id: int, attempts: int, moment: dt.datetime) -> None:
        with self.transaction() as con:
            con.execute(
                "UPDATE notifications SET attempts = ?, status = 'DELIVERED', "
                "delivered_at = ?, last_error = NULL WHERE id = ?",
                (attempts, timestamp(moment), item_id),
            )

    def notification_failed(
        self, item_id: int, attempts: int, error: str, retry_at: dt.datetime, give_up: bool
    ) -> None:
        with self.transaction() as con:
            con.execute(
                "UPDATE notifications SET attempts = ?, last_error = ?, status = ?, "
                "next_attempt_at = ? WHERE id = ?",
                (
                    attempts,
                    error[:500],
                    "GAVE_UP" if give_up else "PENDING",
                    timestamp(retry_at),
                    item_id,
                ),
            )

    def notifications(self, batch_id: str) -> list[dict[str, Any]]:
        with self.connect() as con:
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
        with self.transaction() as con:
            con.execute(
                "UPDATE batches SET execution_arn = ? WHERE batch_id = ?",
                (execution_arn, batch_id),
            )

    def unstarted_batches(self) -> list[str]:
        """Batches IN_PROGRESS whose execution never started."""
        with self.connect() as con:
            return [
                row["batch_id"]
                for row in con.execute(
                    "SELECT batch_id FROM batches WHERE status = ? AND execution_arn IS NULL",
                    (IN_PROGRESS,),
                )
            ]

    def set_level_token(
        self, batch_id: str, level: int, token: str | None, only: str | None = None
    ) -> None:
        """Keep (or, with None, drop) the task token a level's task waits on; with ``only``,
        only while the level still holds that token."""
        with self.transaction() as con:
            con.execute(
                "UPDATE levels SET task_token = ? WHERE batch_id = ? AND level = ?"
                + (" AND task_token = ?" if only is not None else ""),
                (token, batch_id, level, *([only] if only is not None else [])),
            )

    def waiting_levels(self) -> list[dict[str, Any]]:
        """Levels of IN_PROGRESS batches whose task waits on a token."""
        with self.connect() as con:
            return [
                dict(row)
                for row in con.execute(
                    "SELECT l.batch_id, l.level, l.task_token FROM levels AS l "
                    "JOIN batches AS b USING (batch_id) "
                    "WHERE l.task_token IS NOT NULL AND b.status = ?",
                    (IN_PROGRESS,),
                )
            ]

    # -- the runner's lease -------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take or renew lease ``name``; a lease of a dead process on this host is taken over."""
        with self.transaction() as con:
            row = con.execute(
                "SELECT owner, expires_at FROM leases WHERE name = ?", (name,)
            ).fetchone()
            if (
                row
                and row["owner"] != owner
                and row["expires_at"] > time.time()
                and (_owner_alive(row["owner"]))
            ):
                return False
            con.execute(
                "INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, "
                "expires_at = excluded.expires_at",
                (name, owner, time.time() + ttl_s),
            )
            return True

    def release_lease(self, name: str, owner: str) -> None:
        with self.transaction() as con:
            con.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    def lease_holder(self, name: str) -> str | None:
        with self.connect() as con:
            row = con.execute(
                "SELECT owner, expires_at FROM leases WHERE name = ?", (name,)
            ).fetchone()
        if row and row["expires_at"] > time.time() and _owner_alive(row["owner"]):
            return str(row["owner"])
        return None


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


def lease_owner() -> str:
    """host:pid:random, so a restarted process never mistakes itself for its predecessor."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"


def _damaged(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or the error it was raised while handling) says the file is damaged."""
    while exc is not None:
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and (code & 0xFF) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            return True
        exc = exc.__context__
    return False


def _owner_alive(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    if host != socket.gethostname():
        return True  # another machine: trust the expiry time
    try:
        os.kill(int(rest.split(":", 1)[0]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True
