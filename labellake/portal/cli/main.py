"""The `labellake` command: the root group with its global options, every command group
registered on it, and `main`, which turns a user error into one line and exit status 2."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from labellake import __version__
from labellake.errors import LabellakeError
from labellake.portal.cli import (
    account,
    aws,
    batch,
    bench,
    demo,
    documents,
    export,
    imports,
    lake,
    model,
    serve,
    workforce,
)
from labellake.settings import load_settings

EXIT_USER_ERROR = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--profile",
    type=click.Choice(["local", "aws"]),
    default=None,
    help="Deployment profile [env LABELLAKE_PROFILE; default local]: aws puts the raw zone "
    "and the lake on S3 and names every AWS resource from LABELLAKE_AWS_PREFIX.",
)
@click.option(
    "--query-engine",
    "--engine",
    "query_engine",
    type=click.Choice(["duckdb", "athena"]),
    default=None,
    help="Query engine [env LABELLAKE_QUERY_ENGINE; default athena under the aws profile, "
    "else duckdb].",
)
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    default=None,
    help="Home folder of the embedded default [env LABELLAKE_HOME; default ~/.labellake].",
)
@click.option(
    "--lake-uri",
    default=None,
    help="Curated zone: a path, file:// or s3:// URI [default HOME/lake].",
)
@click.option(
    "--objects-uri",
    default=None,
    help="Raw zone: a path, file:// or s3:// URI [default HOME/objects].",
)
@click.version_option(__version__, prog_name="labellake")
@click.pass_context
def cli(
    ctx: click.Context,
    profile: str | None,
    query_engine: str | None,
    home: Path | None,
    lake_uri: str | None,
    objects_uri: str | None,
) -> None:
    """labellake: labeling workflows, annotation and workforce dashboards, and SQL over one lake.

    Settings come from these flags, then LABELLAKE_* environment variables, then
    labellake.toml in the working directory, then the defaults.
    """
    ctx.obj = load_settings(
        profile=profile,
        query_engine=query_engine,
        home=home,
        lake_uri=lake_uri,
        objects_uri=objects_uri,
    )


for command in (
    lake.sql,
    lake.tables,
    lake.doctor,
    lake.lake_group,
    lake.etl,
    batch.batch,
    bench.bench,
    workforce.workforce,
    account.account,
    aws.aws_group,
    serve.runner,
    serve.worker,
    serve.api,
    serve.up,
    model.model,
    demo.demo,
    documents.documents,
    imports.import_,
    export.export,
):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line on stderr and exit 2 for every user error."""
    try:
        status = cli.main(args=argv, prog_name="labellake", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("labellake: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        where = exc.ctx.command_path if getattr(exc, "ctx", None) else "labellake"
        message = " ".join(exc.format_message().split())
        click.echo(f"{where}: error: {message} (see --help)", err=True)
        sys.exit(EXIT_USER_ERROR)
    except LabellakeError as exc:
        click.echo(f"labellake: error: {exc}", err=True)
        sys.exit(EXIT_USER_ERROR)
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()
