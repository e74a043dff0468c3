"""The batch lifecycle as idempotent steps over the state store.

submit (transform/validate) -> for each level: start its jobs, poll until all
finish -> finish (lake, notification). Post-processing between levels
(downsampling and the QA filter hook) happens when a chained job's input
manifest is built from its parent's output. Any failure moves the batch and
all its unfinished children to INTERNAL_ERROR and notifies.

Each step is a public method that can be called on its own, by the embedded
runner or by an external orchestrator (a Step Functions task worker). Every
step is safe to repeat after a crash: side effects are deterministic and
atomic (object writes, idempotent backend calls), and the state change that
records them comes last, in one transaction.

The parts of the steps live beside this file: intake.py (the checks of step 1 and the
records a request becomes), chaining.py (what a chained job sees of its parent),
control.py (stop, retry, downsampling), deletion.py and views.py (batch/show).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labellake.aws_clients import AwsTarget
from labellake.errors import ConflictError, LabellakeError, NotFoundError
from labellake.etl.batches import batches_table, jobs_table
from labellake.lake import Lake, ObjectStore
from labellake.lake.inputs import InputPolicy
from labellake.lake.store import locate, read_uri
from labellake.workflows.labeling import chaining, control, deletion, formats, intake, views
from labellake.workflows.labeling.backends import (
    BackendJobStatus,
    JobRequest,
    LabelingBackend,
    output_manifest_uri,
)
from labellake.workflows.labeling.spec import (
    LabelingJobSpec,
    QaFilter,
    SpecError,
    parse_request,
)
from labellake.workflows.labeling.status import (
    FINAL_BATCH_STATUSES,
    BatchStatus,
    LabelingJobStatus,
    LevelStatus,
)
from labellake.workflows.labeling.store import (
    BatchStore,
    Event,
    Notice,
    now,
    parse_timestamp,
    timestamp,
)
from labellake.workflows.labeling.views import level_key, level_name

if TYPE_CHECKING:
    from labellake.workflows.labeling.stepfunctions import StepFunctions

log = logging.getLogger(__name__)

COMPLETE_MESSAGE = "Batch processing has completed successfully."
FAILED_MESSAGE = "Batch processing failed"

# A QA filter picks, from a parent job's output manifest lines, those the next level sees:
# (parent job, chained job, lines, the job's qaFilter) -> lines.
QaFilterHook = Callable[
    [dict[str, Any], dict[str, Any], list[dict[str, Any]], QaFilter], list[dict[str, Any]]
]
# Told what a chained job will see of its parent when whole data objects were chosen:
# (parent job, chained job, kept lines, mode: all, sampling or flagged, sampling rate 0-1).
RoutedHook = Callable[[dict[str, Any], dict[str, Any], list[dict[str, Any]], str, float], None]


@dataclass
class EngineConfig:
    aws: AwsTarget = AwsTarget("us-east-1")
    account: str = "111122223333"
    job_timeout_s: float = 14 * 24 * 3600
    webhook_url: str | None = None
    topic_arn: str | None = None  # SNS topic of batches that name no destinationSnsArn
    seed: int = 0

    @property
    def region(self) -> str:
        return self.aws.region


class JobFailed(LabellakeError):
    """A labeling job ended in Failed or Stopped, or ran past its deadline."""


class Engine:
    def __init__(
        self,
        state_store: BatchStore,
        objects: ObjectStore,
        lake: Lake,
        backend: LabelingBackend,
        config: EngineConfig | None = None,
        qa_filter: QaFilterHook | None = None,
        clock: Callable[[], dt.datetime] = now,
        backends: dict[str, LabelingBackend] | None = None,
        inputs: InputPolicy | None = None,
        orchestrator: StepFunctions | None = None,
    ) -> None:
        self.state = state_store
        self.objects = objects
        self.lake = lake
        self.backend = backend  # the default: for jobs whose request names no backend
        self.backends = {backend.name: backend, **(backends or {})}
        self.config = config or EngineConfig()
        self.qa_filter = qa_filter
        self.on_routed: RoutedHook | None = None
        # Where a request's URIs may point (checked once, when the batch is submitted).
        self.inputs = inputs or InputPolicy.build(
            [objects.root] if objects.is_local else [], aws=self.config.aws
        )
        self.clock = clock
        # Called with (engine, batch_id) when a batch completes, before it is marked COMPLETE.
        self.on_complete: list[Callable[[Engine, str], None]] = []
        # Called with (engine, job_name) after a job completes (its ETL, for one).
        self.on_job_complete: list[Callable[[Engine, str], None]] = []
        # Called with (engine, batch_id) once a batch is recorded IN_PROGRESS (submitted or
        # retried), and after it is stopped: an orchestrator starts or stops its run.
        self.on_start: list[Callable[[Engine, str], None]] = []
        self.on_stop: list[Callable[[Engine, str], None]] = []
        self._last_poll: dict[str, float] = {}
        # What starts and stops batches when not the embedded runner (Step Functions).
        self.orchestrator = orchestrator
        if orchestrator is not None:
            orchestrator.install(self)

    # -- reading objects --------------------------------------------------------

    def read(self, uri: str) -> str:
        return read_uri(uri, **self.config.aws.kwargs).decode("utf-8")

    def _write(self, uri: str, text: str) -> str:
        store, key = locate(uri, **self.config.aws.kwargs)
        return store.write_text(key, text)

    # -- step 1: transform and validate --------------------------------------------

    def submit(self, payload: bytes | str | dict[str, Any], actor: str | None = None) -> str:
        """Validate a batch request and record it IN_PROGRESS; returns the batch id.

        Nothing is recorded if any check fails (SpecError names the field).
        """
        request = parse_request(payload)
        problems, configs = intake.check_request(self, request)
        if problems:
            raise SpecError(problems)
        created = timestamp(self.clock())
        try:
            self.state.create_batch(
                *intake.records(self, request, created, configs),
                Event(
                    "BatchCreated",
                    batch_id=request.batch_id,
                    actor=actor,
                    payload={"jobs": len(request.labeling_jobs), "levels": len(request.levels)},
                ),
            )
        except ConflictError as exc:
            # Another submission took a name between the check and the insert.
            raise SpecError([{"field": "batchId", "message": str(exc)}]) from exc
        self._started(request.batch_id)
        return request.batch_id

    def _started(self, batch_id: str) -> None:
        for hook in self.on_start:
            try:
                hook(self, batch_id)
            except LabellakeError:
                # The batch is recorded; the orchestrator's workers start it when they see
                # it has no run yet.
                log.warning("batch %s: could not start its run", batch_id, exc_info=True)

    def backend_of(self, job: dict[str, Any]) -> LabelingBackend:
        """The backend that runs ``job`` (a job row)."""
        name = job.get("backend") or self.backend.name
        try:
            return self.backends[name]
        except KeyError:
            raise LabellakeError(
                f"job {job['job_name']} runs on the '{name}' labeling backend, which this "
                f"deployment does not have ({', '.join(sorted(self.backends))})"
            ) from None

    # -- the driver ---------------------------------------------------------------

    def advance(self, batch_id: str) -> bool:
        """Take the batch one step further; True if anything changed."""
        batch = self._batch(batch_id)
        if batch["status"] != BatchStatus.IN_PROGRESS:
            return False
        try:
            for level in self.state.levels(batch_id):
                if level["status"] == LevelStatus.COMPLETE:
                    continue
                if level["status"] == LevelStatus.PENDING:
                    self.start_level(batch_id, level["level"])
                    return True
                return self.poll_level(batch_id, level["level"])
            self.finish(batch_id)
            return True
        except JobFailed as exc:
            self.fail(batch_id, "LabelingJobFailed", str(exc))
        except LabellakeError as exc:
            self.fail(batch_id, "InvalidInput", str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must fail the batch, not the runner
            log.error("batch %s: %s", batch_id, traceback.format_exc())
            self.fail(batch_id, "InternalError", f"{type(exc).__name__}: {exc}")
        return True

    def run_to_end(
        self, batch_id: str, sleep: Callable[[float], None] | None = None, poll_s: float = 0.2
    ) -> str:
        """Drive one batch in this process until it reaches a final status."""
        sleep = sleep or time.sleep
        while self._batch(batch_id)["status"] == BatchStatus.IN_PROGRESS:
            if not self.advance(batch_id):
                sleep(poll_s)
        return self._batch(batch_id)["status"]

    # -- step 2: start a level -----------------------------------------------------

    def start_level(self, batch_id: str, level: int) -> None:
        """Start every PENDING job of the level; the level becomes IN_PROGRESS."""
        for job in self.state.jobs(batch_id, level):
            if job["status"] == LabelingJobStatus.PENDING:
                self.start_job(job["job_name"])
        self.state.move_level(
            batch_id,
            level,
            LevelStatus.PENDING,
            LevelStatus.IN_PROGRESS,
            Event("LevelStarted", batch_id=batch_id, payload={"level": level}),
            started_at=timestamp(self.clock()),
        )

    def processing_prefix(self, job: dict[str, Any]) -> str:
        """batch_manifests/<Modality>/<batch>-<level>-<job>, as the reference lays it out."""
        return (
            f"batch_manifests/{job['modality']}/"
            f"{job['batch_id']}-{level_name(job['level'])}-{job['job_name']}"
        )

    def backend_job_id(self, job: dict[str, Any]) -> str:
        """The job's name, then `<name>-<attempt>` for a retry, within the 63-character rule."""
        if job["attempt"] <= 1:
            return job["job_name"]
        suffix = f"-{job['attempt']}"
        return job["job_name"][: 63 - len(suffix)].rstrip("-") + suffix

    def start_job(self, job_name: str) -> None:
        job = self._job(job_name)
        if job["status"] != LabelingJobStatus.PENDING:
            return
        batch = self._batch(job["batch_id"])
        spec = LabelingJobSpec.model_validate_json(job["spec"])
        prefix = self.processing_prefix(job)
        job_id = self.backend_job_id(job)
        config_uri = job["label_config_uri"]
        if job["chain_from"]:
            parent = self._job(job["chain_from"])
            config = formats.parse_label_config(
                self.read(parent["label_config_uri"]), parent["label_config_uri"]
            )
            config = chaining.chained_config(config, parent, job)
            config_uri = self.objects.write_text(
                f"{prefix}/label_category.json", json.dumps(config, indent=1)
            )
            lines, reason = chaining.chained_input(self, batch, job, parent, spec)
            input_uri = self.objects.write_text(
                f"{prefix}/input.manifest", formats.manifest_text(lines)
            )
        else:
            source = job["source_manifest_uri"]
            lines = formats.parse_manifest(self.read(source), source)
            reason = None
            rate = job["down_sampling_rate"]
            input_uri = source
            if rate is not None and rate < 100:
                lines = chaining.sample(lines, rate, job, self.config.seed)
                reason = f"downsampling at {rate:g}% kept none of the data objects"
                input_uri = self.objects.write_text(
                    f"{prefix}/input.manifest", formats.manifest_text(lines)
                )
            lines, gold = chaining.with_gold(self, batch, job, lines, spec.gold_rate or 0.0)
            if gold:
                self.objects.write_text(f"{prefix}/{chaining.GOLD_FILE}", json.dumps(gold))
                input_uri = self.objects.write_text(
                    f"{prefix}/input.manifest", formats.manifest_text(lines)
                )
        output_prefix = self.objects.uri(f"{prefix}/output")
        now = timestamp(self.clock())
        if not lines:
            out_uri = output_manifest_uri(output_prefix, job_id)
            self._write(out_uri, "")
            self.state.move_job(
                job_name,
                LabelingJobStatus.PENDING,
                LabelingJobStatus.COMPLETE,
                Event(
                    "JobSkipped",
                    batch_id=job["batch_id"],
                    job_name=job_name,
                    payload={"reason": reason},
                ),
                input_manifest_uri=input_uri,
                label_config_uri=config_uri,
                output_manifest_uri=out_uri,
                object_count=0,
                message=reason,
                started_at=now,
                completed_at=now,
                updated_at=now,
            )
            return
        self.backend_of(job).create_job(
            JobRequest(
                job_id=job_id,
                job_name=job_name,
                batch_id=job["batch_id"],
                level=job["level"],
                modality=job["modality"],
                input_manifest_uri=input_uri,
                label_config_uri=config_uri,
                label_attribute_name=job["label_attribute_name"],
                workteam_arn=job["workteam_arn"],
                output_prefix_uri=output_prefix,
                max_concurrent_task_count=spec.max_concurrent_task_count,
                task_time_limit_s=spec.task_time_limit_s,
                task_availability_lifetime_s=spec.task_availability_lifetime_s,
                workers_per_object=spec.consensus_count or 1,
            )
        )
        self.state.move_job(
            job_name,
            LabelingJobStatus.PENDING,
            LabelingJobStatus.WAIT_FOR_SMGT_RESPONSE,
            Event(
                "JobStarted",
                batch_id=job["batch_id"],
                job_name=job_name,
                payload={"backendJobId": job_id, "objects": len(lines)},
            ),
            # One task per data object; a retried job starts its tasks afresh.
            tasks=[formats.data_object(line) for line in lines],
            backend_job_id=job_id,
            input_manifest_uri=input_uri,
            label_config_uri=config_uri,
            object_count=len(lines),
            started_at=now,
            updated_at=now,
        )

    # -- step 3: wait for a level ----------------------------------------------------

    def poll_level(self, batch_id: str, level: int) -> bool:
        """Ask the backend about every running job; the level completes when all have."""
        changed = False
        now = self.clock()
        for job in self.state.jobs(batch_id, level):
            if job["status"] == LabelingJobStatus.PENDING:
                self.start_job(job["job_name"])
                changed = True
                continue
            if job["status"] != LabelingJobStatus.WAIT_FOR_SMGT_RESPONSE:
                continue
            backend = self.backend_of(job)
            if not self._due_for_poll(backend, job["backend_job_id"]):
                continue
            status = backend.describe_job(job["backend_job_id"])
            if status.status == BackendJobStatus.COMPLETED:
                self.state.move_job(
                    job["job_name"],
                    LabelingJobStatus.WAIT_FOR_SMGT_RESPONSE,
                    LabelingJobStatus.COMPLETE,
                    Event(
                        "JobCompleted",
                        batch_id=batch_id,
                        job_name=job["job_name"],
                        payload={"output": status.output_manifest_uri},
                    ),
                    output_manifest_uri=status.output_manifest_uri,
                    completed_at=timestamp(now),
                    updated_at=timestamp(now),
                )
                for hook in self.on_job_complete:
                    hook(self, job["job_name"])
                changed = True
            elif status.status in (BackendJobStatus.FAILED, BackendJobStatus.STOPPED):
                raise JobFailed(
                    f"Labeling job {job['job_name']} "
                    f"{'failed' if status.status == BackendJobStatus.FAILED else 'was stopped'}: "
                    f"{status.failure_reason or 'no reason given'}"
                )
            else:
                started = parse_timestamp(job["started_at"]) or now
                if (now - started).total_seconds() > self.config.job_timeout_s:
                    raise JobFailed(
                        f"Labeling job {job['job_name']} did not complete within "
                        f"{self.config.job_timeout_s / 86400:g} days"
                    )
        jobs = self.state.jobs(batch_id, level)
        if all(job["status"] == LabelingJobStatus.COMPLETE for job in jobs):
            self.state.move_level(
                batch_id,
                level,
                LevelStatus.IN_PROGRESS,
                LevelStatus.COMPLETE,
                Event("LevelCompleted", batch_id=batch_id, payload={"level": level}),
                completed_at=timestamp(now),
            )
            changed = True
        return changed

    def _due_for_poll(self, backend: LabelingBackend, backend_job_id: str) -> bool:
        """At most one status call per job every `poll_interval_s` (Ground Truth rate limits)."""
        interval = getattr(backend, "poll_interval_s", 0.0)
        now = time.monotonic()
        if now - self._last_poll.get(backend_job_id, -interval) < interval:
            return False
        self._last_poll[backend_job_id] = now
        return True

    # -- step 4: finish ---------------------------------------------------------------

    def finish(self, batch_id: str) -> None:
        """Land the batch in the lake, mark it COMPLETE and queue its notification."""
        for hook in self.on_complete:
            hook(self, batch_id)
        now = timestamp(self.clock())
        batch = self._batch(batch_id)
        message = self._complete_message(batch)
        self.state.move_batch(
            batch_id,
            (BatchStatus.IN_PROGRESS,),
            BatchStatus.COMPLETE,
            Event("BatchCompleted", batch_id=batch_id, payload=message),
            notice=self._notice(batch, message),
            message=COMPLETE_MESSAGE,
            completed_at=now,
            updated_at=now,
        )
        self.land(batch_id)

    def land(self, batch_id: str) -> None:
        """Write the batch and its jobs to the lake's `batches` and `jobs` tables."""
        batch = self._batch(batch_id)
        jobs = self.state.jobs(batch_id)
        self.lake.write("batches", batch_id, batches_table(batch, jobs))
        self.lake.write("jobs", batch_id, jobs_table(jobs))

    def _complete_message(self, batch: dict[str, Any]) -> dict[str, Any]:
        batch_id = batch["batch_id"]
        info: dict[str, Any] = {"batchId": batch_id, "status": BatchStatus.COMPLETE}
        for level in self.state.levels(batch_id):
            info[level_key(level["level"])] = {"status": level["status"]}
        return {
            "batchId": batch_id,
            "message": COMPLETE_MESSAGE,
            "batchInfo": info,
            "token": batch["token"],
            "status": "SUCCESS",
        }

    def _notice(self, batch: dict[str, Any], message: dict[str, Any]) -> Notice:
        """The message, for the webhook and the batch's SNS topic (or the default one)."""
        topic = batch["destination"] or self.config.topic_arn
        return Notice(message, [url for url in (self.config.webhook_url, topic) if url])

    # -- failure, stop, retry ----------------------------------------------------------

    def fail(self, batch_id: str, error_type: str, message: str) -> None:
        """The batch and its unfinished children go to INTERNAL_ERROR; a notification goes out."""
        for job in self.state.jobs(batch_id):
            if job["status"] == LabelingJobStatus.WAIT_FOR_SMGT_RESPONSE and job["backend_job_id"]:
                try:
                    self.backend_of(job).stop_job(job["backend_job_id"])
                except Exception:  # noqa: BLE001 - stopping is best effort while failing
                    log.warning("could not stop %s", job["backend_job_id"], exc_info=True)
        batch = self.state.batch(batch_id)
        if batch is None or batch["status"] in FINAL_BATCH_STATUSES:
            return
        now = timestamp(self.clock())
        notice = {
            "batchId": batch_id,
            "message": FAILED_MESSAGE,
            "errorType": error_type,
            "errorString": message,
            "token": batch["token"],
            "status": "FAILED",
        }
        moved = self.state.move_batch(
            batch_id,
            (BatchStatus.IN_PROGRESS,),
            BatchStatus.INTERNAL_ERROR,
            Event("BatchFailed", batch_id=batch_id, payload=notice),
            children=BatchStatus.INTERNAL_ERROR,
            child_message=message,
            notice=self._notice(batch, notice),
            message=message,
            error_type=error_type,
            completed_at=now,
            updated_at=now,
        )
        if not moved:
            return
        try:
            self.land(batch_id)
        except LabellakeError:
            log.warning(
                "batch %s failed and could not be written to the lake", batch_id, exc_info=True
            )

    def stop(self, batch_id: str, actor: str | None = None) -> None:
        """Stop a running batch: its running jobs are stopped, everything unfinished STOPPED."""
        control.stop(self, batch_id, actor)

    def retry(self, batch_id: str, actor: str | None = None) -> None:
        """Resume a failed or stopped batch from its first unfinished level."""
        control.retry(self, batch_id, actor)

    def set_down_sampling_rate(self, batch_id: str, rate: float, actor: str | None = None) -> None:
        """Change the downsampling of a running batch for every chained job not yet started."""
        control.set_down_sampling_rate(self, batch_id, rate, actor)

    # -- delete and show ------------------------------------------------------------------

    def delete(
        self, batch_id: str, dry_run: bool = False, actor: str | None = None
    ) -> dict[str, Any]:
        """Delete a batch and all it made (deletion.py); ``dry_run`` only lists it."""
        return deletion.delete(self, batch_id, dry_run, actor)

    def list_by_status(self) -> dict[str, list[str]]:
        return views.list_by_status(self)

    def show(self, batch_id: str) -> dict[str, Any]:
        """The batch detail of GET /batch/show (views.py)."""
        return views.show(self, batch_id)

    def object_url(self, uri: str | None) -> str | None:
        return views.object_url(self, uri)

    # -- lookups -----------------------------------------------------------------------

    def _batch(self, batch_id: str) -> dict[str, Any]:
        batch = self.state.batch(batch_id)
        if batch is None:
            raise NotFoundError(
                f"unknown batch '{batch_id}'; list batches with "
                "`labellake batch show` or GET /batch/show"
            )
        return batch

    def _job(self, job_name: str) -> dict[str, Any]:
        job = self.state.job(job_name)
        if job is None:
            raise NotFoundError(f"unknown labeling job '{job_name}'")
        return job
