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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labellake.errors import ConflictError, LabellakeError, NotFoundError
from labellake.etl.workflow import batches_table, jobs_table
from labellake.lake import Lake, ObjectStore
from labellake.lake.inputs import InputPolicy
from labellake.lake.store import locate, read_uri
from labellake.workflows.labeling import formats, state
from labellake.workflows.labeling.backends import (
    COMPLETED,
    FAILED,
    STOPPED,
    JobRequest,
    LabelingBackend,
    output_manifest_uri,
)
from labellake.workflows.labeling.spec import (
    SEQUENCE_MODALITIES,
    BatchRequest,
    LabelingJobSpec,
    QaFilter,
    SpecError,
    base_modality,
    default_workteam_arn,
    is_audit,
    parse_request,
)
from labellake.workflows.labeling.state import Event, Notice, StateStore, timestamp

log = logging.getLogger(__name__)

LEVEL_NAMES = {1: "first_level", 2: "second_level", 3: "third_level"}
COMPLETE_MESSAGE = "Batch processing has completed successfully."
FAILED_MESSAGE = "Batch processing failed"
RETRYABLE = (state.INTERNAL_ERROR, state.STOPPED, state.VALIDATION_FAIL)

# A QA filter picks, from a parent job's output manifest lines, those the next level sees.
QaFilterHook = Callable[[dict[str, Any], list[dict[str, Any]], QaFilter], list[dict[str, Any]]]


def _problem(field: str, exc: LabellakeError) -> dict[str, str]:
    """One problem of a request; a message that names its own field keeps it."""
    message = str(exc)
    if message.startswith(field):
        message = message[len(field) :].lstrip(": ")
    return {"field": field, "message": message}


def level_name(level: int) -> str:
    return LEVEL_NAMES.get(level, f"level_{level}")


def level_key(level: int) -> str:
    """firstLevel, secondLevel, thirdLevel, then level4, level5, ..."""
    return {1: "firstLevel", 2: "secondLevel", 3: "thirdLevel"}.get(level, f"level{level}")


@dataclass
class EngineConfig:
    region: str = "us-east-1"
    account: str = "111122223333"
    job_timeout_s: float = 14 * 24 * 3600
    webhook_url: str | None = None
    topic_arn: str | None = None  # SNS topic of batches that name no destinationSnsArn
    seed: int = 0
    aws: dict[str, str | None] = field(default_factory=dict)


class JobFailed(LabellakeError):
    """A labeling job ended in Failed or Stopped, or ran past its deadline."""


