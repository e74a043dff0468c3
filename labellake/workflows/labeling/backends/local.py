"""The local labeling backend: people label in the portal.

Each job puts one task per data object in its work team's queue (the task queue
of local_tasks.py, in the state db). A worker of the team claims a task and holds it for the job's
taskTimeLimitInSeconds; returns, declines and expired leases put it back in
the queue. At most maxConcurrentTaskCount tasks of a job are held at once, and
a claim is one transaction, so two workers never hold the same task.

Submitting writes what Ground Truth writes for the task: its SeqLabel.json and
its worker-response file (with the real acceptance and submission times).
Every accept, submit, return, decline and expiry is a worker activity event in
Ground Truth's format. When the last task is in, ``describe_job`` writes the
output manifest and the events file, and the engine carries on as for any job.

The rule: this module holds the backend's decisions and the files it writes; every
read and write of the queue goes through ``TaskQueue``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labellake.aws_clients import AwsTarget
from labellake.errors import LabellakeError, NotFoundError
from labellake.lake import ObjectStore
from labellake.lake.store import locate, read_uri
from labellake.workflows.labeling import drafts, formats, simulation
from labellake.workflows.labeling.backends import (
    BackendJobStatus,
    JobRequest,
    JobStatus,
    output_manifest_uri,
)
from labellake.workflows.labeling.backends.local_tasks import (
    Task,
    TaskError,
    TaskQueue,
    WorkJobStatus,
    WorkTaskStatus,
    sub,
    team_of,
    user_pool,
)
from labellake.workflows.labeling.spec import VIDEO_MODALITIES, base_modality
from labellake.workflows.people.workforce import Workforce, worker_id
from labellake.workflows.quality import consensus
from labellake.workflows.statedb import OnStateDb, StateDb, state_db


class DraftRejected(TaskError):
    """Labels that do not pass the checks; ``problems`` names each frame and object."""

    def __init__(self, problems: list[str]) -> None:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(problems[0] + more)
        self.problems = problems


@dataclass
class TaskWork:
    """Everything the labeling page needs for one task."""

    task: Task
    config: dict[str, Any]
    frames: list[tuple[str, str]]  # (frame file name, URI)
    draft: dict[str, Any]  # the work so far (or the parent's labels for an audit)
    original: dict[str, Any] | None  # an audit's starting point, to tell adjusted from not
    instructions: str


class LocalBackend:
    name = "local"
    poll_interval_s = 1.0

    def __init__(
        self,
        state: StateDb | OnStateDb,
        objects: ObjectStore,
        account: str = "111122223333",
        clock: Callable[[], float] = time.time,
        aws: AwsTarget | None = None,
    ) -> None:
        db = state_db(state)
        self.aws = aws or AwsTarget("us-east-1")
        region = self.region = self.aws.region
        self.objects = objects
        self.account = account
        self.clock = clock
        self.workforce_store = Workforce(db, region, account)
        self.tasks = TaskQueue(db, region, account)

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

    def team_size(self, workteam_arn: str) -> int:
        """Workers in the local team (a consensus job needs at least consensusCount)."""
        try:
            return len(self.workforce_store.team(team_of(workteam_arn))["workers"])
        except NotFoundError:
            return 0  # check_workteam says the team is missing

    def create_job(self, request: JobRequest) -> None:
        lines = formats.parse_manifest(
            self._read(request.input_manifest_uri), request.input_manifest_uri
        )
        self.tasks.add_job(request, lines, self.clock())

    def describe_job(self, job_id: str) -> JobStatus:
        self.expire()
        job = self.tasks.job(job_id)
        request = JobRequest(**json.loads(job["request"]))
        manifest_uri = output_manifest_uri(request.output_prefix_uri, job_id)
        if job["status"] == WorkJobStatus.STOPPED:
            return JobStatus(BackendJobStatus.STOPPED, failure_reason="stopped on request")
        rows = self.tasks.outputs(job_id)
        left = sum(row["status"] != WorkTaskStatus.SUBMITTED for row in rows)
        if left:
            lifetime = request.task_availability_lifetime_s
            if self.clock() - job["created_at"] > lifetime:
                return JobStatus(
                    BackendJobStatus.FAILED,
                    failure_reason=(
                        f"{left} of {len(rows)} tasks were not submitted within "
                        f"taskAvailabilityLifetimeInSeconds ({lifetime} s)"
                    ),
                )
            return JobStatus(BackendJobStatus.IN_PROGRESS)
        out, key = locate(manifest_uri, **self.aws.kwargs)
        if not out.exists(key):
            self._write_events(job_id, request)
            lines = [json.loads(r["output"]) for r in rows]
            if request.workers_per_object > 1:
                lines = self._consolidate(request, rows)
            out.write_text(key, formats.manifest_text(lines))
        if job["status"] != WorkJobStatus.COMPLETED:
            self.tasks.complete(job_id)
        return JobStatus(BackendJobStatus.COMPLETED, output_manifest_uri=manifest_uri)

    def stop_job(self, job_id: str) -> None:
        job = self.tasks.stop(job_id)
        if job is not None:
            self._write_events(job_id, JobRequest(**json.loads(job["request"])))

    def progress(self, job_id: str) -> dict[str, int] | None:
        """Tasks of a job by state (waiting, held, submitted, total); None if unknown here."""
        return self.tasks.progress(job_id)

    def forget(self, job_name: str) -> None:
        """Drop a deleted batch's job (every attempt), its tasks and events."""
        self.tasks.forget(job_name)

    def workforce(self) -> list[dict[str, Any]]:
        return []  # local teams are listed by the Workforce itself

    # -- the worker's side -----------------------------------------------------------

    def expire(self) -> int:
        """Put every task whose lease ran out back in the queue; returns how many."""
        return self.tasks.expire(self.clock())

    def queue(self, account: str) -> list[dict[str, Any]]:
        """The running jobs of the worker's teams: tasks waiting, held and done."""
        self.expire()
        teams = self._teams(account)
        if not teams:
            return []
        result = []
        for row in self.tasks.running_jobs(account, teams):
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
        return self.tasks.held(account)

    def claim(self, account: str, job_id: str | None = None) -> Task:
        """The next waiting task of the worker's teams (of ``job_id`` if given), now held
        by this worker; a task the worker holds already in that job is handed back."""
        self.expire()
        teams = self._teams(account)
        if not teams:
            raise TaskError(
                f"{account} is in no work team; an admin adds them with "
                f"`labellake workforce add-worker --team TEAM --name {account}`"
            )
        return self.tasks.claim(account, teams, job_id, self.clock())

    def open(self, account: str, key: str) -> TaskWork:
        """A held task with its frames, label config and the work so far."""
        task = self._own(account, key)
        row = self.tasks.row(task)
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
            original = drafts.from_frame_labels(parent, names, formats.class_map(config))
        draft = (
            json.loads(row["draft"]) if row["draft"] else (original or drafts.empty_draft(names))
        )
        instructions = (config.get("instructions") or {}).get("shortInstruction", "")
        return TaskWork(task, config, frames, draft, original, instructions)

    def save_draft(self, account: str, key: str, draft: dict[str, Any]) -> None:
        """Keep the work in progress (a reload or a new sign-in continues from it)."""
        self.tasks.save_draft(self._own(account, key), account, draft)

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
        problems = drafts.validate(draft, work.config, width, height, audit=task.audit)
        if not problems and len(draft["frames"]) != len(work.frames):
            problems = [
                f"the labels cover {len(draft['frames'])} frames; the clip has {len(work.frames)}"
            ]
        if problems:
            raise DraftRejected(problems)
        row = self.tasks.row(task)
        request = JobRequest(**json.loads(row["request"]))
        submitted = self.clock()
        accepted = dt.datetime.fromtimestamp(row["accepted_at"], dt.UTC)
        moment = dt.datetime.fromtimestamp(submitted, dt.UTC)
        job_root = request.output_prefix_uri.rstrip("/") + f"/{request.job_id}"
        job_store = type(self.objects).from_uri(job_root, **self.aws.kwargs)
        index = self.tasks.data_object(task, request.workers_per_object)
        seq_key = f"annotations/consolidated-annotation/output/{index}/SeqLabel.json"
        if request.workers_per_object > 1:  # each worker's own; consolidated at the end
            seq_key = f"annotations/worker-labels/{index}/{task.data_object_id}/SeqLabel.json"
        frames = drafts.to_frame_labels(draft, work.config)
        adjustment = None
        if task.audit:
            adjustment = "adjusted" if drafts.adjusted(work.original or {}, draft) else "unadjusted"
        entry = dict(json.loads(row["line"]))
        stamp = moment.strftime("%Y-%m-%d_%H:%M:%S.%f")[:-3]
        response_key = f"annotations/worker-response/iteration-1/{index}/{stamp}.json"
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
                        sub(account),
                        accepted,
                        moment,
                        {"trackingAnnotations": {"frameData": {"entries": []}}},
                        self.region,
                        user_pool(self.region),
                    )
                ),
            )
        )
        done = self.tasks.submit(row, account, submitted, entry, draft)
        if not done:
            for uri in written:
                store, object_key = locate(uri, **self.aws.kwargs)
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
        return self.tasks.events(job_id)

    # -- helpers ------------------------------------------------------------------------

    def _consolidate(self, request: JobRequest, rows: list[Any]) -> list[dict[str, Any]]:
        """A consensus job's output lines: per data object, its workers' labels matched and
        consolidated (``quality.consensus``), with the agreement in a consensus file."""
        config = formats.parse_label_config(
            self._read(request.label_config_uri), request.label_config_uri
        )
        class_ids = {label: int(cid) for cid, label in formats.class_map(config).items()}
        kind = formats.annotation_type(config)
        job_root = request.output_prefix_uri.rstrip("/") + f"/{request.job_id}"
        job_store = type(self.objects).from_uri(job_root, **self.aws.kwargs)
        size = len(rows) // request.workers_per_object
        lines = []
        for index in range(size):
            replicas = [rows[r * size + index] for r in range(request.workers_per_object)]
            entries = [json.loads(row["output"]) for row in replicas]
            answers = {
                worker_id(row["worker"]): simulation.parse_seqlabel(
                    json.loads(self._read(entry[request.label_attribute_name])), kind
                )
                for row, entry in zip(replicas, entries, strict=True)
            }
            first = entries[0]
            names = [frame.frame for frame in next(iter(answers.values()))]
            agreed = consensus.clip_consensus(
                answers, names, class_ids, request.job_id, str(first.get("source-ref"))
            )
            seq_key = f"annotations/consolidated-annotation/output/{index}/SeqLabel.json"
            job_store.write_text(
                seq_key,
                json.dumps(
                    formats.seqlabel_document(
                        agreed.frames, tracking="Tracking" in request.modality
                    )
                ),
            )
            consensus_key = f"annotations/consensus/{index}.json"
            job_store.write_text(
                consensus_key, json.dumps({"objects": agreed.objects, "pairs": agreed.pairs})
            )
            lines.append(
                {
                    **first,
                    request.label_attribute_name: job_store.uri(seq_key),
                    formats.CONSENSUS_KEY: job_store.uri(consensus_key),
                }
            )
        return lines

    def _read(self, uri: str) -> str:
        return read_uri(uri, **self.aws.kwargs).decode("utf-8")

    def _teams(self, account: str) -> list[str]:
        return [t.lower() for t in self.workforce_store.teams_of(account)]

    @staticmethod
    def _split(key: str) -> tuple[str, int]:
        job_id, _, number = key.rpartition("/")
        try:
            return job_id, int(number)
        except ValueError:
            raise NotFoundError(
                f"task '{key}' is not a task key; a key looks like <job>/<data object number>"
            ) from None

    def _own(self, account: str, key: str) -> Task:
        """The task, if this worker holds it now; TaskError saying why not otherwise."""
        self.expire()
        job_id, number = self._split(key)
        task = self.tasks.task(account, self._teams(account), job_id, number)
        if task.status == WorkTaskStatus.SUBMITTED:
            raise TaskError(f"task {key} was submitted already")
        if task.status != WorkTaskStatus.ACCEPTED or (task.worker or "").lower() != account.lower():
            raise TaskError(
                f"you do not hold task {key} (its lease ended or it was returned); claim a "
                "task from the queue"
            )
        if self.clock() >= (task.lease_expires or 0):
            raise TaskError(f"your lease on task {key} expired; claim it again")
        return task

    def _release(self, account: str, key: str, event_type: str) -> None:
        self.tasks.release(self._own(account, key), account, event_type, self.clock())

    def _write_events(self, job_id: str, request: JobRequest) -> None:
        job_root = request.output_prefix_uri.rstrip("/") + f"/{job_id}"
        store = type(self.objects).from_uri(job_root, **self.aws.kwargs)
        events = self.events(job_id)
        events.sort(key=lambda e: int(e["event_timestamp"]))
        store.write_text(
            "worker-activity/events.jsonl", "".join(json.dumps(e) + "\n" for e in events)
        )


def _join(prefix: str, name: str) -> str:
    return name if "://" in name or name.startswith("/") else prefix.rstrip("/") + "/" + name


__all__ = ["DraftRejected", "LocalBackend", "Task", "TaskError", "TaskWork"]
