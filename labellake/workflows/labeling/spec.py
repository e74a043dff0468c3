"""The batch request: what an analyst submits to POST /batch/create.

Field names follow the reference solution's request (batchId, labelingJobs,
jobName, jobLevel, jobModality, inputConfig.inputManifestS3Uri or
chainFromJobName, labelCategoryConfigS3Uri, workteamArn), so existing requests
and notebooks keep working. Every validation error names its field.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from labellake import jsontext
from labellake.errors import LabellakeError

# Ground Truth's labeling-job name rule; batch ids follow it too.
NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
_NAME = re.compile(NAME_PATTERN)

VIDEO_MODALITIES = ("VideoObjectTracking", "VideoObjectDetection")
POINT_CLOUD_MODALITIES = ("PointCloudObjectTracking", "PointCloudObjectDetection")
SEQUENCE_MODALITIES = VIDEO_MODALITIES + POINT_CLOUD_MODALITIES
MODALITIES: tuple[str, ...] = (
    *SEQUENCE_MODALITIES,
    *(f"{m}Audit" for m in SEQUENCE_MODALITIES),
    "BoundingBox",
)

DEFAULT_MAX_CONCURRENT_TASKS = 100
DEFAULT_TASK_AVAILABILITY_S = 864000
DEFAULT_TASK_TIME_LIMIT_S = 604800


def is_audit(modality: str) -> bool:
    return modality.endswith("Audit")


def base_modality(modality: str) -> str:
    """VideoObjectTrackingAudit -> VideoObjectTracking."""
    return modality.removesuffix("Audit")


def label_attribute_name(job_name: str, modality: str) -> str:
    """Ground Truth's rule: sequence tasks write `<job>-ref`, image tasks the job name."""
    return f"{job_name}-ref" if base_modality(modality) in SEQUENCE_MODALITIES else job_name


def default_workteam_arn(level: int, region: str, account: str) -> str:
    team = "first-level" if level == 1 else "second-level"
    return f"arn:aws:sagemaker:{region}:{account}:workteam/private-crowd/{team}"


