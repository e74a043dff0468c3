"""The AWS resources of the aws profile: a CloudFormation template, and the same
resources created directly with boto3 (for development accounts, moto and LocalStack).

Every name comes from the settings (aws_prefix, the account and the region;
see Settings.aws_names). The template holds: the bucket of the raw zone and the
lake, the steps queue and the labeling-job events queue with the EventBridge
rule that feeds it, the DynamoDB state table, the notification topic, the Glue
database, the Athena workgroup, the state machine of a two-level batch (others
are created on demand by the engine), IAM roles with least privilege (Ground
Truth, Step Functions, and a managed policy for labellake's workers), and the
two private work teams with the Cognito user pool behind them.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from labellake.errors import LabellakeError
from labellake.settings import Settings
from labellake.workflows.labeling.backends.groundtruth import STATE_CHANGE
from labellake.workflows.labeling.stepfunctions import definition

log = logging.getLogger(__name__)

EVENT_PATTERN = {"source": ["aws.sagemaker"], "detail-type": [STATE_CHANGE]}
STATE_TABLE_INDEXES = {
    "status-index": "Status",
    "parent-index": "ParentBatchId",
    "job-name-index": "LabelingJobName",
}
STEPS_VISIBILITY_S = 120


def _state_table(name: str) -> dict[str, Any]:
    """The DynamoDB state table: batch, level and job items under the hash key BatchId."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "BatchId", "AttributeType": "S"},
            *({"AttributeName": key, "AttributeType": "S"} for key in STATE_TABLE_INDEXES.values()),
        ],
        "KeySchema": [{"AttributeName": "BatchId", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": key, "KeyType": "HASH"},
                    *(
                        [{"AttributeName": "BatchId", "KeyType": "RANGE"}]
                        if key != "LabelingJobName"
                        else []
                    ),
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, key in STATE_TABLE_INDEXES.items()
        ],
    }


