"""The local workforce's task queue: its jobs, their tasks and the worker activity events
they make, in the state db.

The rule: this module owns the tables ``work_jobs``, ``work_tasks`` and ``work_events``
(their migrations are ``LOCAL_TASKS``) and every statement on them; the local backend
(local.py) decides what to ask and writes the Ground Truth files. Each change of a task
is one transaction with the activity event that records it, and a claim is one
transaction, so two workers never hold the same task.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from labellake.errors import LabellakeError, NotFoundError
from labellake.workflows.labeling import formats
from labellake.workflows.labeling.backends import BackendJobStatus, JobRequest
from labellake.workflows.labeling.spec import is_audit
from labellake.workflows.people.workforce import worker_id
from labellake.workflows.statedb import Schema, StateDb

LOCAL_TASKS = Schema(
    "local_tasks",
    (
        # 1: the local backend's jobs, task queue and worker activity events.
        """
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
    ),
    legacy=(4,),
)


class WorkJobStatus(StrEnum):
    """A job in the queue: taking work, or done with it (Ground Truth's words for those)."""

    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = BackendJobStatus.COMPLETED.value
    STOPPED = BackendJobStatus.STOPPED.value


class WorkTaskStatus(StrEnum):
    """A task: waiting in the queue, held by a worker, or submitted."""

    QUEUED = "QUEUED"
    ACCEPTED = "ACCEPTED"
    SUBMITTED = "SUBMITTED"


# A task with what its job's record adds (name, batch, team, request).
TASK_ROWS = (
    "SELECT t.*, j.job_name, j.batch_id, j.team, j.request FROM work_tasks AS t "
    "JOIN work_jobs AS j USING (job_id) "
)


class TaskError(LabellakeError):
    """A task operation the worker may not do (another team's task, a lost lease...)."""


@dataclass(frozen=True)
class Task:
    """One task as a worker sees it."""

    job_id: str
    data_object_id: int
    job_name: str
    batch_id: str
    team: str
    modality: str
    source_ref: str
    status: str
    worker: str | None
    accepted_at: float | None
    lease_expires: float | None

    @property
    def key(self) -> str:
        return f"{self.job_id}/{self.data_object_id}"

    @property
    def audit(self) -> bool:
        return is_audit(self.modality)


def team_of(workteam_arn: str) -> str:
    return workteam_arn.rstrip("/").rsplit("/", 1)[-1]


def user_pool(region: str) -> str:
    """The identity pool named in a local worker's responses and events."""
    return f"{region}_labellake"


