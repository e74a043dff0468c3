"""The groundtruth labeling backend: SageMaker Ground Truth through boto3.

CreateLabelingJob gets the HumanTaskConfig of the job's modality (or its
adjustment variant for audits): the task UI, the pre-annotation and
annotation-consolidation Lambda functions Ground Truth runs in the region, time
limits, maxConcurrentTaskCount and the work team. Completion comes from the
"SageMaker Ground Truth Labeling Job State Change" EventBridge events, which a
rule delivers to an SQS queue; DescribeLabelingJob answers when no event has
arrived (or no queue is configured). Failed and Stopped jobs fail their batch
with Ground Truth's reason.

Throttled and transiently failing calls (5xx answers, dropped connections) are
retried here with exponential backoff and jitter (its clients are built with
botocore's own retries off, so the two never multiply); missing credentials, an
unknown work team and a region without Ground Truth are errors that name the
setting or the resource.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from labellake.aws_clients import AwsTarget
from labellake.errors import LabellakeError, NotFoundError
from labellake.lake.store import locate, read_uri
from labellake.workflows.labeling import formats
from labellake.workflows.labeling.backends import (
    BackendJobStatus,
    JobRequest,
    JobStatus,
    output_manifest_uri,
)
from labellake.workflows.labeling.spec import base_modality, is_audit

# The AWS accounts that own Ground Truth's task Lambda functions, per region
# (SageMaker API reference, HumanTaskConfig: PreHumanTaskLambdaArn and
# AnnotationConsolidationLambdaArn).
LAMBDA_ACCOUNTS = {
    "us-east-1": "432418664414",
    "us-east-2": "266458841044",
    "us-west-2": "081040173940",
    "ca-central-1": "918755190332",
    "eu-west-1": "568282634449",
    "eu-west-2": "487402164563",
    "eu-central-1": "203001061592",
    "ap-northeast-1": "477331159723",
    "ap-northeast-2": "845288260483",
    "ap-south-1": "565803892007",
    "ap-southeast-1": "377565633583",
    "ap-southeast-2": "454466003867",
}
UI_ACCOUNT = "394669845002"  # owns the built-in video and point cloud task UIs
# Modality -> Ground Truth's task type name in its Lambda function names.
TASK_TYPES = {
    "VideoObjectTracking": "VideoObjectTracking",
    "VideoObjectDetection": "VideoObjectDetection",
    "PointCloudObjectTracking": "3DPointCloudObjectTracking",
    "PointCloudObjectDetection": "3DPointCloudObjectDetection",
    "BoundingBox": "BoundingBox",
}
KEYWORDS = {
    "VideoObjectTracking": ["Video", "Object tracking", "Bounding boxes"],
    "VideoObjectDetection": ["Video", "Object detection"],
    "PointCloudObjectTracking": ["Point cloud", "Object tracking", "Cuboids"],
    "PointCloudObjectDetection": ["Point cloud", "Object detection", "Cuboids"],
    "BoundingBox": ["Images", "Bounding boxes"],
}
log = logging.getLogger(__name__)

STATE_CHANGE = "SageMaker Ground Truth Labeling Job State Change"
RETRIED = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "InternalFailure",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
}
# An image bounding-box task needs a worker template; video and point cloud tasks use
# Ground Truth's built-in UIs (HumanTaskUiArn).
BOUNDING_BOX_TEMPLATE = """<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <crowd-bounding-box name="boundingBox" src="{{ task.input.taskObject | grant_read_access }}"
    header="{{ task.input.header }}" labels="{{ task.input.labels | to_json | escape }}">
    <full-instructions header="Bounding box instructions">
      {{ task.input.instructions }}
    </full-instructions>
    <short-instructions>{{ task.input.instructions }}</short-instructions>
  </crowd-bounding-box>
</crowd-form>
"""


def check_region(region: str) -> None:
    if region not in LAMBDA_ACCOUNTS:
        raise LabellakeError(
            f"aws_region '{region}' has no SageMaker Ground Truth task functions; use one of "
            f"{', '.join(sorted(LAMBDA_ACCOUNTS))} (LABELLAKE_AWS_REGION)"
        )


def lambda_arn(kind: str, modality: str, region: str) -> str:
    """Ground Truth's PRE (pre-annotation) or ACS (consolidation) function for a modality."""
    check_region(region)
    task = TASK_TYPES[base_modality(modality)]
    adjustment = "Adjustment" if is_audit(modality) else ""
    return f"arn:aws:lambda:{region}:{LAMBDA_ACCOUNTS[region]}:function:{kind}-{adjustment}{task}"