def _statement(actions: list[str], resources: list[Any]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def template(settings: Settings) -> dict[str, Any]:
    """The CloudFormation template of the aws profile's resources."""
    names = settings.aws_names()
    bucket_arn = {"Fn::GetAtt": ["Bucket", "Arn"]}
    objects_arn = {"Fn::Sub": "${Bucket.Arn}/*"}
    machine = definition(2, "${StepsQueueUrl}", int(settings.job_timeout_s))
    table = _state_table(names["state_table"])
    resources: dict[str, Any] = {
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BucketName": names["bucket"],
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                    ]
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "VersioningConfiguration": {"Status": "Enabled"},
            },
        },
        "StepsQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": names["task_queue"],
                "VisibilityTimeout": STEPS_VISIBILITY_S,
                "SqsManagedSseEnabled": True,
            },
        },
        "ModelStepsQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": names["model_queue"],
                "VisibilityTimeout": STEPS_VISIBILITY_S,
                "SqsManagedSseEnabled": True,
            },
        },
        "EventsQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"QueueName": names["events_queue"], "SqsManagedSseEnabled": True},
        },
        "EventsQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": "EventsQueue"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": ["EventsQueue", "Arn"]},
                            "Condition": {
                                "ArnEquals": {
                                    "aws:SourceArn": {"Fn::GetAtt": ["EventsRule", "Arn"]}
                                }
                            },
                        }
                    ],
                },
            },
        },
        "EventsRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": names["events_rule"],
                "Description": "Ground Truth labeling job state changes, for labellake",
                "EventPattern": EVENT_PATTERN,
                "Targets": [{"Id": "labellake", "Arn": {"Fn::GetAtt": ["EventsQueue", "Arn"]}}],
            },
        },
        "StateTable": {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                **table,
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {"SSEEnabled": True},
            },
        },
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": names["topic"]}},
        "GlueDatabase": {
            "Type": "AWS::Glue::Database",
            "Properties": {
                "CatalogId": {"Ref": "AWS::AccountId"},
                "DatabaseInput": {
                    "Name": names["glue_database"],
                    "Description": "labellake: annotations, workers, documents and benchmarks",
                },
            },
        },
        "Workgroup": {
            "Type": "AWS::Athena::WorkGroup",
            "Properties": {
                "Name": names["workgroup"],
                "State": "ENABLED",
                "WorkGroupConfiguration": {
                    "EnforceWorkGroupConfiguration": True,
                    "ResultConfiguration": {
                        "OutputLocation": {"Fn::Sub": "s3://${Bucket}/athena-results/"}
                    },
                },
            },
        },
        "GroundTruthRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": names["role"],
                "AssumeRolePolicyDocument": _trust("sagemaker.amazonaws.com"),
                "Policies": [
                    {
                        "PolicyName": "labeling-data",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": _groundtruth_statements(
                                bucket_arn,
                                objects_arn,
                                {
                                    "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:"
                                    "${AWS::AccountId}:log-group:/aws/sagemaker/*"
                                },
                            ),
                        },
                    }
                ],
            },
        },
        "StatesRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": names["states_role"],
                "AssumeRolePolicyDocument": _trust("states.amazonaws.com"),
                "Policies": [
                    {
                        "PolicyName": "hand-steps-to-workers",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                _statement(
                                    ["sqs:SendMessage"],
                                    [
                                        {"Fn::GetAtt": ["StepsQueue", "Arn"]},
                                        {"Fn::GetAtt": ["ModelStepsQueue", "Arn"]},
                                    ],
                                )
                            ],
                        },
                    }
                ],
            },
        },
        "WorkerPolicy": {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "ManagedPolicyName": f"{settings.aws_prefix}-worker",
                "Description": "What labellake's API, portal and workers need",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": _worker_statements(settings, bucket_arn, objects_arn),
                },
            },
        },
        "TwoLevelBatches": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineName": f"{settings.aws_prefix}-batches-2-levels",
                "RoleArn": {"Fn::GetAtt": ["StatesRole", "Arn"]},
                "DefinitionString": {
                    "Fn::Sub": [json.dumps(machine), {"StepsQueueUrl": {"Ref": "StepsQueue"}}]
                },
            },
        },
        "UserPool": {
            "Type": "AWS::Cognito::UserPool",
            "Properties": {
                "UserPoolName": f"{settings.aws_prefix}-workers",
                "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
                "Policies": {"PasswordPolicy": {"MinimumLength": 12}},
            },
        },
        "UserPoolClient": {
            "Type": "AWS::Cognito::UserPoolClient",
            "Properties": {
                "UserPoolId": {"Ref": "UserPool"},
                "ClientName": f"{settings.aws_prefix}-labeling-portal",
                "GenerateSecret": True,
            },
        },
    }
    for key, team in (("FirstLevel", names["first_team"]), ("SecondLevel", names["second_team"])):
        resources[f"{key}Group"] = {
            "Type": "AWS::Cognito::UserPoolGroup",
            "Properties": {"GroupName": team, "UserPoolId": {"Ref": "UserPool"}},
        }
        resources[f"{key}Team"] = {
            "Type": "AWS::SageMaker::Workteam",
            "Properties": {
                "WorkteamName": team,
                "Description": f"labellake {team} labelers",
                "MemberDefinitions": [
                    {
                        "CognitoMemberDefinition": {
                            "CognitoUserPool": {"Ref": "UserPool"},
                            "CognitoUserGroup": {"Ref": f"{key}Group"},
                            "CognitoClientId": {"Ref": "UserPoolClient"},
                        }
                    }
                ],
                "NotificationConfiguration": {"NotificationTopicArn": {"Ref": "Topic"}},
            },
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"labellake ({settings.aws_prefix}): labeling workflows over a data lake",
        "Resources": resources,
        "Outputs": {
            "Bucket": {"Value": {"Ref": "Bucket"}},
            "StateTable": {"Value": {"Ref": "StateTable"}},
            "StepsQueueUrl": {"Value": {"Ref": "StepsQueue"}},
            "TopicArn": {"Value": {"Ref": "Topic"}},
            "GroundTruthRoleArn": {"Value": {"Fn::GetAtt": ["GroundTruthRole", "Arn"]}},
            "WorkerPolicyArn": {"Value": {"Ref": "WorkerPolicy"}},
        },
    }


