"""The labelstudio labeling backend: people label in a Label Studio server.

Each labeling job is one Label Studio project, with one task per data object of its input
manifest:

- the labeling config is made from the job's label category config
  (``labelstudio_labels``); a modality Label Studio cannot label is refused when the batch
  is submitted, before anything is created;
- a video clip is served as an MP4 made from its frames once (kept in the object store
  under ``labelstudio/media/``); a single image is copied there. Label Studio reads them
  through its local files serving (a Local Files storage on that folder) when the object
  store is a folder, or through presigned URLs when it is on S3;
- an audit or adjustment job's tasks carry the parent job's labels as predictions, and
  every region has a required Pass/Fail choice;
- Label Studio calls labellake's API when an annotation is created or updated (a webhook
  per project, when ``labelstudio_webhook_url`` is set); ``describe_job`` then asks the
  server for the project's counts at once, and otherwise every ``labelstudio_poll_s``;
- the job is complete when every task has a submitted (not skipped) annotation. Its
  results are then written in Ground Truth's output layout: a SeqLabel.json per clip (or
  the object-detection answer of an image), a worker-response file per task with the
  Label Studio user as the worker (``labelstudio.<user id>``), the annotation's
  ``lead_time`` as the time spent and its timestamps, the worker activity events and the
  output manifest, so the ETL, the QA checks and the dashboards work unchanged;
- stop: Label Studio has no read-only or archived state for a project, so the project is
  renamed ``[stopped] ...``, its instructions say so, its webhook is removed, and labellake
  reads nothing from it any more.

What the backend keeps of a job (the project id, the task of every data object, the
region ids of the predictions, frame sizes) is one JSON record in the object store under
``labelstudio/jobs/``, so any labellake process of the deployment can poll the job.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import logging
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import ijson

from labellake.aws_clients import AwsTarget
from labellake.errors import LabellakeError, NotFoundError
from labellake.lake import ObjectStore
from labellake.lake.store import locate, read_uri
from labellake.workflows.labeling import formats, simulation
from labellake.workflows.labeling.backends import (
    BackendJobStatus,
    CannotLabel,
    JobRequest,
    JobStatus,
    output_manifest_uri,
)
from labellake.workflows.labeling.backends import labelstudio_labels as labels
from labellake.workflows.labeling.backends.labelstudio_client import (
    LabelStudioClient,
    Unreachable,
    check_url,
)
from labellake.workflows.labeling.spec import VIDEO_MODALITIES, base_modality, is_audit

log = logging.getLogger(__name__)

RECORDS = "labelstudio/jobs"
MEDIA = "labelstudio/media"
WEBHOOKS = "labelstudio/webhooks"
IMPORT_CHUNK = 500  # tasks per import request
WEBHOOK_ACTIONS = ["ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"]
WEBHOOK_HEADER = "X-Labellake-Webhook-Token"
TITLE_MAX = 50  # Label Studio's limit on a project title
NUDGE_S = 5.0  # after a webhook call, the project is looked at each poll for this long


def worker_id(user_id: Any) -> str:
    return f"labelstudio.{user_id}"


class LabelStudioBackend:
    name = "labelstudio"
    poll_interval_s = 1.0  # a cheap look at the job's record; the server is asked less often

    def __init__(
        self,
        objects: ObjectStore,
        url: str | None,
        token: str | None,
        *,
        title_prefix: str = "",
        webhook_url: str | None = None,
        webhook_token: str | None = None,
        files_root: str | None = None,
        server_poll_s: float = 10.0,
        account: str = "111122223333",
        aws: AwsTarget | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.objects = objects
        self.url = url
        self.token = token
        self.title_prefix = title_prefix
        self.webhook_url = webhook_url
        self.webhook_token = webhook_token
        self.files_root = files_root
        self.server_poll_s = server_poll_s
        self.account = account
        self.aws = aws or AwsTarget("us-east-1")
        self.clock = clock
        self._client: LabelStudioClient | None = None
        self._checked = False

    @property
    def client(self) -> LabelStudioClient:
        if self._client is None:
            self._client = LabelStudioClient(self.url, self.token)
        return self._client

    # -- checks at submit time ------------------------------------------------------------

    def check_modality(self, modality: str) -> None:
        base = base_modality(modality)
        if base not in VIDEO_MODALITIES and base != "BoundingBox":
            raise LabellakeError(
                f"Label Studio has no labeling interface for {modality}; run this job on the "
                "groundtruth backend"
            )

    def check_labels(self, job_name: str, modality: str, annotation_type: str) -> None:
        """Refuse a job whose shapes Label Studio cannot draw, naming the job."""
        reason = labels.unsupported(modality, annotation_type)
        if reason:
            raise CannotLabel(
                job_name,
                reason,
                'give the job "backend": "local" (or another backend that labels it)',
            )

    def check_ready(self) -> None:
        """The server answers and takes the token; one line saying what to fix otherwise."""
        if self._checked:
            return
        check_url(self.url)
        self.client.check()
        self._checked = True

    # -- the backend interface ------------------------------------------------------------

    def create_job(self, request: JobRequest) -> None:
        key = self._record_key(request.job_id)
        record = self._read_record(request.job_id) if self.objects.exists(key) else None
        if record is not None and record.get("ready"):
            return
        if record is None:
            record = {
                "request": request.to_dict(),
                "created": self.clock(),
                "marker": uuid.uuid4().hex,
                "stopped": False,
            }
            self._write_record(request.job_id, record)
        self._drop_unfinished(record)
        config = formats.parse_label_config(
            self._read(request.label_config_uri), request.label_config_uri
        )
        lines = formats.parse_manifest(
            self._read(request.input_manifest_uri), request.input_manifest_uri
        )
        tasks, sizes, known = self._tasks(request, config, lines)
        instructions = (config.get("instructions") or {}).get("fullInstruction") or (
            config.get("instructions") or {}
        ).get("shortInstruction", "")
        project = self.client.post(
            "/api/projects/",
            {
                "title": self._title(request.job_id),
                "description": f"labellake job {request.job_id} of batch {request.batch_id} "
                f"({record['marker']})",
                "label_config": labels.labeling_config(config, request.modality),
                "expert_instruction": instructions,
                "show_instruction": bool(instructions),
                "show_skip_button": False,
                "maximum_annotations": 1,
                "show_collab_predictions": True,
            },
        )
        record["project_id"] = int(project["id"])
        self._write_record(request.job_id, record)
        if self.objects.is_local:
            self.client.post(
                "/api/storages/localfiles",
                {
                    "project": record["project_id"],
                    "title": "labellake media",
                    "path": str(Path(self.objects.path(MEDIA))),
                    "use_blob_urls": True,
                },
            )
        if self.webhook_url:
            hook = self.client.post(
                "/api/webhooks/",
                {
                    "project": record["project_id"],
                    "url": self.webhook_url,
                    "send_payload": True,
                    "send_for_all_actions": False,
                    "actions": WEBHOOK_ACTIONS,
                    "headers": {WEBHOOK_HEADER: self.webhook_token or ""},
                    "is_active": True,
                },
            )
            record["webhook_id"] = hook.get("id")
        for start in range(0, len(tasks), IMPORT_CHUNK):
            self.client.post(
                f"/api/projects/{record['project_id']}/import", tasks[start : start + IMPORT_CHUNK]
            )
        record.update(sizes=sizes, known=known, tasks=len(tasks), ready=True, polled=0.0)
        self._write_record(request.job_id, record)

    def describe_job(self, job_id: str) -> JobStatus:
        record = self._read_record(job_id)
        request = JobRequest(**record["request"])
        manifest_uri = output_manifest_uri(request.output_prefix_uri, job_id)
        if record.get("stopped"):
            return JobStatus(BackendJobStatus.STOPPED, failure_reason="stopped on request")
        if record.get("failure"):
            return JobStatus(BackendJobStatus.FAILED, failure_reason=record["failure"])
        out, key = locate(manifest_uri, **self.aws.kwargs)
        if record.get("complete") and out.exists(key):
            return JobStatus(BackendJobStatus.COMPLETED, output_manifest_uri=manifest_uri)
        now = self.clock()
        nudged = self._nudged(record)
        if not nudged and now - float(record.get("polled") or 0) < self.server_poll_s:
            return JobStatus(BackendJobStatus.IN_PROGRESS)
        record["polled"] = now
        try:
            project = self.client.project(record["project_id"])
        except Unreachable:
            # A server down for a while holds the job, not the batch; job_timeout_s and
            # the task lifetime still apply.
            log.warning("job %s: Label Studio did not answer; asking again", job_id, exc_info=True)
            self._write_record(job_id, record)
            return self._expired(request, record, now) or JobStatus(BackendJobStatus.IN_PROGRESS)
        done = int(project.get("finished_task_number") or 0)
        total = int(project.get("task_number") or 0)
        record["progress"] = {"finished": done, "tasks": total}
        if total < int(record.get("tasks") or 0) or done < total:
            self._write_record(job_id, record)
            return self._expired(request, record, now) or JobStatus(BackendJobStatus.IN_PROGRESS)
        try:
            written = self.sync(request, record)
        except Unreachable:
            log.warning("job %s: Label Studio did not answer; asking again", job_id, exc_info=True)
            self._write_record(job_id, record)
            return JobStatus(BackendJobStatus.IN_PROGRESS)
        except LabellakeError as exc:
            record["failure"] = str(exc)
            self._write_record(job_id, record)
            return JobStatus(BackendJobStatus.FAILED, failure_reason=str(exc))
        if not written:  # a task without a submitted annotation after all
            self._write_record(job_id, record)
            return JobStatus(BackendJobStatus.IN_PROGRESS)
        record["complete"] = True
        self._write_record(job_id, record)
        return JobStatus(BackendJobStatus.COMPLETED, output_manifest_uri=manifest_uri)

    def _expired(self, request: JobRequest, record: dict[str, Any], now: float) -> JobStatus | None:
        """FAILED once taskAvailabilityLifetimeInSeconds has passed with tasks left."""
        lifetime = request.task_availability_lifetime_s
        if now - record["created"] <= lifetime:
            return None
        seen = record.get("progress") or {}
        total = seen.get("tasks", record.get("tasks", 0))
        left = total - seen.get("finished", 0)
        return JobStatus(
            BackendJobStatus.FAILED,
            failure_reason=(
                f"{left} of {total} tasks of Label Studio project {record['project_id']} were "
                f"not submitted within taskAvailabilityLifetimeInSeconds ({lifetime} s)"
            ),
        )

    def stop_job(self, job_id: str) -> None:
        try:
            record = self._read_record(job_id)
        except NotFoundError:
            return
        if record.get("stopped"):
            return
        record["stopped"] = True
        self._write_record(job_id, record)
        project_id = record.get("project_id")
        if project_id is None:
            return
        notice = "Stopped by labellake: this job takes no more work; nothing done here is read."
        try:
            self.client.patch(
                f"/api/projects/{project_id}",
                {
                    "title": ("[stopped] " + self._title(job_id))[:TITLE_MAX],
                    "expert_instruction": notice,
                    "show_instruction": True,
                },
            )
            if record.get("webhook_id") is not None:
                self.client.request("DELETE", f"/api/webhooks/{record['webhook_id']}/")
        except LabellakeError:
            pass  # the job is stopped here whatever the server says

    def workforce(self) -> list[dict[str, Any]]:
        """The Label Studio users of the server, as one team."""
        if not self.url or not self.token:
            return []
        users = self.client.get("/api/users/")
        users = users.get("results", []) if isinstance(users, dict) else users
        return [
            {
                "workteamName": "labelstudio",
                "workteamArn": f"labelstudio:{self.client.url}",
                "workers": [
                    {
                        "workerId": worker_id(user["id"]),
                        "name": user.get("email") or user.get("username") or str(user["id"]),
                        "sub": _sub(self.client.url, user["id"]),
                    }
                    for user in users
                ],
            }
        ]

    # -- what the portal and the API ask --------------------------------------------------

    def project_url(self, job_id: str) -> str | None:
        """The Label Studio page of the job's project (None until it exists)."""
        try:
            record = self._read_record(job_id)
        except NotFoundError:
            return None
        if record.get("project_id") is None or not self.url:
            return None
        return f"{self.url.rstrip('/')}/projects/{record['project_id']}/data"

    def progress(self, job_id: str) -> dict[str, int] | None:
        """Tasks submitted of the total, as of the last look at the project."""
        try:
            seen = self._read_record(job_id).get("progress")
        except NotFoundError:
            return None
        if not seen:
            return None
        return {"submitted": seen["finished"], "total": seen["tasks"]}

    def notice(self, payload: dict[str, Any]) -> str | None:
        """A webhook call from Label Studio: the project's next poll is due now. Returns
        the project id it was about (None when the payload names none)."""
        project = payload.get("project")
        project_id = project.get("id") if isinstance(project, dict) else project
        if project_id is None:
            task = payload.get("task")
            project_id = task.get("project") if isinstance(task, dict) else None
        if project_id is None:
            return None
        try:
            project_id = int(project_id)
        except (TypeError, ValueError):
            return None
        counts = project if isinstance(project, dict) else {}
        self.objects.write_text(
            f"{WEBHOOKS}/{project_id}.json",
            json.dumps(
                {
                    "action": str(payload.get("action", ""))[:64],
                    "received": self.clock(),
                    "finished": counts.get("finished_task_number"),
                    "tasks": counts.get("task_number"),
                }
            ),
        )
        return str(project_id)

    # -- results -> Ground Truth's files --------------------------------------------------

    def sync(self, request: JobRequest, record: dict[str, Any]) -> bool:
        """Write the job's outputs from the project's annotations; False (nothing written)
        while a task has no submitted annotation."""
        config = formats.parse_label_config(
            self._read(request.label_config_uri), request.label_config_uri
        )
        lines = formats.parse_manifest(
            self._read(request.input_manifest_uri), request.input_manifest_uri
        )
        chosen: dict[int, dict[str, Any]] = {}
        skipped_by: dict[int, list[dict[str, Any]]] = {}
        with self.client.export_file(record["project_id"]) as export:
            for task in ijson.items(export, "item", use_float=True):
                index = (task.get("data") or {}).get("labellake_index")
                if not isinstance(index, int) or not 0 <= index < len(lines):
                    continue
                annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict)]
                submitted = [a for a in annotations if not a.get("was_cancelled")]
                skipped_by[index] = [a for a in annotations if a.get("was_cancelled")]
                if submitted:
                    chosen[index] = max(submitted, key=lambda a: str(a.get("updated_at") or ""))
        if len(chosen) < len(lines):
            return False
        job_root = request.output_prefix_uri.rstrip("/") + f"/{request.job_id}"
        job_store = type(self.objects).from_uri(job_root, **self.aws.kwargs)
        job_arn = (
            f"arn:aws:sagemaker:{self.aws.region}:{self.account}:labeling-job/{request.job_id}"
        )
        reference = hashlib.sha256(request.job_id.encode()).hexdigest()[:12]
        pool = f"{self.aws.region}_labelstudio"
        audit = is_audit(request.modality)
        video = base_modality(request.modality) in VIDEO_MODALITIES
        problems: list[str] = []
        output_lines = []
        events = []
        for index, line in enumerate(lines):
            annotation = chosen[index]
            user = _user_id(annotation.get("completed_by"))
            worker, sub = worker_id(user), _sub(self.client.url, user)
            submitted = _time(annotation.get("updated_at") or annotation.get("created_at"))
            spent = max(float(annotation.get("lead_time") or 0.0), 0.0)
            accepted = submitted - dt.timedelta(seconds=spent)
            size = tuple(record["sizes"][index])
            results = annotation.get("result") or []
            entry = dict(line)
            adjustment = None
            if video:
                source_ref = line.get("source-ref") or ""
                sequence = formats.parse_sequence(self._read(source_ref), source_ref)
                names = [name for _, name in sequence.frames]
                known = (record.get("known") or {}).get(str(index)) or {}
                converted = labels.video_frames(results, config, names, size, known)  # type: ignore[arg-type]
                problems += [f"task for {source_ref}: {p}" for p in converted.skipped]
                if audit:
                    parent = self._parent_frames(request, config, line, names)
                    _keep_frame_attributes(converted.frames, parent)
                    changed = labels.comparable(converted.frames) != labels.comparable(parent)
                    adjustment = "adjusted" if changed else "unadjusted"
                seq_key = f"annotations/consolidated-annotation/output/{index}/SeqLabel.json"
                job_store.write_text(
                    seq_key,
                    json.dumps(
                        formats.seqlabel_document(
                            converted.frames, tracking="Tracking" in request.modality
                        )
                    ),
                )
                entry[request.label_attribute_name] = job_store.uri(seq_key)
                answer: dict[str, Any] = {"trackingAnnotations": {"frameData": {"entries": []}}}
            else:
                inline, skipped = labels.image_answer(results, config, size)  # type: ignore[arg-type]
                problems += [f"task for {line.get('source-ref')}: {p}" for p in skipped]
                entry[request.label_attribute_name] = inline
                answer = {"boundingBox": inline}
            metadata = formats.label_metadata(
                request.job_id, config, request.modality, submitted, adjustment
            )
            entry[f"{request.label_attribute_name}-metadata"] = metadata
            output_lines.append(entry)
            stamp = submitted.strftime("%Y-%m-%d_%H:%M:%S.%f")[:-3]
            job_store.write_text(
                f"annotations/worker-response/iteration-1/{index}/{stamp}.json",
                json.dumps(
                    formats.worker_response_document(
                        worker, sub, accepted, submitted, answer, self.aws.region, pool
                    )
                ),
            )
            common = {
                "sub": sub,
                "user_pool": pool,
                "workteam_arn": request.workteam_arn,
                "labeling_job_arn": job_arn,
                "account": self.account,
                "reference_code": reference,
            }
            events.append(
                formats.activity_event(
                    worker_id=worker,
                    event_type="TasksSubmitted",
                    accepted=accepted,
                    submitted=submitted,
                    **common,
                )
            )
            for skip in skipped_by.get(index, []):
                skipper = _user_id(skip.get("completed_by"))
                events.append(
                    formats.activity_event(
                        worker_id=worker_id(skipper),
                        event_type="TasksDeclined",
                        declined=_time(skip.get("updated_at") or skip.get("created_at")),
                        **{**common, "sub": _sub(self.client.url, skipper)},
                    )
                )
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise LabellakeError(
                f"Label Studio project {record['project_id']}: {problems[0]}{more}; fix the "
                "regions in Label Studio, then retry the batch"
            )
        events.sort(key=lambda e: int(e["event_timestamp"]))
        job_store.write_text(
            "worker-activity/events.jsonl", "".join(json.dumps(e) + "\n" for e in events)
        )
        out, key = locate(
            output_manifest_uri(request.output_prefix_uri, request.job_id), **self.aws.kwargs
        )
        out.write_text(key, formats.manifest_text(output_lines))
        return True

    # -- tasks ----------------------------------------------------------------------------

    def _tasks(
        self, request: JobRequest, config: dict[str, Any], lines: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[list[int]], dict[str, dict[str, list[str]]]]:
        """The project's tasks (with predictions for an audit), each data object's frame
        size, and the region ids of the predictions by data object."""
        video = base_modality(request.modality) in VIDEO_MODALITIES
        audit = is_audit(request.modality)
        tasks, sizes, known = [], [], {}
        for index, line in enumerate(lines):
            source_ref = line.get("source-ref") or line.get("source") or ""
            task: dict[str, Any] = {"data": {"labellake_index": index, "source_ref": source_ref}}
            if video:
                sequence = formats.parse_sequence(self._read(source_ref), source_ref)
                names = [name for _, name in sequence.frames]
                media_key, size = self._video(source_ref, sequence)
                if audit:
                    parent = self._parent_frames(request, config, line, names)
                    regions, known[str(index)] = labels.video_regions(
                        parent, config, size, len(names)
                    )
                    task["predictions"] = [
                        {
                            "model_version": f"labellake {config.get('auditLabelAttributeName')}",
                            "result": regions,
                        }
                    ]
            else:
                media_key, size = self._image(source_ref)
            task["data"][labels.MEDIA] = self._media_url(media_key, request)
            tasks.append(task)
            sizes.append(list(size))
        return tasks, sizes, known

    def _parent_frames(
        self, request: JobRequest, config: dict[str, Any], line: dict[str, Any], names: list[str]
    ) -> list[formats.FrameLabels]:
        attribute = config.get("auditLabelAttributeName") or ""
        parent_ref = line.get(attribute)
        if not parent_ref:
            raise LabellakeError(
                f"{request.input_manifest_uri}: the line for {line.get('source-ref')} has no "
                f"'{attribute}' labels to audit"
            )
        frames = simulation.parse_seqlabel(
            json.loads(self._read(parent_ref)), formats.annotation_type(config)
        )
        by_name = {frame.frame: frame for frame in frames}
        return [
            by_name.get(name) or formats.FrameLabels(frame_no=i, frame=name)
            for i, name in enumerate(names)
        ]

    def _video(self, source_ref: str, sequence: formats.Sequence) -> tuple[str, tuple[int, int]]:
        """The clip as an MP4 in the object store (made once), and its frame size."""
        from labellake.workflows.imports.video import encode_frames

        digest = hashlib.sha256(source_ref.encode()).hexdigest()[:20]
        key = f"{MEDIA}/{digest}.mp4"
        size_key = f"{MEDIA}/{digest}.json"
        if self.objects.exists(key) and self.objects.exists(size_key):
            return key, tuple(json.loads(self.objects.read_text(size_key))["size"])  # type: ignore[return-value]
        frames = [
            read_uri(_join(sequence.prefix, name), **self.aws.kwargs) for _, name in sequence.frames
        ]
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "clip.mp4"
            try:
                size = encode_frames(frames, path, labels.FRAME_RATE)
            except (OSError, ValueError) as exc:
                raise LabellakeError(
                    f"sequence {source_ref}: its frames cannot be made into a video for Label "
                    f"Studio ({type(exc).__name__}); check that they are JPEG or PNG images"
                ) from None
            self.objects.write_bytes(key, path.read_bytes())
        self.objects.write_text(size_key, json.dumps({"size": list(size)}))
        return key, size

    def _image(self, source_ref: str) -> tuple[str, tuple[int, int]]:
        from PIL import Image, UnidentifiedImageError

        data = read_uri(source_ref, **self.aws.kwargs)
        try:
            with Image.open(io.BytesIO(data)) as image:
                size = image.size
                suffix = (image.format or "jpeg").lower()
        except (OSError, UnidentifiedImageError, ValueError):
            raise LabellakeError(
                f"{source_ref} is not an image Label Studio can show; use JPEG or PNG"
            ) from None
        key = f"{MEDIA}/{hashlib.sha256(source_ref.encode()).hexdigest()[:20]}.{suffix}"
        if not self.objects.exists(key):
            self.objects.write_bytes(key, data)
        return key, size

    def _media_url(self, key: str, request: JobRequest) -> str:
        """Where Label Studio reads an object: its local files serving, or a presigned URL."""
        if self.objects.is_local:
            root = Path(self.files_root or self.objects.path()).resolve()
            path = Path(self.objects.path(key)).resolve()
            try:
                relative = path.relative_to(root)
            except ValueError:
                raise LabellakeError(
                    f"labelstudio_files_root {root} does not hold the object store's "
                    f"{MEDIA} folder; set it to the folder Label Studio serves "
                    "(LOCAL_FILES_DOCUMENT_ROOT), a parent of the object store"
                ) from None
            return f"/data/local-files/?d={quote(relative.as_posix())}"
        bucket, _, object_key = self.objects.uri(key).removeprefix("s3://").partition("/")
        lifetime = min(request.task_availability_lifetime_s, 7 * 24 * 3600)
        return self.aws.client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": object_key}, ExpiresIn=lifetime
        )

    # -- records ----------------------------------------------------------------------------

    def _title(self, job_id: str) -> str:
        title = f"{self.title_prefix}{job_id}"
        if len(title) > TITLE_MAX:
            title = title[: TITLE_MAX - 9] + "-" + hashlib.sha256(job_id.encode()).hexdigest()[:8]
        return title if len(title) >= 3 else f"{title}---"[:3]

    def _drop_unfinished(self, record: dict[str, Any]) -> None:
        """A create that broke off part way: delete the project it made, to start over."""
        project_id = record.pop("project_id", None)
        if project_id is None:
            for project in self.client.projects():
                if record["marker"] in str(project.get("description") or ""):
                    project_id = project["id"]
        if project_id is not None:
            with contextlib.suppress(NotFoundError):
                self.client.request("DELETE", f"/api/projects/{int(project_id)}/")

    def _record_key(self, job_id: str) -> str:
        return f"{RECORDS}/{job_id}.json"

    def _read_record(self, job_id: str) -> dict[str, Any]:
        key = self._record_key(job_id)
        if not self.objects.exists(key):
            raise NotFoundError(f"the labelstudio backend has no job '{job_id}'")
        return json.loads(self.objects.read_text(key))

    def _write_record(self, job_id: str, record: dict[str, Any]) -> None:
        self.objects.write_text(self._record_key(job_id), json.dumps(record))

    def _nudged(self, record: dict[str, Any]) -> bool:
        """A webhook call about the job's project arrived since its last poll."""
        if record.get("project_id") is None:
            return False
        key = f"{WEBHOOKS}/{int(record['project_id'])}.json"
        if not self.objects.exists(key):
            return False
        try:
            received = float(json.loads(self.objects.read_text(key)).get("received") or 0)
        except (ValueError, TypeError, OSError):
            return True
        # Label Studio may call before its own transaction is visible: keep looking for a
        # few seconds after each call.
        return received >= float(record.get("polled") or 0) or self.clock() - received < NUDGE_S

    def delete_records(self, job_id: str) -> None:
        """A deleted batch's job: its Label Studio project (with the work in it) and the
        record. A server that does not answer keeps the project, named after the job, to
        be deleted there by hand; the batch is deleted all the same."""
        try:
            record = self._read_record(job_id)
        except NotFoundError:
            return
        if record.get("project_id") is not None:
            try:
                self.client.request("DELETE", f"/api/projects/{int(record['project_id'])}/")
            except NotFoundError:
                pass
            except LabellakeError:
                log.warning(
                    "job %s: its Label Studio project was not deleted", job_id, exc_info=True
                )
        self.objects.delete(self._record_key(job_id))

    def records(self, job_id: str) -> list[str]:
        """URIs of what the backend keeps for the job outside its output prefix."""
        key = self._record_key(job_id)
        return [self.objects.uri(key)] if self.objects.exists(key) else []

    def _read(self, uri: str) -> str:
        return read_uri(uri, **self.aws.kwargs).decode("utf-8")


def _keep_frame_attributes(
    frames: list[formats.FrameLabels], parent: list[formats.FrameLabels]
) -> None:
    """An audit shows the clip's frame attributes as one value each; where the auditor left
    them as predicted, each frame keeps the parent's own values."""
    predicted = labels.clip_attributes(parent)
    if labels.clip_attributes(frames) != predicted:
        return
    for frame, before in zip(frames, parent, strict=False):
        frame.attributes = dict(before.attributes)


def _join(prefix: str, name: str) -> str:
    return name if "://" in name or name.startswith("/") else prefix.rstrip("/") + "/" + name


def _user_id(completed_by: Any) -> Any:
    if isinstance(completed_by, dict):
        return completed_by.get("id", "unknown")
    return completed_by if completed_by is not None else "unknown"


def _sub(url: str, user_id: Any) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{url}/users/{user_id}"))


def _time(value: Any) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.now(dt.UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


__all__ = ["LabelStudioBackend", "worker_id"]
