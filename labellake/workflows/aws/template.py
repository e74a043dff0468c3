"""The CloudFormation template of the aws profile.

Every name comes from the settings (aws_prefix, the account and the region;
see Settings.aws_names). The template holds: the bucket of the raw zone and the
lake, the steps queue and the labeling-job events queue with the EventBridge
rule that feeds it, the DynamoDB state table and model table, the notification
topic, the Glue database, the Athena workgroup, the state machine of a two-level
batch (others are created on demand by the engine), IAM roles with least privilege
(Ground Truth, Step Functions, and a managed policy for labellake's workers), and
the two private work teams with the Cognito user pool behind them.
"""

from __future__ import annotations

import json
from typing import Any

from labellake.settings import Settings
from labellake.workflows.aws.tables import model_table, state_table
from labellake.workflows.labeling.backends.groundtruth import STATE_CHANGE
from labellake.workflows.labeling.stepfunctions import definition

EVENT_PATTERN = {"source": ["aws.sagemaker"], "detail-type": [STATE_CHANGE]}
STEPS_VISIBILITY_S = 120


def statement(actions: list[str], resources: list[Any]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def template(settings: Settings) -> dict[str, Any]:
    """The CloudFormation template of the aws profile's resources."""
    names = settings.aws_names()
    bucket_arn = {"Fn::GetAtt": ["Bucket", "Arn"]}
    objects_arn = {"Fn::Sub": "${Bucket.Arn}/*"}
    machine = definition(2, "${StepsQueueUrl}", int(settings.job_timeout_s))
    table = state_table(names["state_table"])
    models_table = model_table(names["model_table"])
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
        "ModelTable": {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                **models_table,
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
                "AssumeRolePolicyDocument": trust("sagemaker.amazonaws.com"),
                "Policies": [
                    {
                        "PolicyName": "labeling-data",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": groundtruth_statements(
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
                "AssumeRolePolicyDocument": trust("states.amazonaws.com"),
                "Policies": [
                    {
                        "PolicyName": "hand-steps-to-workers",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                statement(
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
                    "Statement": worker_statements(settings, bucket_arn, objects_arn),
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
            "ModelTable": {"Value": {"Ref": "ModelTable"}},
            "StepsQueueUrl": {"Value": {"Ref": "StepsQueue"}},
            "TopicArn": {"Value": {"Ref": "Topic"}},
            "GroundTruthRoleArn": {"Value": {"Fn::GetAtt": ["GroundTruthRole", "Arn"]}},
            "WorkerPolicyArn": {"Value": {"Ref": "WorkerPolicy"}},
        },
    }


def groundtruth_statements(bucket_arn: Any, objects_arn: Any, logs_arn: Any) -> list[Any]:
    """What the SageMaker role (Ground Truth's labeling jobs, and the model runs' training
    jobs and endpoints) may do: read the inputs, write the outputs, pull the scikit-learn
    container, log and report metrics."""
    return [
        statement(["s3:ListBucket"], [bucket_arn]),
        statement(["s3:GetObject", "s3:PutObject"], [objects_arn]),
        statement(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], [logs_arn]),
        statement(
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


def trust(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }


def worker_statements(settings: Settings, bucket_arn: Any, objects_arn: Any) -> list[Any]:
    names = settings.aws_names()
    prefix = settings.aws_prefix

    def arn(text: str) -> dict[str, str]:
        return {"Fn::Sub": text}

    return [
        statement(["s3:ListBucket", "s3:GetBucketLocation"], [bucket_arn]),
        statement(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], [objects_arn]),
        statement(
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
        statement(
            [
                "dynamodb:DescribeTable",
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "dynamodb:Scan",
                "dynamodb:ConditionCheckItem",
            ],
            [
                {"Fn::GetAtt": ["StateTable", "Arn"]},
                {"Fn::Sub": "${StateTable.Arn}/index/*"},
            ],
        ),
        statement(
            [
                "dynamodb:DescribeTable",
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:Query",
                "dynamodb:ConditionCheckItem",
            ],
            [
                {"Fn::GetAtt": ["ModelTable", "Arn"]},
                {"Fn::Sub": "${ModelTable.Arn}/index/*"},
            ],
        ),
        statement(["sns:Publish"], [{"Ref": "Topic"}]),
        statement(
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
        statement(
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
        statement(
            ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
            ["*"],  # task tokens are not resources
        ),
        statement(
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
        statement(
            ["sagemaker:DescribeWorkteam", "sagemaker:ListWorkteams"],
            [arn("arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:workteam/*")],
        ),
        statement(
            ["iam:PassRole"],
            [{"Fn::GetAtt": ["GroundTruthRole", "Arn"]}, {"Fn::GetAtt": ["StatesRole", "Arn"]}],
        ),
        statement(
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
        statement(
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
