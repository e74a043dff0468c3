"""Step 1 of a batch: a request checked beyond its shape (names never used before, a
backend and work team for every job, label configs and manifests that read, and every
object a manifest names within reach), and the batch, level and job records it becomes.
Nothing is recorded while any check fails; each problem names its field."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from labellake import jsontext
from labellake.errors import LabellakeError
from labellake.workflows.labeling import formats
from labellake.workflows.labeling.spec import (
    SEQUENCE_MODALITIES,
    BatchRequest,
    LabelingJobSpec,
    base_modality,
    default_workteam_arn,
)
from labellake.workflows.labeling.status import BatchStatus, LabelingJobStatus, LevelStatus

if TYPE_CHECKING:
    from labellake.workflows.labeling.engine import Engine


def _problem(field: str, exc: LabellakeError) -> dict[str, str]:
    """One problem of a request; a message that names its own field keeps it."""
    message = str(exc)
    if message.startswith(field):
        message = message[len(field) :].lstrip(": ")
    return {"field": field, "message": message}


def check_request(
    engine: Engine, request: BatchRequest
) -> tuple[list[dict[str, str]], dict[str, dict[str, Any]]]:
    """Every problem the request has beyond its shape, and the label configs it names."""
    problems: list[dict[str, str]] = []
    configs: dict[str, dict[str, Any]] = {}
    if engine.state.names_taken([request.batch_id]):
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
        for name in engine.state.names_taken([job.job_name for job in request.labeling_jobs])
    }
    manifests: dict[str, int] = {}
    unready: set[str] = set()  # backends that cannot take work, said once
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
        name = backend_name(engine, request, job)
        backend = engine.backends.get(name)
        if backend is None:
            problems.append(
                {
                    "field": f"{where}.backend" if job.backend else "backend",
                    "message": (
                        f"no labeling backend '{name}' here; this deployment runs "
                        f"{', '.join(sorted(engine.backends))}"
                    ),
                }
            )
            backend = engine.backend
        try:
            backend.check_modality(job.job_modality)
        except LabellakeError as exc:
            problems.append({"field": f"{where}.jobModality", "message": str(exc)})
        check_ready = getattr(backend, "check_ready", None)
        if check_ready is not None and backend.name not in unready:
            try:
                check_ready()
            except LabellakeError as exc:
                unready.add(backend.name)
                problems.append(
                    {"field": f"{where}.backend" if job.backend else "backend", "message": str(exc)}
                )
        check_workteam = getattr(backend, "check_workteam", None)
        if check_workteam is not None:
            try:
                check_workteam(workteam(engine, job))
            except LabellakeError as exc:
                problems.append({"field": f"{where}.workteamArn", "message": str(exc)})
        if job.consensus_count is not None:
            problem = _consensus_problem(backend, job, workteam(engine, job))
            if problem:
                problems.append({"field": f"{where}.consensusCount", "message": problem})
        uri = job.label_category_config_uri
        field = f"{where}.labelCategoryConfigS3Uri"
        if uri and uri not in configs:
            try:
                text = engine.inputs.read_text(uri, field, engine.inputs.max_config_bytes)
                configs[uri] = formats.parse_label_config(text, uri)
            except LabellakeError as exc:
                problems.append(_problem(field, exc))
        uri = job.input_config.input_manifest_uri
        field = f"{where}.inputConfig.inputManifestS3Uri"
        if uri is None or uri in manifests:
            continue
        try:
            manifests[uri] = len(check_manifest(engine, uri, job.job_modality, field))
        except LabellakeError as exc:
            problems.append(_problem(field, exc))
    if request.gold_manifest_uri:
        try:
            check_gold(engine, request.gold_manifest_uri)
        except LabellakeError as exc:
            problems.append(_problem("goldManifestS3Uri", exc))
    problems += _label_problems(engine, request, configs)
    return problems, configs


def check_gold(engine: Engine, uri: str) -> list[dict[str, Any]]:
    """The gold manifest's lines, each with its sequence and gold tracks within reach."""
    field = "goldManifestS3Uri"
    lines = formats.parse_manifest(engine.inputs.read_text(uri, field), uri)
    if not lines:
        raise LabellakeError(
            f"{field}: gold manifest {uri} has no lines; add one gold clip per line"
        )
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        where = f"{field} ({uri} line {number})"
        ref, gold = line.get("source-ref"), line.get("gold-ref")
        if not isinstance(ref, str) or not isinstance(gold, str):
            raise LabellakeError(
                f"{where}: a gold line needs source-ref (the sequence) and gold-ref (a "
                "SeqLabel.json of its known tracks)"
            )
        if ref in seen:
            raise LabellakeError(f"{where}: {ref} is listed twice; list each gold clip once")
        seen.add(ref)
        formats.parse_sequence(engine.inputs.read_text(ref, f"{where} source-ref"), ref)
        jsontext.loads(engine.inputs.read_text(gold, f"{where} gold-ref"), gold)
    return lines


