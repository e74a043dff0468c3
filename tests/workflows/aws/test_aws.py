"""The aws profile's resources: the CloudFormation template (cfn-lint), and bootstrap with
boto3 on a moto server (twice: the second run creates nothing), work teams via Stubber."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from labellake.errors import LabellakeError
from labellake.settings import load_settings
from labellake.workflows.aws import bootstrap, tables, template


def lint(body: dict[str, Any], region: str) -> list[str]:
    """cfn-lint's findings on a template (empty when it is clean)."""
    from cfnlint.api import lint as cfn_lint

    return [str(match) for match in cfn_lint(json.dumps(body), regions=[region])]


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "ap-southeast-2"])
def test_the_template_passes_cfn_lint(region: str) -> None:
    settings = load_settings(profile="aws", aws_region=region)
    body = template.template(settings)
    assert lint(body, region) == []
    kinds = sorted({r["Type"] for r in body["Resources"].values()})
    assert kinds == [
        "AWS::Athena::WorkGroup",
        "AWS::Cognito::UserPool",
        "AWS::Cognito::UserPoolClient",
        "AWS::Cognito::UserPoolGroup",
        "AWS::DynamoDB::Table",
        "AWS::Events::Rule",
        "AWS::Glue::Database",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::Role",
        "AWS::S3::Bucket",
        "AWS::SNS::Topic",
        "AWS::SQS::Queue",
        "AWS::SQS::QueuePolicy",
        "AWS::SageMaker::Workteam",
        "AWS::StepFunctions::StateMachine",
    ]
    table = body["Resources"]["StateTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "BatchId", "KeyType": "HASH"}]
    assert sorted(i["IndexName"] for i in table["GlobalSecondaryIndexes"]) == [
        "job-name-index",
        "parent-index",
        "status-index",
    ]
    models = body["Resources"]["ModelTable"]["Properties"]
    assert models["TableName"] == "labellake-models"
    assert models["KeySchema"] == [
        {"AttributeName": "Id", "KeyType": "HASH"},
        {"AttributeName": "Record", "KeyType": "RANGE"},
    ]
    assert sorted(i["IndexName"] for i in models["GlobalSecondaryIndexes"]) == [
        "record-index",
        "status-index",
    ]
    # The workers may reach the model table and its indexes.
    worker = body["Resources"]["WorkerPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    reachable = [r for s in worker if "dynamodb:UpdateItem" in s["Action"] for r in s["Resource"]]
    assert {"Fn::GetAtt": ["ModelTable", "Arn"]} in reachable
    assert {"Fn::Sub": "${ModelTable.Arn}/index/*"} in reachable
    # Every DynamoDB call the stores make is allowed on their tables.
    for table in ("StateTable", "ModelTable"):
        arn = {"Fn::GetAtt": [table, "Arn"]}
        allowed = {a for s in worker if arn in s["Resource"] for a in s["Action"]}
        calls = {"DescribeTable", "GetItem", "BatchGetItem", "PutItem", "UpdateItem", "Query"}
        calls |= {"Scan", "DeleteItem"} if table == "StateTable" else set()
        assert {f"dynamodb:{c}" for c in calls} <= allowed, table


def test_names_follow_the_prefix() -> None:
    settings = load_settings(profile="aws", aws_prefix="team-b", aws_account_id="123456789012")
    resources = template.template(settings)["Resources"]
    assert resources["Bucket"]["Properties"]["BucketName"] == "team-b-123456789012-us-east-1"
    assert resources["StepsQueue"]["Properties"]["QueueName"] == "team-b-tasks"
    assert resources["ModelTable"]["Properties"]["TableName"] == "team-b-models"
    assert resources["GlueDatabase"]["Properties"]["DatabaseInput"]["Name"] == "team_b"
    assert resources["TwoLevelBatches"]["Properties"]["StateMachineName"] == (
        "team-b-batches-2-levels"
    )


def _clients(endpoint: str, sagemaker: Any = None) -> Any:
    def client(service: str) -> Any:
        if service == "sagemaker" and sagemaker is not None:
            return sagemaker
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")

    return client


def test_bootstrap_creates_once_and_then_finds_everything(moto_endpoint: str) -> None:
    settings = load_settings(
        profile="aws",
        aws_prefix="boot",
        aws_endpoint_url=moto_endpoint,
        aws_account_id="123456789012",
    )
    first = bootstrap.Bootstrap(settings, _clients(moto_endpoint)).run()
    assert {r["resource"]: r["action"] for r in first if r["resource"] != "work team"} == {
        "account": "checked",
        "s3 bucket": "created",
        "sqs queue": "created",
        "eventbridge rule": "created",
        "dynamodb table": "created",
        "sns topic": "ensured",
        "glue database": "created",
        "athena workgroup": "created",
        "iam role": "created",
        "cognito user pool": "created",
    }
    # moto serves no SageMaker work teams: said plainly, not an error.
    assert [r["action"] for r in first if r["resource"] == "work team"] == ["skipped", "skipped"]
    second = bootstrap.Bootstrap(settings, _clients(moto_endpoint)).run()
    assert {r["action"] for r in second} <= {"checked", "exists", "ensured", "skipped"}
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    table = dynamodb.describe_table(TableName="boot-state")["Table"]
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == set(
        tables.STATE_TABLE_INDEXES
    )
    models = dynamodb.describe_table(TableName="boot-models")["Table"]
    assert {i["IndexName"] for i in models["GlobalSecondaryIndexes"]} == set(
        tables.MODEL_TABLE_INDEXES
    )
    created = [r["name"] for r in first if r["resource"] == "dynamodb table"]
    assert created == ["boot-state", "boot-models"]
    events = boto3.client("events", endpoint_url=moto_endpoint, region_name="us-east-1")
    [target] = events.list_targets_by_rule(Rule="boot-labeling-job-state-change")["Targets"]
    assert target["Arn"].endswith(":boot-labeling-events")


def test_bootstrap_creates_the_private_work_teams(moto_endpoint: str) -> None:
    settings = load_settings(
        profile="aws",
        aws_prefix="teams",
        aws_endpoint_url=moto_endpoint,
        aws_account_id="123456789012",
    )
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    stubber = Stubber(sagemaker)
    stubber.add_response("list_workforces", {"Workforces": []})
    stubber.add_response(
        "create_workforce",
        {"WorkforceArn": "arn:aws:sagemaker:us-east-1:123456789012:workforce/default"},
        {"WorkforceName": "default", "CognitoConfig": {"UserPool": ANY, "ClientId": ANY}},
    )
    for team in ("first-level", "second-level"):
        stubber.add_client_error(
            "describe_workteam", "ValidationException", expected_params={"WorkteamName": team}
        )
        stubber.add_response(
            "create_workteam",
            {"WorkteamArn": f"arn:aws:sagemaker:us-east-1:123456789012:workteam/x/{team}"},
            {
                "WorkteamName": team,
                "Description": ANY,
                "MemberDefinitions": [
                    {
                        "CognitoMemberDefinition": {
                            "UserPool": ANY,
                            "UserGroup": team,
                            "ClientId": ANY,
                        }
                    }
                ],
            },
        )
    stubber.activate()
    report = bootstrap.Bootstrap(settings, _clients(moto_endpoint, sagemaker)).run()
    assert [r["action"] for r in report if r["resource"] == "work team"] == ["created", "created"]
    stubber.assert_no_pending_responses()


def test_missing_credentials_are_named(no_credentials: boto3.session.Session) -> None:
    settings = load_settings(profile="aws")
    with pytest.raises(LabellakeError, match="no usable AWS credentials"):
        bootstrap.Bootstrap(settings, no_credentials.client).run()
