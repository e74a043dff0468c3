"""The groundtruth backend: request shapes checked with botocore's Stubber against the
SageMaker service model, for every modality and every region Ground Truth runs in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from labellake.aws_clients import AwsTarget
from labellake.errors import LabellakeError
from labellake.workflows.labeling.backends import (
    BackendJobStatus,
    JobRequest,
)
from labellake.workflows.labeling.backends.groundtruth import (
    LAMBDA_ACCOUNTS,
    TASK_TYPES,
    GroundTruthBackend,
    lambda_arn,
)
from labellake.workflows.labeling.spec import MODALITIES, label_attribute_name

ROLE = "arn:aws:iam::111122223333:role/labellake-groundtruth"
UI = "394669845002"  # the account of Ground Truth's built-in task UIs
CONFIG = {
    "document-version": "2020-08-15",
    "annotationType": "BoundingBox",
    "labels": [{"label": "Vehicle"}],
    "instructions": {"shortInstruction": "Box every vehicle.", "fullInstruction": "..."},
}


def _request(
    modality: str, region: str, config_uri: str, job: str = "drive-0042-vehicle"
) -> JobRequest:
    return JobRequest(
        job_id=job,
        job_name=job,
        batch_id="drive-0042",
        level=2 if modality.endswith("Audit") else 1,
        modality=modality,
        input_manifest_uri="s3://bucket/in/input.manifest",
        label_config_uri=config_uri,
        label_attribute_name=label_attribute_name(job, modality),
        workteam_arn=f"arn:aws:sagemaker:{region}:111122223333:workteam/private-crowd/first-level",
        output_prefix_uri="s3://bucket/out",
        max_concurrent_task_count=50,
        task_time_limit_s=3600,
        task_availability_lifetime_s=864000,
    )


def _backend(
    region: str, endpoint_url: str | None = None, **extra: Any
) -> tuple[GroundTruthBackend, Stubber]:
    client = boto3.client("sagemaker", region_name=region)
    stubber = Stubber(client)
    stubber.activate()
    aws = AwsTarget(region, endpoint_url)
    return GroundTruthBackend(client, ROLE, aws, sleep=lambda s: None, **extra), stubber


def _not_found(stubber: Stubber, job: str) -> None:
    stubber.add_client_error(
        "describe_labeling_job",
        service_error_code="ResourceNotFound",
        service_message=f"Could not find labeling job {job}",
        expected_params={"LabelingJobName": job},
    )


@pytest.fixture(scope="module")
def config_uri(moto_endpoint: str) -> str:
    """A label category config in a bucket on the moto server."""
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="gt-configs")
    s3.put_object(Bucket="gt-configs", Key="vehicle.json", Body=json.dumps(CONFIG).encode())
    return "s3://gt-configs/vehicle.json"


@pytest.mark.parametrize("region", sorted(LAMBDA_ACCOUNTS))
@pytest.mark.parametrize("modality", [m for m in MODALITIES if m != "BoundingBox"])
def test_create_labeling_job_for_every_modality_and_region(
    modality: str, region: str, config_uri: str, moto_endpoint: str
) -> None:
    backend, stubber = _backend(region, endpoint_url=moto_endpoint)
    request = _request(modality, region, config_uri)
    base = modality.removesuffix("Audit")
    task = TASK_TYPES[base]
    adjustment = "Adjustment" if modality.endswith("Audit") else ""
    account = LAMBDA_ACCOUNTS[region]
    _not_found(stubber, request.job_id)
    stubber.add_response(
        "create_labeling_job",
        {"LabelingJobArn": f"arn:aws:sagemaker:{region}:111122223333:labeling-job/x"},
        expected_params={
            "LabelingJobName": "drive-0042-vehicle",
            # Ground Truth's rule: sequence tasks write <job>-ref.
            "LabelAttributeName": "drive-0042-vehicle-ref",
            "InputConfig": {
                "DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://bucket/in/input.manifest"}},
                "DataAttributes": ANY,
            },
            "OutputConfig": {"S3OutputPath": "s3://bucket/out/"},
            "RoleArn": ROLE,
            "LabelCategoryConfigS3Uri": config_uri,
            "HumanTaskConfig": {
                "WorkteamArn": request.workteam_arn,
                "UiConfig": {
                    "HumanTaskUiArn": f"arn:aws:sagemaker:{region}:{UI}:human-task-ui/{base}"
                },
                "PreHumanTaskLambdaArn": (
                    f"arn:aws:lambda:{region}:{account}:function:PRE-{adjustment}{task}"
                ),
                "TaskKeywords": ANY,
                "TaskTitle": ANY,
                "TaskDescription": "Box every vehicle.",
                "NumberOfHumanWorkersPerDataObject": 1,
                "TaskTimeLimitInSeconds": 3600,
                "TaskAvailabilityLifetimeInSeconds": 864000,
                "MaxConcurrentTaskCount": 50,
                "AnnotationConsolidationConfig": {
                    "AnnotationConsolidationLambdaArn": (
                        f"arn:aws:lambda:{region}:{account}:function:ACS-{adjustment}{task}"
                    )
                },
            },
            "Tags": ANY,
        },
    )
    backend.create_job(request)
    stubber.assert_no_pending_responses()


def test_point_cloud_functions_carry_the_3d_prefix() -> None:
    assert lambda_arn("PRE", "PointCloudObjectTrackingAudit", "eu-west-2") == (
        "arn:aws:lambda:eu-west-2:487402164563:function:PRE-Adjustment3DPointCloudObjectTracking"
    )
    assert lambda_arn("ACS", "VideoObjectDetection", "ap-south-1") == (
        "arn:aws:lambda:ap-south-1:565803892007:function:ACS-VideoObjectDetection"
    )


def test_image_jobs_upload_their_worker_template_and_config(
    s3_bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    client = boto3.client("sagemaker", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.activate()
    backend = GroundTruthBackend(client, ROLE, AwsTarget("us-east-1", moto_endpoint))
    config = tmp_path / "label_category.json"
    config.write_text(json.dumps(CONFIG))
    request = _request("BoundingBox", "us-east-1", str(config), job="images-1")
    request = JobRequest(**{**request.to_dict(), "output_prefix_uri": f"s3://{s3_bucket}/out"})
    _not_found(stubber, "images-1")
    stubber.add_response(
        "create_labeling_job",
        {"LabelingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/images-1"},
        expected_params={
            "LabelingJobName": "images-1",
            "LabelAttributeName": "images-1",
            "InputConfig": ANY,
            "OutputConfig": {"S3OutputPath": f"s3://{s3_bucket}/out/"},
            "RoleArn": ROLE,
            "LabelCategoryConfigS3Uri": f"s3://{s3_bucket}/out/images-1/label_category.json",
            "HumanTaskConfig": ANY,
            "Tags": ANY,
        },
    )
    backend.create_job(request)
    stubber.assert_no_pending_responses()
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"])
    assert keys == ["out/images-1/label_category.json", "out/images-1/template.liquid.html"]


def test_status_from_state_change_events_then_describe(moto_endpoint: str) -> None:
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    queue = sqs.create_queue(QueueName="labellake-gt-events")["QueueUrl"]
    now = [0.0]
    backend, stubber = _backend(
        "us-east-1", sqs=sqs, queue_url=queue, clock=lambda: now[0], fallback_s=300
    )
    # No event yet: the first poll describes the job, the next ones wait for events.
    stubber.add_response(
        "describe_labeling_job", _described("InProgress"), {"LabelingJobName": "job-a"}
    )
    assert backend.describe_job("job-a").status == BackendJobStatus.IN_PROGRESS
    now[0] = 10
    assert (
        backend.describe_job("job-a").status == BackendJobStatus.IN_PROGRESS
    )  # no call: nothing stubbed
    event = json.loads(
        (Path(__file__).parents[3] / "fixtures/examples/labeling-job-state-change-event.json")
        .read_text()
        .replace("drive-0042-vehicle", "job-a")
    )
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(event))
    sqs.send_message(QueueUrl=queue, MessageBody="not an event")
    stubber.add_response(
        "describe_labeling_job", _described("Completed"), {"LabelingJobName": "job-a"}
    )
    status = backend.describe_job("job-a")
    assert status.status == BackendJobStatus.COMPLETED
    assert status.output_manifest_uri == "s3://bucket/out/job-a/manifests/output/output.manifest"
    assert not sqs.receive_message(QueueUrl=queue).get("Messages")  # consumed
    stubber.assert_no_pending_responses()


def _described(status: str, reason: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "LabelingJobStatus": status,
        "LabelCounters": {},
        "CreationTime": "2026-11-20T09:00:00Z",
        "LastModifiedTime": "2026-11-20T10:00:00Z",
        "JobReferenceCode": "a1b2c3",
        "LabelingJobName": "job-a",
        "LabelingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/job-a",
        "LabelAttributeName": "job-a-ref",
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://bucket/in.m"}}},
        "OutputConfig": {"S3OutputPath": "s3://bucket/out/"},
        "RoleArn": ROLE,
        "HumanTaskConfig": {
            "WorkteamArn": "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/a",
            "UiConfig": {"HumanTaskUiArn": f"arn:aws:sagemaker:us-east-1:{UI}:human-task-ui/x"},
            "PreHumanTaskLambdaArn": lambda_arn("PRE", "VideoObjectTracking", "us-east-1"),
            "TaskTitle": "t",
            "TaskDescription": "d",
            "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 3600,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": lambda_arn(
                    "ACS", "VideoObjectTracking", "us-east-1"
                )
            },
        },
    }
    if status == "Completed":
        answer["LabelingJobOutput"] = {
            "OutputDatasetS3Uri": "s3://bucket/out/job-a/manifests/output/output.manifest"
        }
    if reason:
        answer["FailureReason"] = reason
    return answer


@pytest.mark.parametrize(
    ("status", "expected"),
    [("Failed", BackendJobStatus.FAILED), ("Stopped", BackendJobStatus.STOPPED)],
)
def test_failed_and_stopped_jobs_carry_their_reason(status: str, expected: str) -> None:
    backend, stubber = _backend("eu-west-1")
    stubber.add_response(
        "describe_labeling_job",
        _described(status, "ClientError: the input manifest is empty"),
        {"LabelingJobName": "job-a"},
    )
    answer = backend.describe_job("job-a")
    assert answer.status == expected and "input manifest is empty" in (answer.failure_reason or "")


def test_throttling_is_retried_with_backoff() -> None:
    slept: list[float] = []
    client = boto3.client("sagemaker", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.activate()
    backend = GroundTruthBackend(client, ROLE, AwsTarget("us-east-1"), sleep=slept.append)
    for code in ("ThrottlingException", "ThrottlingException", "ServiceUnavailable"):
        stubber.add_client_error("stop_labeling_job", service_error_code=code)
    stubber.add_response("stop_labeling_job", {}, {"LabelingJobName": "job-a"})
    backend.stop_job("job-a")
    assert len(slept) == 3 and slept[0] < slept[2]
    stubber.assert_no_pending_responses()


def test_retries_end_and_other_errors_are_not_retried() -> None:
    slept: list[float] = []
    client = boto3.client("sagemaker", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.activate()
    backend = GroundTruthBackend(
        client, ROLE, AwsTarget("us-east-1"), sleep=slept.append, max_attempts=3
    )
    for _ in range(3):
        stubber.add_client_error("stop_labeling_job", service_error_code="ThrottlingException")
    with pytest.raises(ClientError, match="ThrottlingException"):
        backend.call(client, "stop_labeling_job", LabelingJobName="job-a")
    assert len(slept) == 2  # three attempts in all
    stubber.add_client_error("stop_labeling_job", service_error_code="ValidationException")
    with pytest.raises(ClientError, match="ValidationException"):
        backend.call(client, "stop_labeling_job", LabelingJobName="job-a")
    assert len(slept) == 2


def test_bad_settings_name_the_setting_or_resource() -> None:
    with pytest.raises(
        LabellakeError, match="aws_region 'sa-east-1' has no SageMaker Ground Truth"
    ):
        GroundTruthBackend(None, ROLE, AwsTarget("sa-east-1")).check_modality("VideoObjectTracking")
    backend, stubber = _backend("us-west-2")
    stubber.add_client_error(
        "describe_workteam",
        service_error_code="ValidationException",
        service_message="Workteam arn:...:workteam/private-crowd/ghosts does not exist",
        expected_params={"WorkteamName": "ghosts"},
    )
    arn = "arn:aws:sagemaker:us-west-2:111122223333:workteam/private-crowd/ghosts"
    with pytest.raises(LabellakeError, match=f"work team {arn} does not exist in us-west-2"):
        backend.check_workteam(arn)


def test_missing_credentials_are_said_plainly(no_credentials: boto3.session.Session) -> None:
    client = no_credentials.client("sagemaker", endpoint_url="http://127.0.0.1:9")
    backend = GroundTruthBackend(client, ROLE, AwsTarget("us-east-1"))
    with pytest.raises(LabellakeError, match="no usable AWS credentials for stop_labeling_job"):
        backend.stop_job("job-a")