def _consensus_problem(backend: Any, job: LabelingJobSpec, team: str) -> str | None:
    """Why ``job``'s consensusCount cannot be met: a backend that gives each data object to
    one worker, or a team with fewer workers than that."""
    team_size = getattr(backend, "team_size", None)
    if team_size is None:
        return (
            f"the {backend.name} backend gives each data object to one worker; leave "
            "consensusCount out, or run the job on the simulated or local backend"
        )
    size = team_size(team)
    if job.consensus_count is not None and job.consensus_count > size:
        return (
            f"{job.consensus_count} workers per data object, but the work team {team} has "
            f"{size}; lower consensusCount or add workers to the team"
        )
    return None


def _label_problems(
    engine: Engine, request: BatchRequest, configs: dict[str, dict[str, Any]]
) -> list[dict[str, str]]:
    """Jobs whose shapes their backend cannot draw (polylines on Label Studio's video)."""
    problems = []
    for index, job in enumerate(request.labeling_jobs):
        config = configs.get(ancestor_config(request, job) or "")
        kind = formats.annotation_type(config) if config is not None else "box"
        if job.consensus_count and kind != "box":
            problems.append(
                {
                    "field": f"labelingJobs[{index}].consensusCount",
                    "message": f"workers' tracks are consolidated for boxes; this job draws "
                    f"{kind}s, so leave consensusCount out",
                }
            )
        if job.gold_rate and kind != "box":
            problems.append(
                {
                    "field": f"labelingJobs[{index}].goldRate",
                    "message": f"gold clips are scored on box tracks; this job draws "
                    f"{kind}s, so leave goldRate out",
                }
            )
        check_labels = getattr(
            engine.backends.get(backend_name(engine, request, job)), "check_labels", None
        )
        config = configs.get(ancestor_config(request, job) or "")
        if check_labels is None or config is None:
            continue
        try:
            check_labels(job.job_name, job.job_modality, formats.annotation_type(config))
        except LabellakeError as exc:
            problems.append({"field": f"labelingJobs[{index}].jobModality", "message": str(exc)})
    return problems


def ancestor_config(request: BatchRequest, job: LabelingJobSpec) -> str | None:
    """The label category config a job labels with: its own, or the job it chains from's."""
    ancestor = job
    while not ancestor.label_category_config_uri and ancestor.chain_from:
        ancestor = request.job(ancestor.chain_from)
    return ancestor.label_category_config_uri


def check_manifest(engine: Engine, uri: str, modality: str, field: str) -> list[dict[str, Any]]:
    lines = formats.parse_manifest(engine.inputs.read_text(uri, field), uri)
    if not lines:
        raise LabellakeError(f"input manifest {uri} has no lines; add one data object per line")
    for number, line in enumerate(lines, start=1):
        # Every object a line names is read later, by a backend or the portal.
        where = f"{field} ({uri} line {number})"
        ref = line.get("source-ref") or line.get("source")
        if base_modality(modality) not in SEQUENCE_MODALITIES:
            if "source-ref" in line:
                engine.inputs.check(ref, f"{where} source-ref")
            continue
        sequence = formats.parse_sequence(engine.inputs.read_text(ref, f"{where} source-ref"), ref)
        for _, frame in sequence.frames:
            engine.inputs.check(f"{sequence.prefix}{frame}", f"{where} frame {frame}")
    return lines


def backend_name(engine: Engine, request: BatchRequest, job: LabelingJobSpec) -> str:
    return job.backend or request.backend or engine.backend.name


def workteam(engine: Engine, job: LabelingJobSpec) -> str:
    return job.workteam_arn or default_workteam_arn(
        job.job_level, engine.config.region, engine.config.account
    )


def records(
    engine: Engine, request: BatchRequest, created: str, configs: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The batch, level and job records of a new batch."""
    token = f"{request.batch_id}-{hashlib.sha256(created.encode()).hexdigest()[:8]}"
    batch = {
        "batch_id": request.batch_id,
        "status": BatchStatus.IN_PROGRESS,
        "request": request.model_dump_json(by_alias=True, exclude_none=True),
        "down_sampling_rate": request.down_sampling_rate,
        "destination": request.destination_sns_arn,
        "token": token,
        "attempt": 1,
        "created_at": created,
        "updated_at": created,
    }
    levels = [
        {"batch_id": request.batch_id, "level": level, "status": LevelStatus.PENDING}
        for level in request.levels
    ]
    jobs = []
    for job in request.labeling_jobs:
        jobs.append(
            {
                "job_name": job.job_name,
                "batch_id": request.batch_id,
                "level": job.job_level,
                "modality": job.job_modality,
                "annotation_type": formats.annotation_type(
                    configs[ancestor_config(request, job) or ""]
                ),
                "status": LabelingJobStatus.PENDING,
                "chain_from": job.chain_from,
                "workteam_arn": workteam(engine, job),
                "label_attribute_name": job.label_attribute_name,
                "label_config_uri": job.label_category_config_uri,
                "source_manifest_uri": job.input_config.input_manifest_uri,
                "down_sampling_rate": job.input_config.down_sampling_rate,
                "attempt": 1,
                "spec": job.model_dump_json(by_alias=True, exclude_none=True),
                "created_at": created,
                "updated_at": created,
                "backend": backend_name(engine, request, job),
            }
        )
    return batch, levels, jobs
