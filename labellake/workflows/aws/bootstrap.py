"""Standing up the aws profile: deploy the CloudFormation stack, or create the same
resources directly with boto3 (for development accounts, moto and LocalStack).
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

from labellake.aws_clients import error_code
from labellake.errors import LabellakeError
from labellake.settings import Settings
from labellake.workflows.aws.tables import model_table, state_table
from labellake.workflows.aws.template import (
    EVENT_PATTERN,
    STEPS_VISIBILITY_S,
    groundtruth_statements,
    statement,
    template,
    trust,
)

log = logging.getLogger(__name__)


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
            self.model_table()
            self.topic()
            self.glue_database()
            self.workgroup()
            self.role(
                self.names["role"],
                "sagemaker.amazonaws.com",
                groundtruth_statements(
                    f"arn:aws:s3:::{self.names['bucket']}",
                    f"arn:aws:s3:::{self.names['bucket']}/*",
                    f"arn:aws:logs:{self.settings.aws_region}:{self.settings.aws_account_id}:"
                    "log-group:/aws/sagemaker/*",
                ),
            )
            self.role(
                self.names["states_role"],
                "states.amazonaws.com",
                [statement(["sqs:SendMessage"], [steps_arn, model_steps_arn])],
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
            if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
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
            if "NonExistentQueue" not in error_code(exc) and error_code(exc) != "QueueDoesNotExist":
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
            if error_code(exc) != "ResourceNotFoundException":
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
        self.table(state_table(self.names["state_table"]))

    def model_table(self) -> None:
        self.table(model_table(self.names["model_table"]))

    def table(self, definition: dict[str, Any]) -> None:
        """The DynamoDB table of ``definition`` (CreateTable's arguments)."""
        dynamodb = self.client("dynamodb")
        name = definition["TableName"]
        try:
            dynamodb.describe_table(TableName=name)
            self._note("dynamodb table", name, "exists")
            return
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise
        dynamodb.create_table(**definition)
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
            if error_code(exc) != "EntityNotFoundException":
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
            if error_code(exc) not in ("InvalidRequestException", "ResourceNotFoundException"):
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
            if error_code(exc) != "NoSuchEntity":
                raise
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust(service)))
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
                if error_code(exc) != "GroupExistsException":
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
                    if error_code(exc) not in ("ValidationException", "ResourceNotFound"):
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
            if not endpoint or error_code(exc) in ("ValidationException", "AccessDeniedException"):
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
