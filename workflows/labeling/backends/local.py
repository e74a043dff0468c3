"""The local labeling backend: people label in the portal.

Each job puts one task per data object in its work team's queue (SQLite, the
state store). A worker of the team claims a task and holds it for the job's
taskTimeLimitInSeconds; returns, declines and expired leases put it back in
the queue. At most maxConcurrentTaskCount tasks of a job are held at once, and
a claim is one transaction, so two workers never hold the same task.

Submitting writes what Ground Truth writes for the task: its SeqLabel.json and
its worker-response file (with the real acceptance and submission times).
Every accept, submit, return, decline and expiry is a worker activity event in
Ground Truth's format. When the last task is in, ``describe_job`` writes the
output manifest and the events file, and the engine carries on as for any job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labellake.errors import LabellakeError, NotFoundError
from labellake.lake import ObjectStore
from labellake.lake.store import locate, read_uri
from labellake.workflows.labeling import formats, geometry, simulation
from labellake.workflows.labeling.backends import (
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    STOPPED,
    JobRequest,
    JobStatus,
    output_manifest_uri,
)
from labellake.workflows.labeling.spec import VIDEO_MODALITIES, base_modality, is_audit
from labellake.workflows.labeling.state import StateStore
from labellake.workflows.workforce import Workforce, worker_id

QUEUED = "QUEUED"
ACCEPTED = "ACCEPTED"
SUBMITTED = "SUBMITTED"
RUNNING = "IN_PROGRESS"
# A task with what its job's record adds (name, batch, team, request).
TASK_ROWS = (
    "SELECT t.*, j.job_name, j.batch_id, j.team, j.request FROM work_tasks AS t "
    "JOIN work_jobs AS j USING (job_id) "
)


class TaskError(LabellakeError):
    """A task operation the worker may not do (another team's task, a lost lease...)."""


class DraftRejected(TaskError):
    """Labels that do not pass the checks; ``problems`` names each frame and object."""

    def __init__(self, problems: list[str]) -> None:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(problems[0] + more)
        self.problems = problems


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


@dataclass
class TaskWork:
    """Everything the labeling page needs for one task."""

    task: Task
    config: dict[str, Any]
    frames: list[tuple[str, str]]  # (frame file name, URI)
    draft: dict[str, Any]  # the work so far (or the parent's labels for an audit)
    original: dict[str, Any] | None  # an audit's starting point, to tell adjusted from not
    instructions: str


def team_of(workteam_arn: str) -> str:
    return workteam_arn.rstrip("/").rsplit("/", 1)[-1]


class LocalBackend:
    name = "local"
    poll_interval_s = 1.0

    def __init__(
        self,
        state: StateStore,
        objects: ObjectStore,
        region: str = "us-east-1",
        account: str = "111122223333",
        clock: Callable[[], float] = time.time,
        **aws: str | None,
    ) -> None:
        self.state = state
        self.objects = objects
        self.region = region
        self.account = account
        self.clock = clock
        self.aws = {"region": region, **aws}
        self.workforce_store = Workforce(state, region, account)

    # -- the backend interface ----------------------------------------------------

    def check_modality(self, modality: str) -> None:
        if base_modality(modality) not in VIDEO_MODALITIES:
            raise LabellakeError(
                f"the local workforce labels video clips (VideoObjectTracking, "
                f"VideoObjectDetection and their audits), not {modality}; run this job on "
                "the simulated backend"
            )

    def check_workteam(self, workteam_arn: str) -> None:
        team = team_of(workteam_arn)
        try:
            self.workforce_store.team(team)
        except NotFoundError:
            raise LabellakeError(
                f"no local work team '{team}'; add it with `labellake workforce add-team "
                f"{team}` and its workers with `labellake workforce add-worker --team {team}`"
            ) from None

    def create_job(self, request: JobRequest) -> None:
        lines = formats.parse_manifest(
            self._read(request.input_manifest_uri), request.input_manifest_uri
        )
        with self.state.transaction() as con:
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
                    RUNNING,
                    self.clock(),
                ),
            )
            con.executemany(
                "INSERT INTO work_tasks (job_id, data_object_id, source_ref, line, status) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        request.job_id,
                        index,
                        line.get("source-ref") or line.get("source"),
                        json.dumps(line),
                        QUEUED,
                    )
                    for index, line in enumerate(lines)
                ],
            )

    def describe_job(self, job_id: str) -> JobStatus:
        self.expire()
        job = self._job(job_id)
        request = JobRequest(**json.loads(job["request"]))
        manifest_uri = output_manifest_uri(request.output_prefix_uri, job_id)
        if job["status"] == STOPPED:
            return JobStatus(STOPPED, failure_reason="stopped on request")
        with self.state.connect() as con:
            rows = con.execute(
                "SELECT status, output FROM work_tasks WHERE job_id = ? ORDER BY data_object_id",
                (job_id,),
            ).fetchall()
        left = sum(row["status"] != SUBMITTED for row in rows)
        if left:
            lifetime = request.task_availability_lifetime_s
            if self.clock() - job["created_at"] > lifetime:
                return JobStatus(
                    FAILED,
                    failure_reason=(
                        f"{left} of {len(rows)} tasks were not submitted within "
                        f"taskAvailabilityLifetimeInSeconds ({lifetime} s)"
                    ),
                )
            return JobStatus(IN_PROGRESS)
        out, key = locate(manifest_uri, **self.aws)
        if not out.exists(key):
            self._write_events(job_id, request)
            out.write_text(key, formats.manifest_text([json.loads(r["output"]) for r in rows]))
        if job["status"] != COMPLETED:
            with self.state.transaction() as con:
                con.execute("UPDATE work_jobs SET status = ? WHERE job_id = ?", (COMPLETED, job_id))
        return JobStatus(COMPLETED, output_manifest_uri=manifest_uri)

    def stop_job(self, job_id: str) -> None:
        with self.state.transaction() as con:
            job = con.execute("SELECT * FROM work_jobs WHERE job_id = ?", (job_id,)).fetchone()
            if job is None or job["status"] != RUNNING:
                return
            con.execute("UPDATE work_jobs SET status = ? WHERE job_id = ?", (STOPPED, job_id))
        self._write_events(job_id, JobRequest(**json.loads(job["request"])))

    def progress(self, job_id: str) -> dict[str, int] | None:
        """Tasks of a job by state (waiting, held, submitted, total); None if unknown here."""
        with self.state.connect() as con:
            row = con.execute(
                "SELECT count(*) AS total, sum(status = 'QUEUED') AS waiting, "
                "sum(status = 'ACCEPTED') AS held, sum(status = 'SUBMITTED') AS submitted "
                "FROM work_tasks WHERE job_id = ?",
                (job_id,),
            ).fetchone()
        if not row or not row["total"]:
            return None
        return {key: int(row[key] or 0) for key in ("waiting", "held", "submitted", "total")}

    def forget(self, job_name: str) -> None:
        """Drop a deleted batch's job (every attempt), its tasks and events."""
        with self.state.transaction() as con:
            con.execute("DELETE FROM work_jobs WHERE job_name = ?", (job_name,))

    def workforce(self) -> list[dict[str, Any]]:
        return []  # local teams are listed by the Workforce itself

    # -- the worker's side -----------------------------------------------------------

    def expire(self) -> int:
        """Put every task whose lease ran out back in the queue; returns how many."""
        now = self.clock()
        with self.state.transaction() as con:
            rows = con.execute(
                TASK_ROWS + "WHERE t.status = ? AND t.lease_expires <= ?",
                (ACCEPTED, now),
            ).fetchall()
            for row in rows:
                con.execute(
                    "UPDATE work_tasks SET status = ?, worker = NULL, accepted_at = NULL, "
                    "lease_expires = NULL, draft = NULL WHERE job_id = ? AND data_object_id = ?",
                    (QUEUED, row["job_id"], row["data_object_id"]),
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

    def queue(self, account: str) -> list[dict[str, Any]]:
        """The running jobs of the worker's teams: tasks waiting, held and done."""
        self.expire()
        teams = [t.lower() for t in self.workforce_store.teams_of(account)]
        if not teams:
            return []
        marks = ", ".join("?" for _ in teams)
        with self.state.connect() as con:
            rows = con.execute(
                "SELECT j.job_id, j.job_name, j.batch_id, j.team, j.request, "
                "sum(t.status = 'QUEUED') AS waiting, sum(t.status = 'ACCEPTED') AS held, "
                "sum(t.status = 'SUBMITTED') AS submitted, count(*) AS tasks, "
                "sum(t.status = 'ACCEPTED' AND t.worker = ?) AS mine "
                f"FROM work_jobs AS j JOIN work_tasks AS t USING (job_id) "
                f"WHERE j.status = ? AND lower(j.team) IN ({marks}) "
                "GROUP BY j.job_id ORDER BY j.created_at, j.rowid",
                (account, RUNNING, *teams),
            ).fetchall()
        result = []
        for row in rows:
            request = json.loads(row["request"])
            result.append(
                {
                    "jobId": row["job_id"],
                    "jobName": row["job_name"],
                    "batchId": row["batch_id"],
                    "team": row["team"],
                    "modality": request["modality"],
                    "waiting": row["waiting"],
                    "held": row["held"],
                    "mine": row["mine"],
                    "submitted": row["submitted"],
                    "tasks": row["tasks"],
                    "maxConcurrentTaskCount": request["max_concurrent_task_count"],
                    "taskTimeLimitInSeconds": request["task_time_limit_s"],
                }
            )
        return result

    def held(self, account: str) -> list[Task]:
        """The tasks this worker holds now."""
        self.expire()
        with self.state.connect() as con:
            rows = con.execute(
                TASK_ROWS + "WHERE t.status = ? AND t.worker = ? ORDER BY t.accepted_at",
                (ACCEPTED, account),
            ).fetchall()
        return [_task(row) for row in rows]

    def claim(self, account: str, job_id: str | None = None) -> Task:
        """The next waiting task of the worker's teams (of ``job_id`` if given), now held
        by this worker; a task the worker holds already in that job is handed back."""
        self.expire()
        teams = [t.lower() for t in self.workforce_store.teams_of(account)]
        if not teams:
            raise TaskError(
                f"{account} is in no work team; an admin adds them with "
                f"`labellake workforce add-worker --team TEAM --name {account}`"
            )
        now = self.clock()
        marks = ", ".join("?" for _ in teams)
        with self.state.transaction() as con:
            jobs = con.execute(
                f"SELECT * FROM work_jobs WHERE status = ? AND lower(team) IN ({marks}) "
                + ("AND job_id = ? " if job_id else "")
                + "ORDER BY created_at, rowid",
                (RUNNING, *teams, *([job_id] if job_id else [])),
            ).fetchall()
            if job_id and not jobs:
                raise TaskError(self._why_not_yours(con, job_id, account))
            full = []
            for job in jobs:
                mine = con.execute(
                    "SELECT data_object_id FROM work_tasks WHERE job_id = ? AND status = ? "
                    "AND worker = ?",
                    (job["job_id"], ACCEPTED, account),
                ).fetchone()
                if mine is not None:
                    return self._load(con, job["job_id"], mine["data_object_id"])
                request = json.loads(job["request"])
                held = con.execute(
                    "SELECT count(*) FROM work_tasks WHERE job_id = ? AND status = ?",
                    (job["job_id"], ACCEPTED),
                ).fetchone()[0]
                if held >= request["max_concurrent_task_count"]:
                    full.append(job["job_name"])
                    continue
                for row in con.execute(
                    "SELECT data_object_id, declined_by FROM work_tasks WHERE job_id = ? AND "
                    "status = ? ORDER BY data_object_id",
                    (job["job_id"], QUEUED),
                ):
                    if account.lower() in json.loads(row["declined_by"]):
                        continue
                    expires = now + request["task_time_limit_s"]
                    con.execute(
                        "UPDATE work_tasks SET status = ?, worker = ?, accepted_at = ?, "
                        "lease_expires = ? WHERE job_id = ? AND data_object_id = ? AND status = ?",
                        (
                            ACCEPTED,
                            account,
                            now,
                            expires,
                            job["job_id"],
                            row["data_object_id"],
                            QUEUED,
                        ),
                    )
                    task = self._load(con, job["job_id"], row["data_object_id"])
                    self._event(con, self._row(con, task), account, "TasksAccepted", accepted=now)
                    return task
            if full:
                raise TaskError(
                    f"every task slot of {', '.join(full)} is taken (maxConcurrentTaskCount); "
                    "try again when a worker submits or returns one"
                )
        raise TaskError("no task is waiting for you now; come back when a new batch starts")

    def open(self, account: str, key: str) -> TaskWork:
        """A held task with its frames, label config and the work so far."""
        task = self._own(account, key)
        with self.state.connect() as con:
            row = self._row(con, task)
        request = JobRequest(**json.loads(row["request"]))
        config = formats.parse_label_config(
            self._read(request.label_config_uri), request.label_config_uri
        )
        sequence = formats.parse_sequence(self._read(task.source_ref), task.source_ref)
        frames = [(name, _join(sequence.prefix, name)) for _, name in sequence.frames]
        names = [name for name, _ in frames]
        original = None
        if task.audit:
            line = json.loads(row["line"])
            parent_ref = line.get(config.get("auditLabelAttributeName") or "")
            if not parent_ref:
                raise TaskError(
                    f"{request.input_manifest_uri}: the line for {task.source_ref} has no "
                    f"'{config.get('auditLabelAttributeName')}' labels to audit"
                )
            parent = simulation.parse_seqlabel(
                json.loads(self._read(parent_ref)), formats.annotation_type(config)
            )
            original = geometry.from_frame_labels(parent, names, formats.class_map(config))
        draft = (
            json.loads(row["draft"]) if row["draft"] else (original or geometry.empty_draft(names))
        )
        instructions = (config.get("instructions") or {}).get("shortInstruction", "")
        return TaskWork(task, config, frames, draft, original, instructions)

    def save_draft(self, account: str, key: str, draft: dict[str, Any]) -> None:
        """Keep the work in progress (a reload or a new sign-in continues from it)."""
        task = self._own(account, key)
        with self.state.transaction() as con:
            con.execute(
                "UPDATE work_tasks SET draft = ? WHERE job_id = ? AND data_object_id = ? "
                "AND status = ? AND worker = ?",
                (json.dumps(draft), task.job_id, task.data_object_id, ACCEPTED, account),
            )

    def return_task(self, account: str, key: str) -> None:
        self._release(account, key, "TasksReturned")

    def decline_task(self, account: str, key: str) -> None:
        """Give the task back and never be offered it again."""
        self._release(account, key, "TasksDeclined")

    def submit(
        self, account: str, key: str, draft: dict[str, Any], width: int, height: int
    ) -> dict[str, Any]:
        """Check the labels and write the task's SeqLabel.json and worker response.

        Nothing is written when the lease is gone or the labels do not pass the checks.
        """
        work = self.open(account, key)  # checks that this worker holds the task
        task = work.task
        problems = geometry.validate(draft, work.config, width, height, audit=task.audit)
        if not problems and len(draft["frames"]) != len(work.frames):
            problems = [
                f"the labels cover {len(draft['frames'])} frames; the clip has {len(work.frames)}"
            ]
        if problems:
            raise DraftRejected(problems)
        with self.state.connect() as con:
            row = self._row(con, task)
        request = JobRequest(**json.loads(row["request"]))
        submitted = self.clock()
        accepted = dt.datetime.fromtimestamp(row["accepted_at"], dt.UTC)
        moment = dt.datetime.fromtimestamp(submitted, dt.UTC)
        job_root = request.output_prefix_uri.rstrip("/") + f"/{request.job_id}"
        job_store = type(self.objects).from_uri(job_root, **self.aws)
        seq_key = f"annotations/consolidated-annotation/output/{task.data_object_id}/SeqLabel.json"
        frames = geometry.to_frame_labels(draft, work.config)
        adjustment = None
        if task.audit:
            adjustment = (
                "adjusted" if geometry.adjusted(work.original or {}, draft) else "unadjusted"
            )
        entry = dict(json.loads(row["line"]))
        stamp = moment.strftime("%Y-%m-%d_%H:%M:%S.%f")[:-3]
        response_key = f"annotations/worker-response/iteration-1/{task.data_object_id}/{stamp}.json"
        written = [
            job_store.write_text(
                seq_key,
                json.dumps(
                    formats.seqlabel_document(frames, tracking="Tracking" in request.modality)
                ),
            )
        ]
        entry[request.label_attribute_name] = job_store.uri(seq_key)
        entry[f"{request.label_attribute_name}-metadata"] = formats.label_metadata(
            request.job_id, work.config, request.modality, moment, adjustment
        )
        written.append(
            job_store.write_text(
                response_key,
                json.dumps(
                    formats.worker_response_document(
                        worker_id(account),
                        _sub(account),
                        accepted,
                        moment,
                        {"trackingAnnotations": {"frameData": {"entries": []}}},
                        self.region,
                        self._user_pool,
                    )
                ),
            )
        )
        with self.state.transaction() as con:
            done = con.execute(
                "UPDATE work_tasks SET status = ?, submitted_at = ?, lease_expires = NULL, "
                "output = ?, draft = ? WHERE job_id = ? AND data_object_id = ? AND status = ? "
                "AND worker = ? AND lease_expires > ?",
                (
                    SUBMITTED,
                    submitted,
                    json.dumps(entry),
                    json.dumps(draft),
                    task.job_id,
                    task.data_object_id,
                    ACCEPTED,
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
        if not done:
            for uri in written:
                store, object_key = locate(uri, **self.aws)
                store.delete(object_key)
            raise TaskError(
                f"your lease on task {key} ended before the submission; nothing was saved. "
                "Claim the task again to label it"
            )
        return {
            "task": key,
            "seqLabel": entry[request.label_attribute_name],
            "workerResponse": job_store.uri(response_key),
            "timeSpentInSeconds": round(submitted - row["accepted_at"], 3),
            "adjustmentStatus": adjustment,
        }

    def events(self, job_id: str) -> list[dict[str, str]]:
        with self.state.connect() as con:
            rows = con.execute(
                "SELECT event FROM work_events WHERE job_id = ? ORDER BY id", (job_id,)
            ).fetchall()
        return [json.loads(row["event"]) for row in rows]

    # -- helpers ------------------------------------------------------------------------

    @property
    def _user_pool(self) -> str:
        return f"{self.region}_labellake"

    def _read(self, uri: str) -> str:
        return read_uri(uri, **self.aws).decode("utf-8")

    def _job(self, job_id: str) -> dict[str, Any]:
        with self.state.connect() as con:
            row = con.execute("SELECT * FROM work_jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"the local workforce has no job '{job_id}'")
        return dict(row)

    @staticmethod
    def _split(key: str) -> tuple[str, int]:
        job_id, _, number = key.rpartition("/")
        try:
            return job_id, int(number)
        except ValueError:
            raise NotFoundError(
                f"task '{key}' is not a task key; a key looks like <job>/<data object number>"
            ) from None

    def _load(self, con: Any, job_id: str, data_object_id: int) -> Task:
        row = con.execute(
            TASK_ROWS + "WHERE t.job_id = ? AND t.data_object_id = ?", (job_id, data_object_id)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no task {job_id}/{data_object_id}")
        return _task(row)

    @staticmethod
    def _row(con: Any, task: Task) -> Any:
        return con.execute(
            TASK_ROWS + "WHERE t.job_id = ? AND t.data_object_id = ?",
            (task.job_id, task.data_object_id),
        ).fetchone()

    def _why_not_yours(self, con: Any, job_id: str, account: str) -> str:
        job = con.execute("SELECT * FROM work_jobs WHERE job_id = ?", (job_id,)).fetchone()
        if job is None:
            return f"no labeling job '{job_id}' in the local workforce's queue"
        if job["team"].lower() not in [t.lower() for t in self.workforce_store.teams_of(account)]:
            return (
                f"job {job['job_name']} belongs to team {job['team']}, and {account} is not in "
                "it; only its team's workers see its tasks"
            )
        return (
            f"job {job['job_name']} is {job['status'].lower().replace('_', ' ')}, not taking work"
        )

    def _own(self, account: str, key: str) -> Task:
        """The task, if this worker holds it now; TaskError saying why not otherwise."""
        self.expire()
        job_id, number = self._split(key)
        with self.state.connect() as con:
            job = con.execute("SELECT * FROM work_jobs WHERE job_id = ?", (job_id,)).fetchone()
            if job is None or job["team"].lower() not in [
                t.lower() for t in self.workforce_store.teams_of(account)
            ]:
                raise TaskError(self._why_not_yours(con, job_id, account))
            task = self._load(con, job_id, number)
        if task.status == SUBMITTED:
            raise TaskError(f"task {key} was submitted already")
        if task.status != ACCEPTED or (task.worker or "").lower() != account.lower():
            raise TaskError(
                f"you do not hold task {key} (its lease ended or it was returned); claim a "
                "task from the queue"
            )
        if self.clock() >= (task.lease_expires or 0):
            raise TaskError(f"your lease on task {key} expired; claim it again")
        return task

    def _release(self, account: str, key: str, event_type: str) -> None:
        task = self._own(account, key)
        now = self.clock()
        with self.state.transaction() as con:
            row = self._row(con, task)
            declined = json.loads(row["declined_by"])
            if event_type == "TasksDeclined":
                declined.append(account.lower())
            con.execute(
                "UPDATE work_tasks SET status = ?, worker = NULL, accepted_at = NULL, "
                "lease_expires = NULL, draft = NULL, declined_by = ? WHERE job_id = ? AND "
                "data_object_id = ? AND status = ? AND worker = ?",
                (QUEUED, json.dumps(declined), task.job_id, task.data_object_id, ACCEPTED, account),
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
        request = json.loads(row["request"])
        event = formats.activity_event(
            worker_id=worker_id(account),
            sub=_sub(account),
            user_pool=self._user_pool,
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

    def _write_events(self, job_id: str, request: JobRequest) -> None:
        job_root = request.output_prefix_uri.rstrip("/") + f"/{job_id}"
        store = type(self.objects).from_uri(job_root, **self.aws)
        events = self.events(job_id)
        events.sort(key=lambda e: int(e["event_timestamp"]))
        store.write_text(
            "worker-activity/events.jsonl", "".join(json.dumps(e) + "\n" for e in events)
        )


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


def _sub(account: str) -> str:
    """A stable identity-provider subject for a local worker."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"labellake:worker:{account.lower()}"))


def _join(prefix: str, name: str) -> str:
    return name if "://" in name or name.startswith("/") else prefix.rstrip("/") + "/" + name


__all__ = ["DraftRejected", "LocalBackend", "Task", "TaskError", "TaskWork"]