def human_task_config(
    request: JobRequest, config: dict[str, Any], region: str, ui_template_uri: str | None = None
) -> dict[str, Any]:
    """The HumanTaskConfig of CreateLabelingJob for ``request``."""
    modality = base_modality(request.modality)
    instructions = (config.get("instructions") or {}).get("shortInstruction") or (
        f"Label every {', '.join(label['label'] for label in config['labels'])}."
    )
    if modality == "BoundingBox":
        if not ui_template_uri:
            raise LabellakeError("an image bounding-box job needs its worker template on S3")
        ui = {"UiTemplateS3Uri": ui_template_uri}
    else:
        ui = {"HumanTaskUiArn": f"arn:aws:sagemaker:{region}:{UI_ACCOUNT}:human-task-ui/{modality}"}
    verb = "Adjust" if is_audit(request.modality) else "Label"
    return {
        "WorkteamArn": request.workteam_arn,
        "UiConfig": ui,
        "PreHumanTaskLambdaArn": lambda_arn("PRE", request.modality, region),
        "TaskKeywords": KEYWORDS[modality],
        "TaskTitle": f"{verb}: {request.job_name}"[:128],
        "TaskDescription": instructions[:255],
        "NumberOfHumanWorkersPerDataObject": 1,
        "TaskTimeLimitInSeconds": request.task_time_limit_s,
        "TaskAvailabilityLifetimeInSeconds": request.task_availability_lifetime_s,
        "MaxConcurrentTaskCount": request.max_concurrent_task_count,
        "AnnotationConsolidationConfig": {
            "AnnotationConsolidationLambdaArn": lambda_arn("ACS", request.modality, region)
        },
    }