def _groundtruth_statements(bucket_arn: Any, objects_arn: Any, logs_arn: Any) -> list[Any]:
    """What the SageMaker role (Ground Truth's labeling jobs, and the model runs' training
    jobs and endpoints) may do: read the inputs, write the outputs, pull the scikit-learn
    container, log and report metrics."""
    return [
        _statement(["s3:ListBucket"], [bucket_arn]),
        _statement(["s3:GetObject", "s3:PutObject"], [objects_arn]),
        _statement(
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], [logs_arn]
        ),
        _statement(
            ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            ["*"],  # SageMaker's own container registries, in accounts of AWS's
        ),
        {
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricData"],
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}},
        },
    ]


def _trust(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }


def _worker_statements(settings: Settings, bucket_arn: Any, objects_arn: Any) -> list[Any]:
    names = settings.aws_names()
    prefix = settings.aws_prefix

    def arn(text: str) -> dict[str, str]:
        return {"Fn::Sub": text}

    return [
        _statement(["s3:ListBucket", "s3:GetBucketLocation"], [bucket_arn]),
        _statement(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], [objects_arn]),
        _statement(
            [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueUrl",
                "sqs:ChangeMessageVisibility",
            ],
            [
                {"Fn::GetAtt": ["StepsQueue", "Arn"]},
                {"Fn::GetAtt": ["EventsQueue", "Arn"]},
                {"Fn::GetAtt": ["ModelStepsQueue", "Arn"]},
            ],
        ),
        _statement(
            [
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "dynamodb:ConditionCheckItem",
            ],
            [
                {"Fn::GetAtt": ["StateTable", "Arn"]},
                {"Fn::Sub": "${StateTable.Arn}/index/*"},
            ],
        ),
        _statement(["sns:Publish"], [{"Ref": "Topic"}]),
        _statement(
            [
                "states:StartExecution",
                "states:StopExecution",
                "states:DescribeExecution",
                "states:CreateStateMachine",
                "states:UpdateStateMachine",
                "states:ListStateMachines",
            ],
            [
                arn(
                    f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{prefix}-batches-*"
                ),
                arn(
                    f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:execution:{prefix}-batches-*"
                ),
                arn(
                    f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{prefix}-models"
                ),
                arn(
                    f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:execution:{prefix}-models:*"
                ),
            ],
        ),
        _statement(
            [
                "sagemaker:CreateTrainingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:CreateHyperParameterTuningJob",
                "sagemaker:DescribeHyperParameterTuningJob",
                "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
                "sagemaker:CreateModel",
                "sagemaker:DeleteModel",
                "sagemaker:CreateEndpointConfig",
                "sagemaker:DeleteEndpointConfig",
                "sagemaker:CreateEndpoint",
                "sagemaker:DescribeEndpoint",
                "sagemaker:DeleteEndpoint",
                "sagemaker:InvokeEndpoint",
            ],
            [
                arn(
                    "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:"
                    + kind
                    + "/*"
                )
                for kind in (
                    "training-job",
                    "hyper-parameter-tuning-job",
                    "model",
                    "endpoint-config",
                    "endpoint",
                )
            ],
        ),
        _statement(
            ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
            ["*"],  # task tokens are not resources
        ),
        _statement(
            [
                "sagemaker:CreateLabelingJob",
                "sagemaker:DescribeLabelingJob",
                "sagemaker:StopLabelingJob",
                "sagemaker:AddTags",
            ],
            [
                arn(
                    "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:labeling-job/*"
                )
            ],
        ),
        _statement(
            ["sagemaker:DescribeWorkteam", "sagemaker:ListWorkteams"],
            [arn("arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:workteam/*")],
        ),
        _statement(
            ["iam:PassRole"],
            [{"Fn::GetAtt": ["GroundTruthRole", "Arn"]}, {"Fn::GetAtt": ["StatesRole", "Arn"]}],
        ),
        _statement(
            [
                "glue:GetDatabase",
                "glue:GetDatabases",
                "glue:CreateDatabase",
                "glue:GetTable",
                "glue:GetTables",
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:DeleteTable",
                "glue:GetPartitions",
                "glue:BatchCreatePartition",
                "glue:BatchDeletePartition",
            ],
            [
                arn("arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog"),
                arn(
                    "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:database/"
                    + names["glue_database"]
                ),
                arn(
                    "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:table/"
                    + names["glue_database"]
                    + "/*"
                ),
            ],
        ),
        _statement(
            [
                "athena:StartQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:GetWorkGroup",
            ],
            [
                arn(
                    "arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/"
                    + names["workgroup"]
                )
            ],
        ),
    ]