class Engine:
    def __init__(
        self,
        state_store: StateStore,
        objects: ObjectStore,
        lake: Lake,
        backend: LabelingBackend,
        config: EngineConfig | None = None,
        qa_filter: QaFilterHook | None = None,
        clock: Callable[[], dt.datetime] = state.now,
        backends: dict[str, LabelingBackend] | None = None,
        inputs: InputPolicy | None = None,
    ) -> None:
        self.state = state_store
        self.objects = objects
        self.lake = lake
        self.backend = backend  # the default: for jobs whose request names no backend
        self.backends = {backend.name: backend, **(backends or {})}
        self.config = config or EngineConfig()
        self.qa_filter = qa_filter
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
        self.orchestrator: Any = None  # what starts batches when not the embedded runner
        self._last_poll: dict[str, float] = {}

    # -- reading objects --------------------------------------------------------

    def _read(self, uri: str) -> str:
        return read_uri(uri, **self.config.aws).decode("utf-8")

    def _write(self, uri: str, text: str) -> str:
        store, key = locate(uri, **self.config.aws)
        return store.write_text(key, text)

    # -- step 1: transform and validate --------------------------------------------

    def submit(self, payload: bytes | str | dict[str, Any], actor: str | None = None) -> str:
        """Validate a batch request and record it IN_PROGRESS; returns the batch id.

        Nothing is recorded if any check fails (SpecError names the field).
        """
        request = parse_request(payload)
        problems, configs = self._check_request(request)
        if problems:
            raise SpecError(problems)
        created = timestamp(self.clock())
        try:
            self.state.create_batch(
                *self._records(request, created, configs),
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

    def _check_request(
        self, request: BatchRequest
    ) -> tuple[list[dict[str, str]], dict[str, dict[str, Any]]]:
        """Every problem the request has beyond its shape, and the label configs it names."""
        problems: list[dict[str, str]] = []
        configs: dict[str, dict[str, Any]] = {}
        if self.state.names_taken([request.batch_id]):
            problems.append(
                {
                    "field": "batchId",
                    "message": (
                        f"batch id '{request.batch_id}' is already used; a batch id is never "
                        "reused, choose another"
                    ),
                }
            )
        taken = {
            name.lower()
            for name in self.state.names_taken([job.job_name for job in request.labeling_jobs])
        }
        manifests: dict[str, int] = {}
        for index, job in enumerate(request.labeling_jobs):
            where = f"labelingJobs[{index}]"
            if job.job_name.lower() in taken:
                problems.append(
                    {
                        "field": f"{where}.jobName",
                        "message": (
                            f"job name '{job.job_name}' is already used by another batch; job "
                            "names are unique across all batches (compared case-insensitively)"
                        ),
                    }
                )
            name = self._backend_name(request, job)
            backend = self.backends.get(name)
            if backend is None:
                problems.append(
                    {
                        "field": f"{where}.backend" if job.backend else "backend",
                        "message": (
                            f"no labeling backend '{name}' here; this deployment runs "
                            f"{', '.join(sorted(self.backends))}"
                        ),
                    }
                )
                backend = self.backend
            try:
                backend.check_modality(job.job_modality)
            except LabellakeError as exc:
                problems.append({"field": f"{where}.jobModality", "message": str(exc)})
            check_workteam = getattr(backend, "check_workteam", None)
            if check_workteam is not None:
                try:
                    check_workteam(self._workteam(job))
                except LabellakeError as exc:
                    problems.append({"field": f"{where}.workteamArn", "message": str(exc)})
            uri = job.label_category_config_uri
            field = f"{where}.labelCategoryConfigS3Uri"
            if uri and uri not in configs:
                try:
                    text = self.inputs.read_text(uri, field, self.inputs.max_config_bytes)
                    configs[uri] = formats.parse_label_config(text, uri)
                except LabellakeError as exc:
                    problems.append(_problem(field, exc))
            uri = job.input_config.input_manifest_uri
            field = f"{where}.inputConfig.inputManifestS3Uri"
            if uri is None or uri in manifests:
                continue
            try:
                manifests[uri] = len(self._check_manifest(uri, job.job_modality, field))
            except LabellakeError as exc:
                problems.append(_problem(field, exc))
        return problems, configs

    def _check_manifest(self, uri: str, modality: str, field: str) -> list[dict[str, Any]]:
        lines = formats.parse_manifest(self.inputs.read_text(uri, field), uri)
        if not lines:
            raise LabellakeError(f"input manifest {uri} has no lines; add one data object per line")
        for number, line in enumerate(lines, start=1):
            # Every object a line names is read later, by a backend or the portal.
            where = f"{field} ({uri} line {number})"
            ref = line.get("source-ref") or line.get("source")
            if base_modality(modality) not in SEQUENCE_MODALITIES:
                if "source-ref" in line:
                    self.inputs.check(ref, f"{where} source-ref")
                continue
            sequence = formats.parse_sequence(
                self.inputs.read_text(ref, f"{where} source-ref"), ref
            )
            for _, frame in sequence.frames:
                self.inputs.check(f"{sequence.prefix}{frame}", f"{where} frame {frame}")
        return lines

    def _backend_name(self, request: BatchRequest, job: LabelingJobSpec) -> str:
        return job.backend or request.backend or self.backend.name

    def _workteam(self, job: LabelingJobSpec) -> str:
        return job.workteam_arn or default_workteam_arn(
            job.job_level, self.config.region, self.config.account
        )

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

    def _records(
        self, request: BatchRequest, created: str, configs: dict[str, dict[str, Any]]
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        """The batch, level and job records of a new batch."""
        token = f"{request.batch_id}-{hashlib.sha256(created.encode()).hexdigest()[:8]}"
        batch = {
            "batch_id": request.batch_id,
            "status": state.IN_PROGRESS,
            "request": request.model_dump_json(by_alias=True, exclude_none=True),
            "down_sampling_rate": request.down_sampling_rate,
            "destination": request.destination_sns_arn,
            "token": token,
            "attempt": 1,
            "created_at": created,
            "updated_at": created,
        }
        levels = [
            {"batch_id": request.batch_id, "level": level, "status": state.PENDING}
            for level in request.levels
        ]
        jobs = []
        for job in request.labeling_jobs:
            ancestor = job
            while not ancestor.label_category_config_uri and ancestor.chain_from:
                ancestor = request.job(ancestor.chain_from)
            jobs.append(
                {
                    "job_name": job.job_name,
                    "batch_id": request.batch_id,
                    "level": job.job_level,
                    "modality": job.job_modality,
                    "annotation_type": formats.annotation_type(
                        configs[ancestor.label_category_config_uri]
                    ),
                    "status": state.PENDING,
                    "chain_from": job.chain_from,
                    "workteam_arn": self._workteam(job),
                    "label_attribute_name": job.label_attribute_name,
                    "label_config_uri": job.label_category_config_uri,
                    "source_manifest_uri": job.input_config.input_manifest_uri,
                    "down_sampling_rate": job.input_config.down_sampling_rate,
                    "attempt": 1,
                    "spec": job.model_dump_json(by_alias=True, exclude_none=True),
                    "created_at": created,
                    "updated_at": created,
                    "backend": self._backend_name(request, job),
                }
            )
        return batch, levels, jobs

    # -- the driver ---------------------------------------------------------------

    def advance(self, batch_id: str) -> bool:
        """Take the batch one step further; True if anything changed."""
        batch = self._batch(batch_id)
        if batch["status"] != state.IN_PROGRESS:
            return False
        try:
            for level in self.state.levels(batch_id):
                if level["status"] == state.COMPLETE:
                    continue
                if level["status"] == state.PENDING:
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
        while self._batch(batch_id)["status"] == state.IN_PROGRESS:
            if not self.advance(batch_id):
                sleep(poll_s)
        return self._batch(batch_id)["status"]

    # -- step 2: start a level -----------------------------------------------------

    def start_level(self, batch_id: str, level: int) -> None:
        """Start every PENDING job of the level; the level becomes IN_PROGRESS."""
        for job in self.state.jobs(batch_id, level):
            if job["status"] == state.PENDING:
                self.start_job(job["job_name"])
        self.state.move_level(
            batch_id,
            level,
            state.PENDING,
            state.IN_PROGRESS,
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
        if job["status"] != state.PENDING:
            return
        batch = self._batch(job["batch_id"])
        spec = LabelingJobSpec.model_validate_json(job["spec"])
        prefix = self.processing_prefix(job)
        job_id = self.backend_job_id(job)
        config_uri = job["label_config_uri"]
        if job["chain_from"]:
            parent = self._job(job["chain_from"])
            config = formats.parse_label_config(
                self._read(parent["label_config_uri"]), parent["label_config_uri"]
            )
            config = self._chained_config(config, parent, job)
            config_uri = self.objects.write_text(
                f"{prefix}/label_category.json", json.dumps(config, indent=1)
            )
            lines, reason = self._chained_input(batch, job, parent, spec)
            input_uri = self.objects.write_text(
                f"{prefix}/input.manifest", formats.manifest_text(lines)
            )
        else:
            source = job["source_manifest_uri"]
            lines = formats.parse_manifest(self._read(source), source)
            reason = None
            rate = job["down_sampling_rate"]
            if rate is not None and rate < 100:
                lines = self._sample(lines, rate, job)
                reason = f"downsampling at {rate:g}% kept none of the data objects"
                input_uri = self.objects.write_text(
                    f"{prefix}/input.manifest", formats.manifest_text(lines)
                )
            else:
                input_uri = source
        output_prefix = self.objects.uri(f"{prefix}/output")
        now = timestamp(self.clock())
        if not lines:
            out_uri = output_manifest_uri(output_prefix, job_id)
            self._write(out_uri, "")
            self.state.move_job(
                job_name,
                state.PENDING,
                state.COMPLETE,
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
            )
        )
        self.state.move_job(
            job_name,
            state.PENDING,
            state.WAIT_FOR_SMGT_RESPONSE,
            Event(
                "JobStarted",
                batch_id=job["batch_id"],
                job_name=job_name,
                payload={"backendJobId": job_id, "objects": len(lines)},
            ),
            # One task per data object; a retried job starts its tasks afresh.
            tasks=[str(line.get("source-ref") or line.get("source")) for line in lines],
            backend_job_id=job_id,
            input_manifest_uri=input_uri,
            label_config_uri=config_uri,
            object_count=len(lines),
            started_at=now,
            updated_at=now,
        )

    @staticmethod
    def _chained_config(
        config: dict[str, Any], parent: dict[str, Any], job: dict[str, Any]
    ) -> dict[str, Any]:
        if is_audit(job["modality"]):
            return formats.audit_config(config, parent["label_attribute_name"])
        return {**config, "auditLabelAttributeName": parent["label_attribute_name"]}

    def _chained_input(
        self,
        batch: dict[str, Any],
        job: dict[str, Any],
        parent: dict[str, Any],
        spec: LabelingJobSpec,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The parent's output lines after the QA filter and downsampling."""
        lines = formats.parse_manifest(
            self._read(parent["output_manifest_uri"]), parent["output_manifest_uri"]
        )
        if not lines:
            return [], f"the parent job {parent['job_name']} produced no output"
        qa = spec.input_config.qa_filter
        if qa is not None:
            if self.qa_filter is None:
                raise LabellakeError(
                    f"job {job['job_name']}: inputConfig.qaFilter is set but no QA checks are "
                    "installed in this engine"
                )
            lines = self.qa_filter(parent, lines, qa)
            if not lines:
                return [], "the QA checks flagged no data object of the parent job"
        rate = job["down_sampling_rate"]
        if rate is None:
            rate = batch["down_sampling_rate"]
        if rate < 100:
            lines = self._sample(lines, rate, job)
            if not lines:
                return [], f"downsampling at {rate:g}% kept none of the data objects"
        return lines, None

    def _sample(
        self, lines: list[dict[str, Any]], rate: float, job: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """A seeded random ``rate`` percent of the lines, in their original order."""
        keep = round(len(lines) * rate / 100)
        rng = random.Random(f"{self.config.seed}:{job['batch_id']}:{job['job_name']}".lower())
        chosen = sorted(rng.sample(range(len(lines)), keep))
        return [lines[i] for i in chosen]

    # -- step 3: wait for a level ----------------------------------------------------

    def poll_level(self, batch_id: str, level: int) -> bool:
        """Ask the backend about every running job; the level completes when all have."""
        changed = False
        now = self.clock()
        for job in self.state.jobs(batch_id, level):
            if job["status"] == state.PENDING:
                self.start_job(job["job_name"])
                changed = True
                continue
            if job["status"] != state.WAIT_FOR_SMGT_RESPONSE:
                continue
            backend = self.backend_of(job)
            if not self._due_for_poll(backend, job["backend_job_id"]):
                continue
            status = backend.describe_job(job["backend_job_id"])
            if status.status == COMPLETED:
                self.state.move_job(
                    job["job_name"],
                    state.WAIT_FOR_SMGT_RESPONSE,
                    state.COMPLETE,
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
            elif status.status in (FAILED, STOPPED):
                raise JobFailed(
                    f"Labeling job {job['job_name']} "
                    f"{'failed' if status.status == FAILED else 'was stopped'}: "
                    f"{status.failure_reason or 'no reason given'}"
                )
            else:
                started = state.parse_timestamp(job["started_at"]) or now
                if (now - started).total_seconds() > self.config.job_timeout_s:
                    raise JobFailed(
                        f"Labeling job {job['job_name']} did not complete within "
                        f"{self.config.job_timeout_s / 86400:g} days"
                    )
        jobs = self.state.jobs(batch_id, level)
        if all(job["status"] == state.COMPLETE for job in jobs):
            self.state.move_level(
                batch_id,
                level,
                state.IN_PROGRESS,
                state.COMPLETE,
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
            (state.IN_PROGRESS,),
            state.COMPLETE,
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
        info: dict[str, Any] = {"batchId": batch_id, "status": state.COMPLETE}
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
            if job["status"] == state.WAIT_FOR_SMGT_RESPONSE and job["backend_job_id"]:
                try:
                    self.backend_of(job).stop_job(job["backend_job_id"])
                except Exception:  # noqa: BLE001 - stopping is best effort while failing
                    log.warning("could not stop %s", job["backend_job_id"], exc_info=True)
        batch = self.state.batch(batch_id)
        if batch is None or batch["status"] in state.FINAL_BATCH_STATUSES:
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
            (state.IN_PROGRESS,),
            state.INTERNAL_ERROR,
            Event("BatchFailed", batch_id=batch_id, payload=notice),
            children=state.INTERNAL_ERROR,
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
        batch = self._batch(batch_id)
        if batch["status"] != state.IN_PROGRESS:
            raise ConflictError(
                f"batch {batch_id} is {batch['status']}; only a batch that is "
                "IN_PROGRESS can be stopped"
            )
        for job in self.state.jobs(batch_id):
            if job["status"] == state.WAIT_FOR_SMGT_RESPONSE and job["backend_job_id"]:
                self.backend_of(job).stop_job(job["backend_job_id"])
        now = timestamp(self.clock())
        self.state.move_batch(
            batch_id,
            (state.IN_PROGRESS,),
            state.STOPPED,
            Event("BatchStopped", batch_id=batch_id, actor=actor),
            children=state.STOPPED,
            message=f"stopped by {actor or 'a user'}",
            completed_at=now,
            updated_at=now,
        )
        self.land(batch_id)
        for hook in self.on_stop:
            hook(self, batch_id)

    def retry(self, batch_id: str, actor: str | None = None) -> None:
        """Resume a failed or stopped batch from its first unfinished level.

        Finished jobs are kept; an unfinished job that had started runs again as a new
        backend job (``<job>-<attempt>``).
        """
        batch = self._batch(batch_id)
        if batch["status"] not in RETRYABLE:
            raise ConflictError(
                f"batch {batch_id} is {batch['status']}; only a batch that is "
                "INTERNAL_ERROR, VALIDATION_FAIL or STOPPED can be retried"
            )
        self.state.retry_batch(
            batch_id,
            RETRYABLE,
            timestamp(self.clock()),
            Event("BatchRetried", batch_id=batch_id, actor=actor),
        )
        self._started(batch_id)

    def set_down_sampling_rate(self, batch_id: str, rate: float, actor: str | None = None) -> None:
        """Change the downsampling of a running batch for every chained job not yet started."""
        if not 0 <= rate <= 100:
            raise LabellakeError(f"downSamplingRate: {rate} is outside 0-100")
        batch = self._batch(batch_id)
        if batch["status"] != state.IN_PROGRESS:
            raise ConflictError(
                f"batch {batch_id} is {batch['status']}; downSamplingRate can "
                "change only while it is IN_PROGRESS"
            )
        self.state.set_down_sampling_rate(
            batch_id,
            rate,
            timestamp(self.clock()),
            Event(
                "DownSamplingRateChanged",
                batch_id=batch_id,
                actor=actor,
                payload={"downSamplingRate": rate},
            ),
        )

    # -- delete ----------------------------------------------------------------------

    def delete(
        self, batch_id: str, dry_run: bool = False, actor: str | None = None
    ) -> dict[str, Any]:
        """Hierarchical deletion: the batch, its levels, jobs, tasks, raw outputs and lake rows.

        Every object written for the batch's jobs goes (their processing prefix, and what a
        backend keeps for each attempt elsewhere, such as the simulated job records), and so
        do the folders left empty in the object store and the lake.
        """
        batch = self._batch(batch_id)
        if batch["status"] == state.IN_PROGRESS and not dry_run:
            raise ConflictError(
                f"batch {batch_id} is IN_PROGRESS; stop it first "
                "(labellake batch stop, or POST /batch/stop)"
            )
        jobs = self.state.jobs(batch_id)
        levels = self.state.levels(batch_id)
        tasks = self.state.task_count(batch_id)
        objects = []
        for job in jobs:
            objects += [self.objects.uri(k) for k in self.objects.list(self.processing_prefix(job))]
            records = getattr(self._backend_named(job), "records", None)
            if records is not None:
                for job_id in self._backend_job_ids(job):
                    objects += records(job_id)
        lake_files = []
        for table in self.lake.tables.values():
            units = (
                [batch_id]
                if table.unit == "batch"
                else ([job["job_name"] for job in jobs] if table.unit == "job" else [])
            )
            for unit in units:
                lake_files += [
                    f
                    for f in self.lake.files(table.name)
                    if f.rsplit("/", 1)[-1] == f"{unit}.parquet"
                ]
        plan = {
            "batchId": batch_id,
            "dryRun": dry_run,
            "levels": [level["level"] for level in levels],
            "jobs": [job["job_name"] for job in jobs],
            "tasks": tasks,
            "objects": objects,
            "lakeFiles": lake_files,
        }
        if dry_run:
            return plan
        for table in self.lake.tables.values():
            if table.unit == "batch":
                self.lake.delete(table.name, batch_id)
            elif table.unit == "job":
                for job in jobs:
                    self.lake.delete(table.name, job["job_name"])
        for job in jobs:
            self.objects.delete_prefix(self.processing_prefix(job))
            delete_records = getattr(self._backend_named(job), "delete_records", None)
            if delete_records is not None:
                for job_id in self._backend_job_ids(job):
                    delete_records(job_id)
            forget = getattr(self.backends.get(job.get("backend") or ""), "forget", None)
            if forget is not None:
                forget(job["job_name"])
        self.state.delete_batch(
            batch_id,
            [job["job_name"] for job in jobs],
            timestamp(self.clock()),
            Event(
                "BatchDeleted",
                batch_id=batch_id,
                actor=actor,
                payload={k: v for k, v in plan.items() if k != "dryRun"},
            ),
        )
        return plan

    def _backend_named(self, job: dict[str, Any]) -> LabelingBackend | None:
        """The job's backend, or None where this deployment lacks it (deleting still works)."""
        return self.backends.get(job.get("backend") or self.backend.name)

    def _backend_job_ids(self, job: dict[str, Any]) -> list[str]:
        """The backend's name of every attempt of the job (``<job>``, ``<job>-2``, ...)."""
        return [
            self.backend_job_id({**job, "attempt": attempt})
            for attempt in range(1, max(job["attempt"] or 1, 1) + 1)
        ]

    # -- show --------------------------------------------------------------------------

    def list_by_status(self) -> dict[str, list[str]]:
        listing: dict[str, list[str]] = {status: [] for status in state.BATCH_STATUSES}
        for batch in self.state.batches():
            listing.setdefault(batch["status"], []).append(batch["batch_id"])
        return listing

    def show(self, batch_id: str) -> dict[str, Any]:
        """The batch detail of GET /batch/show?batchId=..., with every level under `levels`."""
        batch = self._batch(batch_id)
        request = json.loads(batch["request"])
        jobs = self.state.jobs(batch_id)
        levels = self.state.levels(batch_id)
        detail: dict[str, Any] = {
            "batchId": batch["batch_id"],
            "status": batch["status"],
            "message": batch["message"],
            "errorType": batch["error_type"],
            "createdAt": batch["created_at"],
            "completedAt": batch["completed_at"],
            "downSamplingRate": batch["down_sampling_rate"],
            "inputLabelingJobs": request["labelingJobs"],
        }
        summaries = []
        for level in levels:
            level_jobs = [job for job in jobs if job["level"] == level["level"]]
            summaries.append(
                {
                    "level": level["level"],
                    "status": level["status"],
                    "numChildBatches": len(level_jobs),
                    "numChildBatchesComplete": sum(
                        j["status"] == state.COMPLETE for j in level_jobs
                    ),
                    "jobLevels": [self._job_detail(job) for job in level_jobs],
                }
            )
        for number in range(1, max(3, len(summaries)) + 1):
            summary = next((s for s in summaries if s["level"] == number), None)
            detail[level_key(number)] = (
                {k: v for k, v in summary.items() if k != "level"}
                if summary
                else {
                    "status": batch["status"],
                    "numChildBatches": 0,
                    "numChildBatchesComplete": 0,
                    "jobLevels": [],
                }
            )
        detail["levels"] = summaries
        return detail

    def _job_detail(self, job: dict[str, Any]) -> dict[str, Any]:
        input_uri = job["input_manifest_uri"] or job["source_manifest_uri"]
        return {
            "batchId": f"{job['batch_id']}-{level_name(job['level'])}-{job['job_name']}",
            "batchStatus": job["status"],
            "labelingJobName": job["job_name"],
            "jobModality": job["modality"],
            "annotationType": job["annotation_type"],
            "chainFromJobName": job["chain_from"],
            "workteamArn": job["workteam_arn"],
            "labelAttributeName": job["label_attribute_name"],
            "labelCategoryS3Uri": job["label_config_uri"],
            "jobInputS3Uri": input_uri,
            "jobInputS3Url": self.object_url(input_uri),
            "jobOutputS3Uri": job["output_manifest_uri"],
            "jobOutputS3Url": self.object_url(job["output_manifest_uri"]),
            "backendJobName": job["backend_job_id"],
            "backend": job.get("backend") or self.backend.name,
            "taskProgress": self._progress(job),
            "objectCount": job["object_count"],
            "message": job["message"],
            "startedAt": job["started_at"],
            "completedAt": job["completed_at"],
        }

    def _progress(self, job: dict[str, Any]) -> dict[str, int] | None:
        """Where people stand on a job's tasks, from backends that keep a task queue."""
        backend = self.backends.get(job.get("backend") or self.backend.name)
        progress = getattr(backend, "progress", None)
        if progress is None or not job["backend_job_id"]:
            return None
        return progress(job["backend_job_id"])  # type: ignore[no-any-return]

    def object_url(self, uri: str | None) -> str | None:
        """A URL to fetch the object: presigned for s3://, file:// for local files."""
        if not uri:
            return None
        if uri.startswith("s3://"):
            import boto3

            bucket, _, key = uri[5:].partition("/")
            client = boto3.client(
                "s3",
                region_name=self.config.region,
                endpoint_url=self.config.aws.get("endpoint_url"),
            )
            return client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600
            )
        if uri.startswith("file://"):
            return uri
        return f"file://{uri}"

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