class GroundTruthBackend:
    name = "groundtruth"
    poll_interval_s = 30.0  # DescribeLabelingJob is rate limited; events come through SQS

    def __init__(
        self,
        sagemaker: Any,
        role_arn: str | None,
        aws: AwsTarget,
        sqs: Any = None,
        queue_url: str | None = None,
        queue_name: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_attempts: int = 6,
        fallback_s: float = 300.0,
    ) -> None:
        self.sagemaker = sagemaker
        self.role_arn = role_arn
        self.region = aws.region
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_name = queue_name  # resolved to queue_url on first use
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.aws = aws
        self.clock = clock
        self.fallback_s = fallback_s
        self._events: dict[str, dict[str, Any]] = {}  # job name -> newest state change
        self._described: dict[str, float] = {}  # job name -> when it was last described

    # -- calls ------------------------------------------------------------------------

    def call(self, client: Any, operation: str, **params: Any) -> dict[str, Any]:
        """One AWS call: throttling and transient failures retried with exponential
        backoff and jitter; missing credentials said plainly."""
        for attempt in range(self.max_attempts):
            last = attempt == self.max_attempts - 1
            try:
                return getattr(client, operation)(**params)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in RETRIED and not last:
                    self._back_off(attempt)
                    continue
                raise
            except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError):
                if last:
                    raise
                self._back_off(attempt)
                continue
            except (NoCredentialsError, PartialCredentialsError) as exc:
                raise LabellakeError(
                    f"no usable AWS credentials for {operation} ({exc}); set AWS_PROFILE or "
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                ) from exc
        raise AssertionError("unreachable")

    def _back_off(self, attempt: int) -> None:
        self.sleep(min(20.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2))

    # -- the backend interface ------------------------------------------------------------

    def check_modality(self, modality: str) -> None:
        check_region(self.region)
        if base_modality(modality) not in TASK_TYPES:
            raise LabellakeError(f"Ground Truth has no task type for {modality}")

    def check_workteam(self, workteam_arn: str) -> None:
        name = workteam_arn.rsplit("/", 1)[-1]
        try:
            self.call(self.sagemaker, "describe_workteam", WorkteamName=name)
        except ClientError as exc:
            raise LabellakeError(
                f"work team {workteam_arn} does not exist in {self.region} "
                f"({exc.response.get('Error', {}).get('Message', exc)}); create it in "
                "SageMaker Ground Truth or `labellake aws bootstrap`, or fix workteamArn"
            ) from exc

    def create_job(self, request: JobRequest) -> None:
        if not self.role_arn:
            raise LabellakeError(
                "Ground Truth needs an IAM role to assume: set aws_role_arn "
                "(LABELLAKE_AWS_ROLE_ARN), or use the aws profile, which names it"
            )
        if self._exists(request.job_id):
            return
        config = formats.parse_label_config(
            read_uri(request.label_config_uri, **self.aws.kwargs).decode("utf-8"),
            request.label_config_uri,
        )
        job_root = f"{request.output_prefix_uri.rstrip('/')}/{request.job_id}"
        config_uri = request.label_config_uri
        if not config_uri.startswith("s3://"):
            config_uri = self._put(f"{job_root}/label_category.json", json.dumps(config))
        template_uri = None
        if base_modality(request.modality) == "BoundingBox":
            template_uri = self._put(f"{job_root}/template.liquid.html", BOUNDING_BOX_TEMPLATE)
        params = {
            "LabelingJobName": request.job_id,
            "LabelAttributeName": request.label_attribute_name,
            "InputConfig": {
                "DataSource": {"S3DataSource": {"ManifestS3Uri": request.input_manifest_uri}},
                "DataAttributes": {
                    "ContentClassifiers": [
                        "FreeOfPersonallyIdentifiableInformation",
                        "FreeOfAdultContent",
                    ]
                },
            },
            "OutputConfig": {"S3OutputPath": request.output_prefix_uri.rstrip("/") + "/"},
            "RoleArn": self.role_arn,
            "LabelCategoryConfigS3Uri": config_uri,
            "HumanTaskConfig": human_task_config(request, config, self.region, template_uri),
            "Tags": [
                {"Key": "labellake:batch", "Value": request.batch_id},
                {"Key": "labellake:job", "Value": request.job_name},
            ],
        }
        try:
            self.call(self.sagemaker, "create_labeling_job", **params)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceInUse":
                return  # created by an earlier attempt of this step
            raise LabellakeError(
                f"CreateLabelingJob {request.job_id} was refused: "
                f"{exc.response.get('Error', {}).get('Message', exc)}"
            ) from exc

    def describe_job(self, job_id: str) -> JobStatus:
        """From the newest state-change event; DescribeLabelingJob when the job has ended
        (for its output and reason), or every ``fallback_s`` while no event has come."""
        self.drain_events()
        event = self._events.get(job_id)
        now = self.clock()
        if event is not None and event.get("LabelingJobStatus") in ("InProgress", "Initializing"):
            return JobStatus(BackendJobStatus.IN_PROGRESS)
        if (
            event is None
            and self.queue_url
            and now - self._described.get(job_id, -self.fallback_s) < self.fallback_s
        ):
            return JobStatus(BackendJobStatus.IN_PROGRESS)
        self._described[job_id] = now
        try:
            job = self.call(self.sagemaker, "describe_labeling_job", LabelingJobName=job_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in (
                "ResourceNotFound",
                "ValidationException",
            ):
                raise NotFoundError(f"Ground Truth has no labeling job '{job_id}'") from exc
            raise
        status = job["LabelingJobStatus"]
        if status == "Completed":
            output = (job.get("LabelingJobOutput") or {}).get("OutputDatasetS3Uri") or (
                output_manifest_uri(job["OutputConfig"]["S3OutputPath"], job_id)
            )
            return JobStatus(BackendJobStatus.COMPLETED, output_manifest_uri=output)
        if status in ("Failed", "Stopped"):
            return JobStatus(
                BackendJobStatus.FAILED if status == "Failed" else BackendJobStatus.STOPPED,
                failure_reason=job.get("FailureReason") or f"the labeling job is {status}",
            )
        return JobStatus(BackendJobStatus.IN_PROGRESS)

    def stop_job(self, job_id: str) -> None:
        try:
            self.call(self.sagemaker, "stop_labeling_job", LabelingJobName=job_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in (
                "ResourceNotFound",
                "ValidationException",
            ):
                raise

    def workforce(self) -> list[dict[str, Any]]:
        try:
            teams = self.call(self.sagemaker, "list_workteams", MaxResults=100)["Workteams"]
        except (ClientError, BotoCoreError, LabellakeError):
            return []
        return [
            {
                "workteamName": team["WorkteamName"],
                "workteamArn": team["WorkteamArn"],
                "source": "groundtruth",
                "workers": [],  # members live in the team's Cognito user groups
            }
            for team in teams
        ]

    # -- events ----------------------------------------------------------------------------

    def drain_events(self) -> int:
        """Read the state-change events waiting in the queue; returns how many."""
        if self.sqs is not None and not self.queue_url and self.queue_name:
            name, self.queue_name = self.queue_name, None
            try:
                self.queue_url = self.call(self.sqs, "get_queue_url", QueueName=name)["QueueUrl"]
            except (ClientError, BotoCoreError, LabellakeError) as exc:
                log.warning(
                    "no SQS queue %s for Ground Truth's state-change events (%s); polling "
                    "DescribeLabelingJob instead",
                    name,
                    exc,
                )
        if self.sqs is None or not self.queue_url:
            return 0
        read = 0
        while True:
            answer = self.call(
                self.sqs,
                "receive_message",
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
            )
            messages = answer.get("Messages") or []
            if not messages:
                return read
            for message in messages:
                self._take(message.get("Body") or "")
                self.call(
                    self.sqs,
                    "delete_message",
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                )
                read += 1

    def _take(self, body: str) -> None:
        try:
            event = json.loads(body)
        except json.JSONDecodeError:
            return
        if not isinstance(event, dict) or event.get("detail-type") != STATE_CHANGE:
            return
        detail = event.get("detail") or {}
        arn = str(detail.get("LabelingJobArn") or (event.get("resources") or [""])[0])
        name = arn.rsplit("/", 1)[-1]
        if name:
            self._events[name] = detail

    # -- helpers ------------------------------------------------------------------------------

    def _exists(self, job_id: str) -> bool:
        try:
            self.call(self.sagemaker, "describe_labeling_job", LabelingJobName=job_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in (
                "ResourceNotFound",
                "ValidationException",
            ):
                return False
            raise
        return True

    def _put(self, uri: str, text: str) -> str:
        store, key = locate(uri, **self.aws.kwargs)
        return store.write_text(key, text)
