"""The simulated labeling backend.

It writes exactly what Ground Truth writes: the augmented output manifest, one
SeqLabel.json per data object, worker-response files and worker activity
events, on a virtual clock, so a batch finishes in seconds while its
timestamps look like hours of work. Jobs are kept as small JSON records in the
object store, so the backend survives a restart like Ground Truth would.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labellake.aws_clients import AwsTarget
from labellake.errors import LabellakeError, NotFoundError
from labellake.lake import ObjectStore
from labellake.lake.store import locate, read_uri
from labellake.workflows.labeling import formats, simulation
from labellake.workflows.labeling.backends import (
    BackendJobStatus,
    JobRequest,
    JobStatus,
    output_manifest_uri,
)
from labellake.workflows.labeling.spec import POINT_CLOUD_MODALITIES, base_modality, is_audit
from labellake.workflows.quality import consensus
from labellake.workflows.samples.truth import ClipTruth, TruthFrame, truth_uri

RECORDS = "simulated-jobs"
TEAMS = ("first-level", "second-level")
TASK_OVERHEAD_S = 45.0  # reading instructions, loading frames, submitting


@dataclass(frozen=True)
class SimulationConfig:
    region: str = "us-east-1"
    account: str = "111122223333"
    seed: int = 0
    job_seconds: float = 1.0  # real seconds a job takes before its outputs appear
    team_size: int | None = None  # workers per team (default: 5 labelers, 3 auditors)


class SimulatedBackend:
    name = "simulated"
    poll_interval_s = 0.25

    def __init__(
        self,
        objects: ObjectStore,
        config: SimulationConfig | None = None,
        clock: Callable[[], float] = time.time,
        aws: AwsTarget | None = None,
    ) -> None:
        self.objects = objects
        self.config = config or SimulationConfig()
        self.clock = clock
        self.aws = aws or AwsTarget(self.config.region)

    # -- the backend interface ----------------------------------------------------

    def check_modality(self, modality: str) -> None:
        if base_modality(modality) in POINT_CLOUD_MODALITIES:
            raise LabellakeError(
                f"the simulated workforce does not label point clouds ({modality}); "
                "run this job on the groundtruth backend"
            )

    def create_job(self, request: JobRequest) -> None:
        key = self._record_key(request.job_id)
        if self.objects.exists(key):
            return
        record = {"request": request.to_dict(), "created": self.clock(), "stopped": False}
        self.objects.write_text(key, json.dumps(record))

    def describe_job(self, job_id: str) -> JobStatus:
        record = self._record(job_id)
        request = JobRequest(**record["request"])
        manifest_uri = output_manifest_uri(request.output_prefix_uri, job_id)
        if record.get("failure"):
            return JobStatus(BackendJobStatus.FAILED, failure_reason=record["failure"])
        if record.get("stopped"):
            return JobStatus(BackendJobStatus.STOPPED, failure_reason="stopped on request")
        out_store, manifest_key = locate(manifest_uri, **self.aws.kwargs)
        if out_store.exists(manifest_key):
            return JobStatus(BackendJobStatus.COMPLETED, output_manifest_uri=manifest_uri)
        if self.clock() - record["created"] < self.config.job_seconds:
            return JobStatus(BackendJobStatus.IN_PROGRESS)
        try:
            self._run(request, record["created"])
        except LabellakeError as exc:
            record["failure"] = str(exc)
            self.objects.write_text(self._record_key(job_id), json.dumps(record))
            return JobStatus(BackendJobStatus.FAILED, failure_reason=str(exc))
        return JobStatus(BackendJobStatus.COMPLETED, output_manifest_uri=manifest_uri)

    def stop_job(self, job_id: str) -> None:
        try:
            record = self._record(job_id)
        except NotFoundError:
            return
        record["stopped"] = True
        self.objects.write_text(self._record_key(job_id), json.dumps(record))

    def team_size(self, workteam_arn: str) -> int:
        """Workers in the team (a consensus job needs at least consensusCount)."""
        return len(
            simulation.build_team(
                simulation.team_name(workteam_arn),
                self.config.region,
                self.config.seed,
                self.config.team_size,
            )
        )

    def workforce(self) -> list[dict[str, Any]]:
        teams = []
        for team in TEAMS:
            workers = simulation.build_team(
                team, self.config.region, self.config.seed, self.config.team_size
            )
            teams.append(
                {
                    "workteamName": team,
                    "workteamArn": self.workteam_arn(team),
                    "workers": [
                        {
                            "workerId": w.worker_id,
                            "name": w.name,
                            "sub": w.sub,
                            "secondsPerObjectFrame": round(w.seconds_per_object_frame, 2),
                        }
                        for w in workers
                    ],
                }
            )
        return teams

    def records(self, job_id: str) -> list[str]:
        """URIs of what the backend keeps for the job outside its output prefix: its record."""
        key = self._record_key(job_id)
        return [self.objects.uri(key)] if self.objects.exists(key) else []

    def delete_records(self, job_id: str) -> None:
        """Remove the job's record (a deleted batch's job), and its folder once empty."""
        key = self._record_key(job_id)
        self.objects.delete(key)
        self.objects.prune(key)

    def workteam_arn(self, team: str) -> str:
        c = self.config
        return f"arn:aws:sagemaker:{c.region}:{c.account}:workteam/private-crowd/{team}"

    # -- the work -------------------------------------------------------------------

    def _record_key(self, job_id: str) -> str:
        return f"{RECORDS}/{job_id}.json"

    def _record(self, job_id: str) -> dict[str, Any]:
        try:
            return json.loads(self.objects.read_text(self._record_key(job_id)))
        except NotFoundError:
            raise NotFoundError(f"the simulated workforce has no job '{job_id}'") from None

    def _read(self, uri: str) -> str:
        return read_uri(uri, **self.aws.kwargs).decode("utf-8")

    def _run(self, request: JobRequest, created: float) -> None:
        """Label every data object and write Ground Truth's files; the manifest goes last."""
        lines = formats.parse_manifest(
            self._read(request.input_manifest_uri), request.input_manifest_uri
        )
        config = formats.parse_label_config(
            self._read(request.label_config_uri), request.label_config_uri
        )
        kind = formats.annotation_type(config)
        class_ids = {label: int(cid) for cid, label in formats.class_map(config).items()}
        team = simulation.team_name(request.workteam_arn)
        workers = simulation.build_team(
            team, self.config.region, self.config.seed, self.config.team_size
        )
        out, base = locate(
            output_manifest_uri(request.output_prefix_uri, request.job_id), **self.aws.kwargs
        )
        job_root = request.output_prefix_uri.rstrip("/") + f"/{request.job_id}"
        job_store = type(self.objects).from_uri(job_root, **self.aws.kwargs)
        job_arn = (
            f"arn:aws:sagemaker:{self.config.region}:{self.config.account}:"
            f"labeling-job/{request.job_id}"
        )
        user_pool = f"{self.config.region}_labellake"
        reference = hashlib.sha256(request.job_id.encode()).hexdigest()[:12]

        def event(worker: simulation.Worker, kind: str, **times: dt.datetime) -> dict[str, str]:
            return self._event(worker, request, job_arn, user_pool, reference, kind, **times)

        audit = is_audit(request.modality)
        parent_attribute = config.get("auditLabelAttributeName")
        # On the virtual clock, work starts once its inputs exist: an audit never starts
        # before the labels it audits were submitted.
        start = max([dt.datetime.fromtimestamp(created, dt.UTC)] + _label_times(lines))
        free_at = {w.worker_id: start for w in workers}
        events: list[dict[str, str]] = []
        ledger: list[dict[str, Any]] = []
        output_lines = []
        finished = start
        shapes = responses = 0
        for index, line in enumerate(lines):
            source_ref = line.get("source-ref") or line.get("source")
            rng = simulation.seeded("task", request.job_id, index)
            worker = (
                workers[index % len(workers)]
                if len(workers) <= len(lines)
                else (rng.choice(workers))
            )
            # Some tasks are declined or returned by another worker first.
            accepted = max(free_at[worker.worker_id], start) + dt.timedelta(
                seconds=rng.uniform(30, 900)
            )
            for other in (w for w in workers if w is not worker):
                if rng.random() < other.decline_rate:
                    events.append(
                        event(
                            other,
                            "TasksDeclined",
                            declined=accepted,
                        )
                    )
                elif rng.random() < other.return_rate:
                    taken = accepted - dt.timedelta(minutes=rng.uniform(5, 40))
                    events.append(
                        event(
                            other,
                            "TasksReturned",
                            accepted=taken,
                            returned=accepted,
                        )
                    )
            frames_labels, note, work_units = self._label_one(
                request, line, source_ref, kind, class_ids, worker, audit, parent_attribute, ledger
            )
            spent = TASK_OVERHEAD_S + worker.seconds_per_object_frame * max(work_units, 1) * (
                rng.uniform(0.8, 1.25)
            )
            submitted = accepted + dt.timedelta(seconds=spent)
            free_at[worker.worker_id] = submitted
            finished = max(finished, submitted)
            entry = dict(line)
            if request.workers_per_object > 1 and frames_labels is not None and kind == "box":
                # Consensus: more workers label the clip; the answer is their consolidation.
                answers = {worker.worker_id: frames_labels}
                for rank in range(1, request.workers_per_object):
                    other = workers[(workers.index(worker) + rank) % len(workers)]
                    other_rng = simulation.seeded("task", request.job_id, index, rank)
                    other_frames, _, units = self._label_one(
                        request, line, source_ref, kind, class_ids, other, False, None, ledger
                    )
                    taken = max(free_at[other.worker_id], start) + dt.timedelta(
                        seconds=other_rng.uniform(30, 900)
                    )
                    done = taken + dt.timedelta(
                        seconds=TASK_OVERHEAD_S
                        + other.seconds_per_object_frame
                        * max(units, 1)
                        * other_rng.uniform(0.8, 1.25)
                    )
                    free_at[other.worker_id] = done
                    finished = max(finished, done)
                    answers[other.worker_id] = other_frames  # type: ignore[assignment]
                    job_store.write_text(
                        f"annotations/worker-response/iteration-1/{index}/"
                        f"{done.strftime('%Y-%m-%d_%H:%M:%S.%f')[:-3]}.json",
                        json.dumps(
                            formats.worker_response_document(
                                other.worker_id,
                                other.sub,
                                taken,
                                done,
                                {"trackingAnnotations": {"frameData": {"entries": []}}},
                                self.config.region,
                                user_pool,
                            )
                        ),
                    )
                    responses += 1
                    events.append(event(other, "TasksSubmitted", accepted=taken, submitted=done))
                agreed = consensus.clip_consensus(
                    answers,  # type: ignore[arg-type]
                    [f.frame for f in frames_labels],
                    class_ids,
                    request.job_id,
                    source_ref,
                )
                frames_labels = agreed.frames
                consensus_key = f"annotations/consensus/{index}.json"
                job_store.write_text(
                    consensus_key,
                    json.dumps({"objects": agreed.objects, "pairs": agreed.pairs}),
                )
                entry[formats.CONSENSUS_KEY] = job_store.uri(consensus_key)
            if frames_labels is None:  # a single image: annotations inline
                entry[request.label_attribute_name] = note
            else:
                seq_key = f"annotations/consolidated-annotation/output/{index}/SeqLabel.json"
                job_store.write_text(
                    seq_key,
                    json.dumps(
                        formats.seqlabel_document(
                            frames_labels, tracking="Tracking" in request.modality
                        )
                    ),
                )
                entry[request.label_attribute_name] = job_store.uri(seq_key)
            adjustment = None
            if audit:
                adjustment = "adjusted" if note else "unadjusted"
            metadata = formats.label_metadata(
                request.job_id, config, request.modality, submitted, adjustment
            )
            if frames_labels is None:  # image jobs carry a confidence per box
                metadata = {
                    "objects": [
                        {"confidence": round(rng.uniform(0.8, 0.99), 2)}
                        for _ in note["annotations"]
                    ],
                    **metadata,
                }
            entry[f"{request.label_attribute_name}-metadata"] = metadata
            output_lines.append(entry)
            shapes += (
                len(note["annotations"])
                if frames_labels is None
                else sum(len(f.shapes) for f in frames_labels)
            )
            responses += 1
            answer = (
                {"trackingAnnotations": {"frameData": {"entries": []}}}
                if frames_labels is not None
                else {"boundingBox": note}
            )
            stamp = submitted.strftime("%Y-%m-%d_%H:%M:%S.%f")[:-3]
            job_store.write_text(
                f"annotations/worker-response/iteration-1/{index}/{stamp}.json",
                json.dumps(
                    formats.worker_response_document(
                        worker.worker_id,
                        worker.sub,
                        accepted,
                        submitted,
                        answer,
                        self.config.region,
                        user_pool,
                    )
                ),
            )
            events.append(
                event(
                    worker,
                    "TasksSubmitted",
                    accepted=accepted,
                    submitted=submitted,
                )
            )
        events.sort(key=lambda e: int(e["event_timestamp"]))
        job_store.write_text(
            "worker-activity/events.jsonl", "".join(json.dumps(e) + "\n" for e in events)
        )
        job_store.write_text(
            "simulation/injected-errors.jsonl", "".join(json.dumps(e) + "\n" for e in ledger)
        )
        job_store.write_text(
            "simulation/summary.json",
            json.dumps(
                {
                    "job": request.job_id,
                    "started": start.isoformat(),
                    "finished": finished.isoformat(),
                    "data_objects": len(lines),
                    "injected_errors": len(ledger),
                    "events": len(events),
                    "shapes": shapes,
                    "worker_responses": responses,
                }
            ),
        )
        out.write_text(base, formats.manifest_text(output_lines))

    def _label_one(
        self,
        request: JobRequest,
        line: dict[str, Any],
        source_ref: str,
        kind: str,
        class_ids: dict[str, int],
        worker: simulation.Worker,
        audit: bool,
        parent_attribute: str | None,
        ledger: list[dict[str, Any]],
    ) -> tuple[list[formats.FrameLabels] | None, Any, int]:
        """Labels for one data object: (frames, audit-changed flag or inline answer, work units)."""
        truth = self._truth(source_ref)
        if request.modality == "BoundingBox":
            image = source_ref.rsplit("/", 1)[-1]
            if truth is None:
                truth = ClipTruth(0, 0, [TruthFrame(frame=image)])
            frames, errors = simulation.label_clip(
                truth, [truth.frames[0].frame], "box", class_ids, worker, request.job_id, source_ref
            )
            self._record_errors(ledger, request, source_ref, worker, errors)
            annotations = [
                {
                    "class_id": s.class_id,
                    "left": round(s.box[0]),
                    "top": round(s.box[1]),
                    "width": round(s.box[2]),
                    "height": round(s.box[3]),
                }
                for s in frames[0].shapes
                if s.box
            ]
            answer = {
                "image_size": [{"width": truth.width, "height": truth.height, "depth": 3}],
                "annotations": annotations,
            }
            return None, answer, len(annotations)
        sequence = formats.parse_sequence(self._read(source_ref), source_ref)
        names = [name for _, name in sequence.frames]
        if truth is None:
            truth = ClipTruth(0, 0, [TruthFrame(frame=name) for name in names])
        if audit:
            parent_ref = line.get(parent_attribute or "")
            if not parent_ref:
                raise LabellakeError(
                    f"{request.input_manifest_uri}: the line for {source_ref} has no "
                    f"'{parent_attribute}' to audit"
                )
            parent = simulation.parse_seqlabel(json.loads(self._read(parent_ref)), kind)
            routed = line.get(formats.AUDIT_OBJECTS_KEY)
            frames, changes = simulation.audit_clip(
                parent,
                truth,
                names,
                kind,
                class_ids,
                worker,
                request.job_id,
                source_ref,
                only=None if routed is None else {str(oid) for oid in routed},
            )
            units = sum(len(f.shapes) for f in frames) // 2 + changes
            return frames, changes > 0, units
        frames, errors = simulation.label_clip(
            truth, names, kind, class_ids, worker, request.job_id, source_ref
        )
        self._record_errors(ledger, request, source_ref, worker, errors)
        return frames, None, sum(len(f.shapes) for f in frames)

    @staticmethod
    def _record_errors(
        ledger: list[dict[str, Any]],
        request: JobRequest,
        source_ref: str,
        worker: simulation.Worker,
        errors: list[simulation.InjectedError],
    ) -> None:
        for error in errors:
            ledger.append(
                {
                    "job_name": request.job_id,
                    "source_ref": source_ref,
                    "worker_id": worker.worker_id,
                    "kind": error.kind,
                    "object_id": error.object_id,
                    "frame_no": error.frame_no,
                    "detail": error.detail,
                }
            )

    def _truth(self, source_ref: str) -> ClipTruth | None:
        try:
            return ClipTruth.from_json(self._read(truth_uri(source_ref)))
        except NotFoundError:
            return None

    def _event(
        self,
        worker: simulation.Worker,
        request: JobRequest,
        job_arn: str,
        user_pool: str,
        reference: str,
        event_type: str,
        **times: dt.datetime,
    ) -> dict[str, str]:
        return formats.activity_event(
            worker_id=worker.worker_id,
            sub=worker.sub,
            user_pool=user_pool,
            workteam_arn=request.workteam_arn,
            labeling_job_arn=job_arn,
            account=self.config.account,
            reference_code=reference,
            event_type=event_type,
            **times,
        )


def _label_times(lines: list[dict[str, Any]]) -> list[dt.datetime]:
    """creation-date of every label already on the manifest lines (UTC)."""
    times = []
    for line in lines:
        for key, value in line.items():
            if key.endswith("-metadata") and isinstance(value, dict) and value.get("creation-date"):
                try:
                    moment = dt.datetime.fromisoformat(value["creation-date"])
                except ValueError:
                    continue
                times.append(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC))
    return times
