"""`labellake aws`: the aws profile's resources, as a CloudFormation stack or made with boto3."""

from __future__ import annotations

from typing import Any

import click

from labellake.portal.cli.common import echo_json, settings_of


@click.group(name="aws")
def aws_group() -> None:
    """The aws profile's AWS resources: a CloudFormation template, or created with boto3."""


@aws_group.command()
@click.pass_context
def template(ctx: click.Context) -> None:
    """Print the CloudFormation template (JSON) of the aws profile's resources."""
    from labellake.workflows.aws import template

    echo_json(template.template(settings_of(ctx)))


@aws_group.command()
@click.option("--stack-name", default=None, help="Stack name [default: the aws prefix].")
@click.pass_context
def deploy(ctx: click.Context, stack_name: str | None) -> None:
    """Create or update the CloudFormation stack and wait until it is done."""
    from labellake.workflows.aws import bootstrap

    settings = settings_of(ctx)
    status = bootstrap.deploy(settings, settings.aws.client("cloudformation"), stack_name)
    echo_json({"stack": stack_name or settings.aws_prefix, "status": status})


@aws_group.command()
@click.pass_context
def bootstrap(ctx: click.Context) -> None:
    """Create the same resources directly with boto3 (development accounts, moto,
    LocalStack); running it again creates only what is missing."""
    from labellake.aws_clients import MAX_ATTEMPTS
    from labellake.workflows.aws import bootstrap

    settings = settings_of(ctx)
    aws = settings.aws

    def make(service: str) -> Any:
        # moto and LocalStack answer SageMaker's work team calls with a server error: ask once.
        attempts = 1 if aws.resolved_endpoint and service == "sagemaker" else MAX_ATTEMPTS
        return aws.client(service, max_attempts=attempts)

    echo_json(bootstrap.Bootstrap(settings, make).run())