def lint(template_body: dict[str, Any], region: str) -> list[str]:
    """cfn-lint's findings on the template (empty when it is clean)."""
    from cfnlint.api import lint as cfn_lint

    return [str(match) for match in cfn_lint(json.dumps(template_body), regions=[region])]


def deploy(settings: Settings, cloudformation: Any, stack_name: str | None = None) -> str:
    """Create or update the stack; returns its status once CloudFormation is done."""
    name = stack_name or settings.aws_prefix
    body = json.dumps(template(settings))
    args = {"StackName": name, "TemplateBody": body, "Capabilities": ["CAPABILITY_NAMED_IAM"]}
    try:
        cloudformation.create_stack(**args)
        waiter = "stack_create_complete"
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise LabellakeError(
            f"no usable AWS credentials ({exc}); set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY"
        ) from exc
    except BotoCoreError as exc:
        raise LabellakeError(
            f"cannot reach CloudFormation ({exc}); check aws_region, aws_endpoint_url and "
            "the network"
        ) from exc
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "AlreadyExistsException":
            raise LabellakeError(f"cannot create stack {name}: {exc}") from exc
        try:
            cloudformation.update_stack(**args)
        except ClientError as update_exc:
            if "No updates are to be performed" in str(update_exc):
                return "UP_TO_DATE"
            raise LabellakeError(f"cannot update stack {name}: {update_exc}") from update_exc
        waiter = "stack_update_complete"
    try:
        cloudformation.get_waiter(waiter).wait(StackName=name)
    except (ClientError, BotoCoreError) as exc:
        raise LabellakeError(
            f"stack {name} did not finish: {exc}; see its events in the CloudFormation console"
        ) from exc
    return str(cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])