def sub(account: str) -> str:
    """A stable identity-provider subject for a local worker."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"labellake:worker:{account.lower()}"))


class TaskQueue:
    """The jobs and tasks of the local workforce in one state db. ``teams`` arguments are
    the worker's teams, lower-cased."""

    def __init__(self, db: StateDb, region: str, account: str) -> None:
        self.db = db.subsystem(LOCAL_TASKS)
        self.region = region
        self.account = account

    # -- jobs --------------------------------------------------------------------------

    def add_job(self, request: JobRequest, lines: list[dict[str, Any]], created_at: float) -> None:
        """Queue a job with one task per manifest line (``workers_per_object`` tasks per
        line for a consensus: task r x lines + i is worker r's of line i); a job queued
        already is left be."""
        with self.db.transaction() as con:
            if con.execute(
                "SELECT 1 FROM work_jobs WHERE job_id = ?", (request.job_id,)
            ).fetchone():
                return
            con.execute(
                "INSERT INTO work_jobs (job_id, job_name, batch_id, team, request, status, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    request.job_id,
                    request.job_name,
                    request.batch_id,
                    team_of(request.workteam_arn),
                    json.dumps(request.to_dict()),
                    WorkJobStatus.IN_PROGRESS,
                    created_at,
                ),
            )
            con.executemany(
                "INSERT INTO work_tasks (job_id, data_object_id, source_ref, line, status) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        request.job_id,
                        replica * len(lines) + index,
                        line.get("source-ref") or line.get("source"),
                        json.dumps(line),
                        WorkTaskStatus.QUEUED,
                    )
                    for replica in range(request.workers_per_object)
                    for index, line in enumerate(lines)
                ],
            )

    def job(self, job_id: str) -> dict[str, Any]:
        with self.db.connect() as con:
            row = con.execute("SELECT * FROM work_jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"the local workforce has no job '{job_id}'")
        return dict(row)

    def outputs(self, job_id: str) -> list[Any]:
        """Each task's status, worker and output line, in task order."""
        with self.db.connect() as con:
            return con.execute(
                "SELECT status, worker, output FROM work_tasks WHERE job_id = ? "
                "ORDER BY data_object_id",
                (job_id,),
            ).fetchall()

    def data_object(self, task: Task, workers_per_object: int) -> int:
        """The data object (manifest line) a task labels: its number, or, in a consensus
        of k workers, its number modulo the job's lines."""
        if workers_per_object <= 1:
            return task.data_object_id
        with self.db.connect() as con:
            tasks = con.execute(
                "SELECT count(*) FROM work_tasks WHERE job_id = ?", (task.job_id,)
            ).fetchone()[0]
        return task.data_object_id % (tasks // workers_per_object)

    def complete(self, job_id: str) -> None:
        with self.db.transaction() as con:
            con.execute(
                "UPDATE work_jobs SET status = ? WHERE job_id = ?",
                (WorkJobStatus.COMPLETED, job_id),
            )

    def stop(self, job_id: str) -> dict[str, Any] | None:
        """Stop a running job; the job, when this call stopped it."""
        with self.db.transaction() as con:
            job = con.execute("SELECT * FROM work_jobs WHERE job_id = ?", (job_id,)).fetchone()
            if job is None or job["status"] != WorkJobStatus.IN_PROGRESS:
                return None
            con.execute(
                "UPDATE work_jobs SET status = ? WHERE job_id = ?", (WorkJobStatus.STOPPED, job_id)
            )
        return dict(job)

    def progress(self, job_id: str) -> dict[str, int] | None:
        """Tasks of a job by state (waiting, held, submitted, total); None if unknown here."""
        with self.db.connect() as con:
            row = con.execute(
                "SELECT count(*) AS total, sum(status = ?) AS waiting, "
                "sum(status = ?) AS held, sum(status = ?) AS submitted "
                "FROM work_tasks WHERE job_id = ?",
                (WorkTaskStatus.QUEUED, WorkTaskStatus.ACCEPTED, WorkTaskStatus.SUBMITTED, job_id),
            ).fetchone()
        if not row or not row["total"]:
            return None
        return {key: int(row[key] or 0) for key in ("waiting", "held", "submitted", "total")}

    def forget(self, job_name: str) -> None:
        """Drop every attempt of a job, its tasks and events."""
        with self.db.transaction() as con:
            con.execute("DELETE FROM work_jobs WHERE job_name = ?", (job_name,))

    def events(self, job_id: str) -> list[dict[str, str]]:
        with self.db.connect() as con:
            rows = con.execute(
                "SELECT event FROM work_events WHERE job_id = ? ORDER BY id", (job_id,)
            ).fetchall()
        return [json.loads(row["event"]) for row in rows]

    # -- tasks -------------------------------------------------------------------------

    def expire(self, now: float) -> int:
        """Put every task whose lease ran out back in the queue; returns how many."""
        with self.db.transaction() as con:
            rows = con.execute(
                TASK_ROWS + "WHERE t.status = ? AND t.lease_expires <= ?",
                (WorkTaskStatus.ACCEPTED, now),
            ).fetchall()
            for row in rows:
                con.execute(
                    "UPDATE work_tasks SET status = ?, worker = NULL, accepted_at = NULL, "
                    "lease_expires = NULL, draft = NULL WHERE job_id = ? AND data_object_id = ?",
                    (WorkTaskStatus.QUEUED, row["job_id"], row["data_object_id"]),
                )
                self._event(
                    con,
                    row,
                    row["worker"],
                    "TasksReturned",
                    accepted=row["accepted_at"],
                    returned=row["lease_expires"],
                )
        return len(rows)

    def running_jobs(self, account: str, teams: list[str]) -> list[Any]:
        """The running jobs of ``teams`` with their tasks counted: waiting, held, held by
        ``account``, submitted."""
        marks = ", ".join("?" for _ in teams)
        with self.db.connect() as con:
            return con.execute(
                "SELECT j.job_id, j.job_name, j.batch_id, j.team, j.request, "
                "sum(t.status = ?) AS waiting, sum(t.status = ?) AS held, "
                "sum(t.status = ?) AS submitted, count(*) AS tasks, "
                "sum(t.status = ? AND t.worker = ?) AS mine "
                f"FROM work_jobs AS j JOIN work_tasks AS t USING (job_id) "
                f"WHERE j.status = ? AND lower(j.team) IN ({marks}) "
                "GROUP BY j.job_id ORDER BY j.created_at, j.rowid",
                (
                    WorkTaskStatus.QUEUED,
                    WorkTaskStatus.ACCEPTED,
                    WorkTaskStatus.SUBMITTED,
                    WorkTaskStatus.ACCEPTED,
                    account,
                    WorkJobStatus.IN_PROGRESS,
                    *teams,
                ),
            ).fetchall()

    def held(self, account: str) -> list[Task]:
        """The tasks ``account`` holds now."""
        with self.db.connect() as con:
            rows = con.execute(
                TASK_ROWS + "WHERE t.status = ? AND t.worker = ? ORDER BY t.accepted_at",
                (WorkTaskStatus.ACCEPTED, account),
            ).fetchall()
        return [_task(row) for row in rows]

    def claim(self, account: str, teams: list[str], job_id: str | None, now: float) -> Task:
        """The next waiting task of ``teams`` (of ``job_id`` if given), now held by
        ``account``; a task the worker holds already in that job is handed back."""
        marks = ", ".join("?" for _ in teams)
        with self.db.transaction() as con:
            jobs = con.execute(
                f"SELECT * FROM work_jobs WHERE status = ? AND lower(team) IN ({marks}) "
                + ("AND job_id = ? " if job_id else "")
                + "ORDER BY created_at, rowid",
                (WorkJobStatus.IN_PROGRESS, *teams, *([job_id] if job_id else [])),
            ).fetchall()
            if job_id and not jobs:
                raise TaskError(_why_not_yours(con, job_id, account, teams))
            full = []
            for job in jobs:
                mine = con.execute(
                    "SELECT data_object_id FROM work_tasks WHERE job_id = ? AND status = ? "
                    "AND worker = ?",
                    (job["job_id"], WorkTaskStatus.ACCEPTED, account),
                ).fetchone()
                if mine is not None:
                    return _load(con, job["job_id"], mine["data_object_id"])
                request = json.loads(job["request"])
                held = con.execute(
                    "SELECT count(*) FROM work_tasks WHERE job_id = ? AND status = ?",
                    (job["job_id"], WorkTaskStatus.ACCEPTED),
                ).fetchone()[0]
                if held >= request["max_concurrent_task_count"]:
                    full.append(job["job_name"])
                    continue
                # A consensus needs distinct workers: not a second task of a data object
                # this worker holds or labeled.
                done = {
                    r["source_ref"]
                    for r in con.execute(
                        "SELECT source_ref FROM work_tasks WHERE job_id = ? AND worker = ? "
                        "AND status IN (?, ?)",
                        (
                            job["job_id"],
                            account,
                            WorkTaskStatus.ACCEPTED,
                            WorkTaskStatus.SUBMITTED,
                        ),
                    )
                }
                for row in con.execute(
                    "SELECT data_object_id, source_ref, declined_by FROM work_tasks WHERE "
                    "job_id = ? AND status = ? ORDER BY data_object_id",
                    (job["job_id"], WorkTaskStatus.QUEUED),
                ):
                    if account.lower() in json.loads(row["declined_by"]):
                        continue
                    if row["source_ref"] in done:
                        continue
                    expires = now + request["task_time_limit_s"]
                    con.execute(
                        "UPDATE work_tasks SET status = ?, worker = ?, accepted_at = ?, "
                        "lease_expires = ? WHERE job_id = ? AND data_object_id = ? AND status = ?",
                        (
                            WorkTaskStatus.ACCEPTED,
                            account,
                            now,
                            expires,
                            job["job_id"],
                            row["data_object_id"],
                            WorkTaskStatus.QUEUED,
                        ),
                    )
                    task = _load(con, job["job_id"], row["data_object_id"])
                    self._event(con, _row(con, task), account, "TasksAccepted", accepted=now)
                    return task
            if full:
                raise TaskError(
                    f"every task slot of {', '.join(full)} is taken (maxConcurrentTaskCount); "
                    "try again when a worker submits or returns one"
                )
        raise TaskError("no task is waiting for you now; come back when a new batch starts")

    def task(self, account: str, teams: list[str], job_id: str, number: int) -> Task:
        """Task ``number`` of a job of ``teams``; TaskError saying why not otherwise."""
        with self.db.connect() as con:
            job = con.execute("SELECT * FROM work_jobs WHERE job_id = ?", (job_id,)).fetchone()
            if job is None or job["team"].lower() not in teams:
                raise TaskError(_why_not_yours(con, job_id, account, teams))
            return _load(con, job_id, number)

    def row(self, task: Task) -> Any:
        """The task's record with its job's (the manifest line, the request, the draft)."""
        with self.db.connect() as con:
            return _row(con, task)

    def save_draft(self, task: Task, account: str, draft: dict[str, Any]) -> None:
        with self.db.transaction() as con:
            con.execute(
                "UPDATE work_tasks SET draft = ? WHERE job_id = ? AND data_object_id = ? "
                "AND status = ? AND worker = ?",
                (
                    json.dumps(draft),
                    task.job_id,
                    task.data_object_id,
                    WorkTaskStatus.ACCEPTED,
                    account,
                ),
            )

    def submit(
        self,
        row: Any,
        account: str,
        submitted: float,
        entry: dict[str, Any],
        draft: dict[str, Any],
    ) -> bool:
        """Record the output line of the task ``row`` (as the worker opened it); False
        (nothing recorded) when the worker's lease ended first."""
        with self.db.transaction() as con:
            done = con.execute(
                "UPDATE work_tasks SET status = ?, submitted_at = ?, lease_expires = NULL, "
                "output = ?, draft = ? WHERE job_id = ? AND data_object_id = ? AND status = ? "
                "AND worker = ? AND lease_expires > ?",
                (
                    WorkTaskStatus.SUBMITTED,
                    submitted,
                    json.dumps(entry),
                    json.dumps(draft),
                    row["job_id"],
                    row["data_object_id"],
                    WorkTaskStatus.ACCEPTED,
                    account,
                    submitted,
                ),
            ).rowcount
            if done:
                self._event(
                    con,
                    row,
                    account,
                    "TasksSubmitted",
                    accepted=row["accepted_at"],
                    submitted=submitted,
                )
        return bool(done)

    def release(self, task: Task, account: str, event_type: str, now: float) -> None:
        """Put a held task back in the queue (TasksReturned), or decline it for good
        (TasksDeclined: never offered to this worker again)."""
        with self.db.transaction() as con:
            row = _row(con, task)
            declined = json.loads(row["declined_by"])
            if event_type == "TasksDeclined":
                declined.append(account.lower())
            con.execute(
                "UPDATE work_tasks SET status = ?, worker = NULL, accepted_at = NULL, "
                "lease_expires = NULL, draft = NULL, declined_by = ? WHERE job_id = ? AND "
                "data_object_id = ? AND status = ? AND worker = ?",
                (
                    WorkTaskStatus.QUEUED,
                    json.dumps(declined),
                    task.job_id,
                    task.data_object_id,
                    WorkTaskStatus.ACCEPTED,
                    account,
                ),
            )
            if event_type == "TasksDeclined":
                self._event(con, row, account, event_type, declined=now)
            else:
                self._event(
                    con, row, account, event_type, accepted=row["accepted_at"], returned=now
                )

    def _event(
        self, con: Any, row: Any, account: str, event_type: str, **times: float | None
    ) -> None:
        """A worker activity event in Ground Truth's format, in the caller's transaction."""
        request = json.loads(row["request"])
        event = formats.activity_event(
            worker_id=worker_id(account),
            sub=sub(account),
            user_pool=user_pool(self.region),
            workteam_arn=request["workteam_arn"],
            labeling_job_arn=(
                f"arn:aws:sagemaker:{self.region}:{self.account}:labeling-job/{row['job_id']}"
            ),
            account=self.account,
            reference_code=hashlib.sha256(row["job_id"].encode()).hexdigest()[:12],
            event_type=event_type,
            **{
                name: dt.datetime.fromtimestamp(value, dt.UTC)
                for name, value in times.items()
                if value is not None
            },
        )
        con.execute(
            "INSERT INTO work_events (job_id, event) VALUES (?, ?)",
            (row["job_id"], json.dumps(event)),
        )


def _load(con: Any, job_id: str, data_object_id: int) -> Task:
    row = con.execute(
        TASK_ROWS + "WHERE t.job_id = ? AND t.data_object_id = ?", (job_id, data_object_id)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no task {job_id}/{data_object_id}")
    return _task(row)


def _row(con: Any, task: Task) -> Any:
    return con.execute(
        TASK_ROWS + "WHERE t.job_id = ? AND t.data_object_id = ?",
        (task.job_id, task.data_object_id),
    ).fetchone()


def _why_not_yours(con: Any, job_id: str, account: str, teams: list[str]) -> str:
    job = con.execute("SELECT * FROM work_jobs WHERE job_id = ?", (job_id,)).fetchone()
    if job is None:
        return f"no labeling job '{job_id}' in the local workforce's queue"
    if job["team"].lower() not in teams:
        return (
            f"job {job['job_name']} belongs to team {job['team']}, and {account} is not in "
            "it; only its team's workers see its tasks"
        )
    return f"job {job['job_name']} is {job['status'].lower().replace('_', ' ')}, not taking work"


def _task(row: Any) -> Task:
    request = json.loads(row["request"])
    return Task(
        job_id=row["job_id"],
        data_object_id=row["data_object_id"],
        job_name=row["job_name"],
        batch_id=row["batch_id"],
        team=row["team"],
        modality=request["modality"],
        source_ref=row["source_ref"],
        status=row["status"],
        worker=row["worker"],
        accepted_at=row["accepted_at"],
        lease_expires=row["lease_expires"],
    )
