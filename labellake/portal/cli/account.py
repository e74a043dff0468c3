"""`labellake account`: portal accounts, their passwords and API tokens."""

from __future__ import annotations

import click

from labellake.portal.cli.common import accounts_of, echo_json, read_password


@click.group()
def account() -> None:
    """Portal accounts, for sign-in with LABELLAKE_PORTAL_AUTH=1."""


@account.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["analyst", "admin"]),
    default="analyst",
    show_default=True,
    help="analyst: every page; admin: also deletes batches.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_context
def account_add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Add the portal account NAME (an existing name is an error)."""
    accounts = accounts_of(ctx)
    echo_json(accounts.add(name, read_password(password_stdin), role))


@account.command("list")
@click.pass_context
def account_list(ctx: click.Context) -> None:
    """List the accounts with their roles (never their passwords)."""
    echo_json(accounts_of(ctx).list())


@account.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_context
def account_passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME (and unlock it)."""
    accounts = accounts_of(ctx)
    accounts.get(name)
    accounts.set_password(name, read_password(password_stdin))
    echo_json({"name": name, "password": "changed"})


@account.command("token")
@click.argument("name")
@click.pass_context
def account_token(ctx: click.Context, name: str) -> None:
    """Print a new personal API token for NAME (shown once; the old one stops working).

    Calls made with it are recorded as NAME; only an admin's may name another actor.
    """
    click.echo(accounts_of(ctx).issue_token(name))


@account.command("remove")
@click.argument("name")
@click.pass_context
def account_remove(ctx: click.Context, name: str) -> None:
    """Remove the account NAME."""
    accounts_of(ctx).remove(name)
    echo_json({"name": name, "removed": True})