# --- bootstrap: the same resources, created directly -----------------------------------------


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class Bootstrap:
    """Creates the aws profile's resources with boto3; every step first looks, so running
    it again creates only what is missing."""

    def __init__(self, settings: Settings, client: Any) -> None:
        """``client(service)`` gives a boto3 client (tests hand in stubbed ones)."""
        self.settings = settings
        self.names = settings.aws_names()
        self.client = client
        self.report: list[dict[str, str]] = []

    def _note(self, kind: str, name: str, action: str, detail: str = "") -> None:
        self.report.append({"resource": kind, "name": name, "action": action, "detail": detail})

    def run(self) -> list[dict[str, str]]:
        try:
            self.identity()
            self.bucket()
            steps_arn = self.queue(
                self.names["task_queue"], {"VisibilityTimeout": str(STEPS_VISIBILITY_S)}
            )
            model_steps_arn = self.queue(
                self.names["model_queue"], {"VisibilityTimeout": str(STEPS_VISIBILITY_S)}
            )
            events_arn = self.queue(self.names["events_queue"], {})
            self.events_rule(events_arn)
            self.state_table()
            self.topic()
            self.glue_database()
            self.workgroup()
            self.role(
                self.names["role"],
                "sagemaker.amazonaws.com",
                _groundtruth_statements(
                    f"arn:aws:s3:::{self.names['bucket']}",
                    f"arn:aws:s3:::{self.names['bucket']}/*",
                    f"arn:aws:logs:{self.settings.aws_region}:{self.settings.aws_account_id}:"
                    "log-group:/aws/sagemaker/*",
                ),
            )
            self.role(
                self.names["states_role"],
                "states.amazonaws.com",
                [_statement(["sqs:SendMessage"], [steps_arn, model_steps_arn])],
            )
            self.work_teams()
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise LabellakeError(
                f"no usable AWS credentials ({exc}); set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, then run `labellake --profile aws aws bootstrap` again"
            ) from exc
        except BotoCoreError as exc:
            raise LabellakeError(
                f"bootstrap stopped after {len(self.report)} resource(s): {exc}; check "
                "aws_endpoint_url (or AWS_ENDPOINT_URL) and the network, then run it again"
            ) from exc
        except ClientError as exc:
            raise LabellakeError(
                f"bootstrap stopped after {len(self.report)} resource(s): "
                f"{exc.operation_name} failed ({exc.response.get('Error', {}).get('Message', exc)})"
                "; fix it and run `labellake --profile aws aws bootstrap` again (it creates only "
                "what is missing)"
            ) from exc
        return self.report

    def identity(self) -> None:
        """Who the credentials are; names built from another account are pointed out."""
        account = str(self.client("sts").get_caller_identity()["Account"])
        if account != self.settings.aws_account_id:
            self._note(
                "account",
                account,
                "warning",
                f"aws_account_id is {self.settings.aws_account_id}, which names the bucket and "
                f"the ARNs; set LABELLAKE_AWS_ACCOUNT_ID={account} to match these credentials",
            )
        else:
            self._note("account", account, "checked")

    def bucket(self) -> None:
        s3 = self.client("s3")
        name = self.names["bucket"]
        try:
            s3.head_bucket(Bucket=name)
            self._note("s3 bucket", name, "exists")
            return
        except ClientError as exc:
            if _code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise
        args: dict[str, Any] = {"Bucket": name}
        if self.settings.aws_region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": self.settings.aws_region}
        s3.create_bucket(**args)
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        )
        self._note("s3 bucket", name, "created")

    def queue(self, name: str, attributes: dict[str, str]) -> str:
        sqs = self.client("sqs")
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            action = "exists"
        except ClientError as exc:
            if "NonExistentQueue" not in _code(exc) and _code(exc) != "QueueDoesNotExist":
                raise
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            action = "created"
        self._note("sqs queue", name, action, url)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        return str(arn["QueueArn"])

    def events_rule(self, queue_arn: str) -> None:
        events = self.client("events")
        name = self.names["events_rule"]
        try:
            events.describe_rule(Name=name)
            action = "exists"
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            action = "created"
        rule_arn = events.put_rule(
            Name=name, EventPattern=json.dumps(EVENT_PATTERN), State="ENABLED"
        )["RuleArn"]
        events.put_targets(Rule=name, Targets=[{"Id": "labellake", "Arn": queue_arn}])
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=self.names["events_queue"])["QueueUrl"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        self._note("eventbridge rule", name, action, rule_arn)

    def state_table(self) -> None:
        dynamodb = self.client("dynamodb")
        name = self.names["state_table"]
        try:
            dynamodb.describe_table(TableName=name)
            self._note("dynamodb table", name, "exists")
            return
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
        dynamodb.create_table(**_state_table(name))
        dynamodb.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        self._note("dynamodb table", name, "created")

    def topic(self) -> None:
        arn = self.client("sns").create_topic(Name=self.names["topic"])["TopicArn"]
        self._note("sns topic", self.names["topic"], "ensured", arn)

    def glue_database(self) -> None:
        glue = self.client("glue")
        name = self.names["glue_database"]
        try:
            glue.get_database(Name=name)
            self._note("glue database", name, "exists")
        except ClientError as exc:
            if _code(exc) != "EntityNotFoundException":
                raise
            glue.create_database(
                DatabaseInput={
                    "Name": name,
                    "Description": "labellake: annotations, workers, documents and benchmarks",
                }
            )
            self._note("glue database", name, "created")

    def workgroup(self) -> None:
        athena = self.client("athena")
        name = self.names["workgroup"]
        try:
            found = athena.get_work_group(WorkGroup=name).get("WorkGroup") or {}
        except ClientError as exc:
            if _code(exc) not in ("InvalidRequestException", "ResourceNotFoundException"):
                raise
            found = {}
        if found.get("Name") == name:
            self._note("athena workgroup", name, "exists")
        else:
            athena.create_work_group(
                Name=name,
                Configuration={
                    "EnforceWorkGroupConfiguration": True,
                    "ResultConfiguration": {
                        "OutputLocation": f"s3://{self.names['bucket']}/athena-results/"
                    },
                },
            )
            self._note("athena workgroup", name, "created")

    def role(self, name: str, service: str, statements: list[dict[str, Any]]) -> None:
        iam = self.client("iam")
        try:
            iam.get_role(RoleName=name)
            action = "exists"
        except ClientError as exc:
            if _code(exc) != "NoSuchEntity":
                raise
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(_trust(service)))
            action = "created"
        iam.put_role_policy(
            RoleName=name,
            PolicyName="labellake",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        self._note("iam role", name, action)

    def work_teams(self) -> None:
        """The Cognito user pool, its groups and client, and a private work team per group."""
        cognito = self.client("cognito-idp")
        pool_name = f"{self.settings.aws_prefix}-workers"
        pools = cognito.list_user_pools(MaxResults=60)["UserPools"]
        pool = next((p["Id"] for p in pools if p["Name"] == pool_name), None)
        if pool is None:
            pool = cognito.create_user_pool(
                PoolName=pool_name,
                AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
                Policies={"PasswordPolicy": {"MinimumLength": 12}},
            )["UserPool"]["Id"]
            self._note("cognito user pool", pool_name, "created", pool)
        else:
            self._note("cognito user pool", pool_name, "exists", pool)
        client_name = f"{self.settings.aws_prefix}-labeling-portal"
        clients = cognito.list_user_pool_clients(UserPoolId=pool, MaxResults=60)["UserPoolClients"]
        client_id = next((c["ClientId"] for c in clients if c["ClientName"] == client_name), None)
        if client_id is None:
            client_id = cognito.create_user_pool_client(
                UserPoolId=pool, ClientName=client_name, GenerateSecret=True
            )["UserPoolClient"]["ClientId"]
        teams = (self.names["first_team"], self.names["second_team"])
        for team in teams:
            try:
                cognito.create_group(GroupName=team, UserPoolId=pool)
            except ClientError as exc:
                if _code(exc) != "GroupExistsException":
                    raise
        sagemaker = self.client("sagemaker")
        try:
            workforces = sagemaker.list_workforces()["Workforces"]
            if not workforces:
                sagemaker.create_workforce(
                    WorkforceName="default",
                    CognitoConfig={"UserPool": pool, "ClientId": client_id},
                )
            for team in teams:
                try:
                    sagemaker.describe_workteam(WorkteamName=team)
                    self._note("work team", team, "exists")
                except ClientError as exc:
                    if _code(exc) not in ("ValidationException", "ResourceNotFound"):
                        raise
                    sagemaker.create_workteam(
                        WorkteamName=team,
                        Description=f"labellake {team} labelers",
                        MemberDefinitions=[
                            {
                                "CognitoMemberDefinition": {
                                    "UserPool": pool,
                                    "UserGroup": team,
                                    "ClientId": client_id,
                                }
                            }
                        ],
                    )
                    self._note("work team", team, "created")
        except ClientError as exc:
            endpoint = self.settings.aws_endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
            if not endpoint or _code(exc) in ("ValidationException", "AccessDeniedException"):
                raise
            # moto and LocalStack serve no SageMaker work teams; the simulated and local
            # backends need none.
            for team in teams:
                self._note(
                    "work team",
                    team,
                    "skipped",
                    f"{endpoint} has no SageMaker work teams",
                )
