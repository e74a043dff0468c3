"""The long-running commands: `runner`, `worker`, `api` (and `api token`) and `up`."""

from __future__ import annotations

import threading

import click

from labellake.errors import LabellakeError
from labellake.portal import supervisor
from labellake.portal.cli.common import home_of, models_of, runner_of, settings_of
from labellake.portal.supervisor import stop_on_signals


@click.command()
@click.pass_context
def runner(ctx: click.Context) -> None:
    """Run the workflow runner alone, until Ctrl-C or SIGTERM."""
    work = runner_of(home_of(ctx))
    stop = threading.Event()
    click.echo("labellake runner: driving every IN_PROGRESS batch (Ctrl-C stops)", err=True)
    with stop_on_signals(stop):
        work.run(stop)


@click.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run the steps the Step Functions state machines hand out, until Ctrl-C or SIGTERM.

    Start as many as you like, on any machines; each step runs once however often its
    message arrives.
    """
    from labellake.workflows.compose import model_worker
    from labellake.workflows.labeling.stepfunctions import Worker

    settings = settings_of(ctx)
    if settings.orchestrator != "stepfunctions":
        raise LabellakeError(
            "labellake worker runs the stepfunctions engine's steps; set workflow_engine = "
            '"stepfunctions" (or use --profile aws), or run `labellake runner` for the '
            "embedded engine"
        )
    work = runner_of(home_of(ctx))
    assert isinstance(work, Worker)
    models = model_worker(models_of(home_of(ctx)))
    models.machine.queue_url  # noqa: B018 - a missing queue is said now, in one line
    stop = threading.Event()
    click.echo(
        f"labellake worker: steps from SQS queues {settings.aws_names()['task_queue']} and "
        f"{settings.aws_names()['model_queue']} (Ctrl-C stops)",
        err=True,
    )
    with stop_on_signals(stop):
        supervisor.run_workers(work, models, stop)


def _api_token(ctx: click.Context, no_auth: bool) -> str | None:
    """The token the API will require (None with --no-auth); printed once, when made."""
    if no_auth:
        click.echo(
            "labellake: WARNING: --no-auth: the API answers anyone who can reach its port, "
            "and records every call as 'anonymous'",
            err=True,
        )
        return None
    home = home_of(ctx)
    token, created = home.api_token()
    if created:
        click.echo(
            f"labellake: API token (shown once; kept in {home.token_file}, mode 0600; "
            f"`labellake api token --rotate` makes a new one): {token}",
            err=True,
        )
    return token


_NO_AUTH = click.option(
    "--no-auth",
    is_flag=True,
    help="Serve the API without a token (anyone who reaches the port may call it).",
)


@click.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@_NO_AUTH
@click.pass_context
def api(ctx: click.Context, host: str, port: int, no_auth: bool) -> None:
    """Serve the batch API (OpenAPI docs at /docs) together with the runner.

    Every call needs 'Authorization: Bearer <token>': the api_token setting, or the token
    made on first start and kept in HOME/api-token (see `labellake api token`).
    """
    if ctx.invoked_subcommand is not None:
        return
    token = _api_token(ctx, no_auth)
    # One home for the runner and the API; user SQL from requests runs in worker processes.
    home = home_of(ctx, serving=True)
    supervisor.serve_api(
        runner_of(home),
        models_of(home),
        token=token,
        host=host,
        port=port,
        stale_s=settings_of(ctx).runner_stale_s,
    )


@api.command("token")
@click.option("--rotate", is_flag=True, help="Make a new token; the old one stops working.")
@click.pass_context
def api_token(ctx: click.Context, rotate: bool) -> None:
    """Print the API's token (made now if there is none); --rotate replaces it.

    A running API reads its token when it starts: restart it after a rotation.
    """
    if rotate and settings_of(ctx).api_token:
        raise LabellakeError(
            "the api_token setting fixes the token; change it there (LABELLAKE_API_TOKEN or "
            "labellake.toml) instead of --rotate"
        )
    token, _ = home_of(ctx).api_token(rotate=rotate)
    click.echo(token)


@click.command()
@click.option("--api-port", default=8080, show_default=True, type=int, help="Port of the API.")
@click.option(
    "--portal-port", default=8501, show_default=True, type=int, help="Port of the portal."
)
@_NO_AUTH
@click.pass_context
def up(ctx: click.Context, api_port: int, portal_port: int, no_auth: bool) -> None:
    """Start the API with the runner and the portal on 127.0.0.1; Ctrl-C stops both."""
    settings = settings_of(ctx)
    home_of(ctx)  # fail here, in one line, if the home is unusable
    if not no_auth:  # made (and printed) here once; the API reads it from the home
        _api_token(ctx, no_auth)
    commands = supervisor.up_commands(api_port, portal_port, no_auth)
    with supervisor.started(commands, supervisor.child_env(settings)) as children:
        click.echo(
            f"labellake is up: portal http://127.0.0.1:{portal_port}  "
            f"API http://127.0.0.1:{api_port}/docs  (Ctrl-C stops both)"
        )
        stop = threading.Event()
        with stop_on_signals(stop):
            ended = children.wait(stop)
            if ended:
                click.echo(f"labellake: the {ended} stopped; stopping the rest", err=True)