class QaFilter(BaseModel):
    """What of a parent job's work a chained job sees.

    - mode ``findings`` (the default): the data objects with at least ``minFindings``
      findings of the named QA checks, all of them; with ``auditBudget``, the objects
      with the most findings instead, up to the budget, and a random share of all;
    - mode ``risk``: the labeled objects most likely to fail an audit, up to
      ``auditBudget`` (a share of the parent's objects, on average), and always a random
      share of every object, so the quality bound of what ships stays unbiased;
    - mode ``consensus`` (after a job with consensusCount): the objects its workers agreed
      on less than ``minAgreement``, and the data objects where one was left out.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    mode: Literal["findings", "risk", "consensus"] = Field(
        default="findings", description="findings (QA-flagged data objects), risk or consensus."
    )
    checks: list[str] = Field(default_factory=list, description="QA check names; empty = all.")
    min_findings: int = Field(
        default=1,
        ge=1,
        alias="minFindings",
        description="Findings a data object needs to be routed.",
    )
    audit_budget: float | None = Field(
        default=None,
        alias="auditBudget",
        description="Share of the parent's objects to audit, in (0, 1]: needed by mode risk.",
    )
    min_agreement: float | None = Field(
        default=None,
        alias="minAgreement",
        description="Mode consensus: objects whose workers agreed less go on (default 0.8).",
    )

    @field_validator("audit_budget", "min_agreement", mode="before")
    @classmethod
    def _budget_number(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)  # 1 is as good as 1.0
        return value

    @model_validator(mode="after")
    def _mode_fields(self) -> QaFilter:
        if self.mode == "consensus":
            if self.audit_budget is not None or self.checks or self.min_findings != 1:
                raise _field_error(
                    "mode",
                    "mode consensus takes minAgreement only (no auditBudget, checks or "
                    "minFindings)",
                    relative=True,
                )
            if self.min_agreement is not None and not 0 <= self.min_agreement <= 1:
                raise _field_error(
                    "minAgreement",
                    f"{self.min_agreement:g} is not an agreement; give a number in [0, 1]",
                    relative=True,
                )
            return self
        if self.min_agreement is not None:
            raise _field_error(
                "minAgreement", 'applies to mode consensus ("mode": "consensus")', relative=True
            )
        if self.audit_budget is None:
            if self.mode == "risk":
                raise _field_error(
                    "auditBudget", "mode risk needs an audit budget, e.g. 0.2", relative=True
                )
            return self
        if not 0 < self.audit_budget <= 1:
            raise _field_error(
                "auditBudget",
                f"{self.audit_budget:g} is not a share of the objects; give a number in "
                "(0, 1], e.g. 0.2 to audit a fifth of them",
                relative=True,
            )
        if self.min_findings != 1:
            raise _field_error(
                "minFindings",
                "applies without auditBudget; with a budget the objects with the most "
                "findings go first",
                relative=True,
            )
        if self.mode == "risk" and self.checks:
            raise _field_error(
                "checks",
                "applies to mode findings; mode risk uses every check's findings as features",
                relative=True,
            )
        return self

    @property
    def budgeted(self) -> bool:
        """Objects chosen one by one up to a budget (else whole flagged data objects)."""
        return self.audit_budget is not None

    @property
    def per_object(self) -> bool:
        """The filter picks objects, and records why (modes risk and consensus, and
        findings with a budget); downsampling does not apply after it."""
        return self.budgeted or self.mode == "consensus"


class InputConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    input_manifest_uri: str | None = Field(default=None, alias="inputManifestS3Uri")
    chain_from_job_name: str | None = Field(default=None, alias="chainFromJobName")
    down_sampling_rate: float | None = Field(default=None, alias="downSamplingRate", ge=0, le=100)
    qa_filter: QaFilter | None = Field(default=None, alias="qaFilter")

    @model_validator(mode="after")
    def _exactly_one_source(self) -> InputConfig:
        if (self.input_manifest_uri is None) == (self.chain_from_job_name is None):
            raise ValueError("give exactly one of inputManifestS3Uri and chainFromJobName")
        if self.input_manifest_uri is not None and not self.input_manifest_uri.strip():
            raise _field_error("inputManifestS3Uri", "is empty", relative=True)
        if self.qa_filter is not None and self.chain_from_job_name is None:
            raise _field_error(
                "qaFilter", "applies only to a chained job (chainFromJobName)", relative=True
            )
        if (
            self.qa_filter is not None
            and self.qa_filter.per_object
            and self.down_sampling_rate is not None
        ):
            raise _field_error(
                "downSamplingRate",
                f"does not apply with qaFilter mode {self.qa_filter.mode}"
                + (
                    ", whose auditBudget sets how much is audited"
                    if self.qa_filter.budgeted
                    else ""
                )
                + "; leave one of them out",
                relative=True,
            )
        return self


class LabelingJobSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    job_name: str = Field(alias="jobName")
    job_type: Literal["BATCH"] = Field(default="BATCH", alias="jobType")
    job_modality: str = Field(alias="jobModality")
    job_level: int = Field(alias="jobLevel", ge=1)
    label_category_config_uri: str | None = Field(default=None, alias="labelCategoryConfigS3Uri")
    input_config: InputConfig = Field(alias="inputConfig")
    workteam_arn: str | None = Field(default=None, alias="workteamArn")
    max_concurrent_task_count: int = Field(
        default=DEFAULT_MAX_CONCURRENT_TASKS, alias="maxConcurrentTaskCount", ge=1, le=5000
    )
    task_availability_lifetime_s: int = Field(
        default=DEFAULT_TASK_AVAILABILITY_S, alias="taskAvailabilityLifetimeInSeconds", ge=60
    )
    task_time_limit_s: int = Field(
        default=DEFAULT_TASK_TIME_LIMIT_S, alias="taskTimeLimitInSeconds", ge=30
    )
    backend: str | None = Field(
        default=None, description="Labeling backend of this job (overrides the batch's)."
    )
    consensus_count: int | None = Field(
        default=None,
        alias="consensusCount",
        description="Workers who label each data object; their tracks are consolidated.",
    )
    gold_rate: float | None = Field(
        default=None,
        alias="goldRate",
        description="Share of the job's tasks that are gold clips (from the batch's "
        "goldManifestS3Uri), mixed in unmarked and scored against their known tracks.",
    )

    @field_validator("gold_rate", mode="before")
    @classmethod
    def _rate_number(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value

    @field_validator("job_name")
    @classmethod
    def _name_rule(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                f"'{value}' breaks the labeling-job name rule: 1-63 letters, digits and "
                "hyphens, starting and ending with a letter or digit"
            )
        return value

    @field_validator("job_modality")
    @classmethod
    def _known_modality(cls, value: str) -> str:
        if value not in MODALITIES:
            raise ValueError(f"unknown modality '{value}'; known: {', '.join(MODALITIES)}")
        return value

    @model_validator(mode="after")
    def _config_unless_chained(self) -> LabelingJobSpec:
        chained = self.input_config.chain_from_job_name is not None
        if not chained and not self.label_category_config_uri:
            raise _field_error(
                "labelCategoryConfigS3Uri",
                "is required unless the job is chained (inputConfig.chainFromJobName)",
                relative=True,
            )
        if self.consensus_count is not None:
            if self.consensus_count < 2:
                raise _field_error(
                    "consensusCount",
                    f"{self.consensus_count}: a consensus needs at least 2 workers per data "
                    "object; leave it out for one",
                    relative=True,
                )
            if self.job_modality not in VIDEO_MODALITIES:
                raise _field_error(
                    "consensusCount",
                    f"a {self.job_modality} job has no consensus; give it to a video "
                    "labeling job (VideoObjectTracking or VideoObjectDetection)",
                    relative=True,
                )
        if self.gold_rate is not None:
            if not 0 <= self.gold_rate <= 1:
                raise _field_error(
                    "goldRate",
                    f"{self.gold_rate:g} is not a share of the tasks; give a number in "
                    "[0, 1], e.g. 0.1 for one gold clip in ten tasks",
                    relative=True,
                )
            if self.job_modality not in VIDEO_MODALITIES or chained:
                raise _field_error(
                    "goldRate",
                    "gold clips are mixed into video labeling jobs of the first level they "
                    "start from (inputConfig.inputManifestS3Uri)",
                    relative=True,
                )
        if is_audit(self.job_modality) and not chained:
            raise _field_error(
                "inputConfig.chainFromJobName",
                f"a {self.job_modality} job audits another job: name it here",
                relative=True,
            )
        return self

    @property
    def chain_from(self) -> str | None:
        return self.input_config.chain_from_job_name

    @property
    def label_attribute_name(self) -> str:
        return label_attribute_name(self.job_name, self.job_modality)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    batch_id: str = Field(alias="batchId")
    destination_sns_arn: str | None = Field(default=None, alias="destinationSnsArn")
    down_sampling_rate: float = Field(default=100, alias="downSamplingRate", ge=0, le=100)
    labeling_jobs: list[LabelingJobSpec] = Field(alias="labelingJobs", min_length=1)
    backend: str | None = Field(
        default=None,
        description="Labeling backend of the batch's jobs: simulated, local, groundtruth or "
        "labelstudio (default: the deployment's).",
    )
    gold_manifest_uri: str | None = Field(
        default=None,
        alias="goldManifestS3Uri",
        description="Gold clips: manifest lines of source-ref (the sequence) and gold-ref "
        "(a SeqLabel.json of its known tracks). Jobs take them at their goldRate.",
    )

    @field_validator("batch_id")
    @classmethod
    def _batch_name_rule(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                f"'{value}' breaks the batch id rule: 1-63 letters, digits and hyphens, "
                "starting and ending with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _levels_and_chains(self) -> BatchRequest:
        seen: dict[str, int] = {}
        for index, job in enumerate(self.labeling_jobs):
            key = job.job_name.lower()
            if key in seen:
                raise _field_error(
                    f"labelingJobs[{index}].jobName",
                    f"'{job.job_name}' is used twice in this batch "
                    "(job names compare case-insensitively)",
                )
            seen[key] = index
        for index, job in enumerate(self.labeling_jobs):
            if job.gold_rate and not self.gold_manifest_uri:
                raise _field_error(
                    f"labelingJobs[{index}].goldRate",
                    "needs the batch's goldManifestS3Uri: the gold clips to mix in",
                )
        levels = sorted({job.job_level for job in self.labeling_jobs})
        if levels != list(range(1, len(levels) + 1)):
            raise _field_error(
                "labelingJobs[].jobLevel", f"levels must run 1..N without gaps; got {levels}"
            )
        by_name = {job.job_name.lower(): job for job in self.labeling_jobs}
        for index, job in enumerate(self.labeling_jobs):
            parent_name = job.chain_from
            if parent_name is None:
                continue
            field = f"labelingJobs[{index}].inputConfig.chainFromJobName"
            parent = by_name.get(parent_name.lower())
            if parent is None:
                raise _field_error(field, f"'{parent_name}' is not a job of this batch")
            if parent.job_level >= job.job_level:
                raise _field_error(
                    field,
                    f"'{job.job_name}' (level {job.job_level}) chains from "
                    f"'{parent.job_name}' (level {parent.job_level}); a chain must point "
                    "to a job of a lower level",
                )
            qa = job.input_config.qa_filter
            if qa is not None and qa.mode == "consensus" and not parent.consensus_count:
                raise _field_error(
                    f"labelingJobs[{index}].inputConfig.qaFilter.mode",
                    f"consensus needs a parent with consensusCount; '{parent.job_name}' has none",
                )
            if base_modality(parent.job_modality) != base_modality(job.job_modality):
                raise _field_error(
                    f"labelingJobs[{index}].jobModality",
                    f"{job.job_modality} cannot chain from a {parent.job_modality} job",
                )
        return self

    @property
    def levels(self) -> list[int]:
        return sorted({job.job_level for job in self.labeling_jobs})

    def jobs_at(self, level: int) -> list[LabelingJobSpec]:
        return [job for job in self.labeling_jobs if job.job_level == level]

    def job(self, name: str) -> LabelingJobSpec:
        for job in self.labeling_jobs:
            if job.job_name.lower() == name.lower():
                return job
        raise KeyError(name)


class _FieldError(ValueError):
    """A cross-field problem that still names one field (``relative`` to the model raising it)."""

    def __init__(self, field: str, message: str, relative: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.relative = relative


def _field_error(field: str, message: str, relative: bool = False) -> _FieldError:
    return _FieldError(field, message, relative)


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def validation_messages(error: ValidationError) -> list[dict[str, str]]:
    """[{field, message}] for every problem, with fields written as in the request."""
    problems = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        field = _location(tuple(item["loc"]))
        context = item.get("ctx", {}).get("error")
        if isinstance(context, _FieldError):
            message = str(context).split(": ", 1)[1]
            field = f"{field}.{context.field}" if context.relative and field else context.field
        if item["type"] == "extra_forbidden":
            message = "unknown field; check its spelling against the request format"
        elif item["type"] == "missing":
            message = "required field is missing"
        problems.append({"field": field or "request", "message": message})
    return problems


class SpecError(LabellakeError):
    """A batch request that does not validate; ``problems`` lists every field."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(f"{first['field']}: {first['message']}{more}")
        self.problems = problems


def parse_request(payload: bytes | str | dict[str, Any], source: str = "request") -> BatchRequest:
    """A validated BatchRequest; SpecError naming the field (or the JSON position) otherwise."""
    if isinstance(payload, bytes | str):
        try:
            payload = jsontext.loads(payload, source)
        except LabellakeError as exc:
            raise SpecError([{"field": source, "message": str(exc).split(": ", 1)[1]}]) from None
    if not isinstance(payload, dict):
        raise SpecError([{"field": source, "message": "expected a JSON object"}])
    try:
        return BatchRequest.model_validate(payload)
    except ValidationError as exc:
        raise SpecError(validation_messages(exc)) from exc
