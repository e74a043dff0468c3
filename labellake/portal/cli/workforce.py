"""`labellake workforce`: the local work teams and their workers."""

from __future__ import annotations

import click

from labellake.errors import LabellakeError
from labellake.portal.cli.common import echo_json, read_password, workforce_of


@click.group()
def workforce() -> None:
    """The local workforce: private work teams and their workers."""


@workforce.command("add-team")
@click.argument("name")
@click.pass_context
def workforce_add_team(ctx: click.Context, name: str) -> None:
    """Add the work team NAME (an existing name is an error)."""
    echo_json(workforce_of(ctx).add_team(name))


@workforce.command("add-worker")
@click.option("--team", required=True, help="The worker's team (it must exist).")
@click.option("--name", required=True, help="The worker's account name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--invite", is_flag=True, help="Print a one-time invite token instead.")
@click.pass_context
def workforce_add_worker(
    ctx: click.Context, team: str, name: str, password_stdin: bool, invite: bool
) -> None:
    """Add a worker to a team, with a password from stdin or a one-time invite."""
    if password_stdin == invite:
        raise LabellakeError("give exactly one of --password-stdin and --invite")
    force = workforce_of(ctx)
    password = None if invite else read_password(True)
    worker, token = force.add_worker(team, name, password)
    if token:
        worker["invite"] = token
        click.echo(
            f"give {name} this one-time invite; they set their password at sign-in", err=True
        )
    echo_json(worker)


@workforce.command("show")
@click.pass_context
def workforce_show(ctx: click.Context) -> None:
    """The local work teams and their workers (GET /workforce/show adds the backend's)."""
    echo_json({"workteams": workforce_of(ctx).teams()})
