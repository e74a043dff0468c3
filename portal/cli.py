"""The `labellake` command line.

User errors print one line on stderr and exit with status 2; ``--help`` works
on every command; ``--home DIR`` works before every command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pyarrow as pa

from labellake import __version__
from labellake.errors import LabellakeError
from labellake.home import Home, check_state_db
from labellake.portal import output
from labellake.settings import Settings, describe_settings, load_settings

EXIT_USER_ERROR = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    ctx: click.Context, home: Path | None, lake_uri: str | None, objects_uri: str | None
) -> None:
    """labellake: labeling workflows, annotation and workforce dashboards, and SQL over one lake.

    Settings come from these flags, then LABELLAKE_* environment variables, then
    labellake.toml in the working directory, then the defaults.
    """
    ctx.obj = load_settings(home=home, lake_uri=lake_uri, objects_uri=objects_uri)


def _home(ctx: click.Context) -> Home:
    settings: Settings = ctx.find_object(Settings)
    return Home.open(settings)


@cli.command()
@click.argument("query", required=False)
@click.option(
    "--file",
    "query_file",
    type=click.File("r"),
    default=None,
    help="Read the query from a file ('-' for stdin) instead of the argument.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(output.FORMATS),
    default="table",
    show_default=True,
    help="Output format; json prints an array of row objects.",
)
@click.pass_context
def sql(ctx: click.Context, query: str | None, query_file, fmt: str) -> None:
    """Run a read-only SQL QUERY over the lake's tables (DuckDB dialect)."""
    if query_file is not None:
        if query:
            raise LabellakeError("give the query as an argument or with --file, not both")
        query = query_file.read()
    if not query:
        raise LabellakeError("no query given; pass it as an argument or with --file")
    result = _home(ctx).lake.query_user(query)
    click.echo(output.render(result, fmt), nl=False)


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.pass_context
def tables(ctx: click.Context, fmt: str) -> None:
    """List the lake's tables with their row counts and column descriptions."""
    described = _home(ctx).lake.describe()
    if fmt == "json":
        click.echo(
            json.dumps(
                [{"name": t["name"], "rows": t["rows"], "columns": t["columns"]} for t in described]
            )
        )
        return
    for table in described:
        columns = pa.Table.from_pylist(table["columns"])
        title = (
            f"{table['name']}: {table['rows']} row{'s' if table['rows'] != 1 else ''}"
            f" - {table['description']}"
        )
        if table["partition_by"]:
            title += f" (partitioned by {', '.join(table['partition_by'])})"
        click.echo(output.to_text_table(columns, title=title, count=False))


@cli.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Print the resolved configuration and check that the home is usable."""
    settings: Settings = ctx.find_object(Settings)
    click.echo(f"labellake {__version__}")
    click.echo("configuration (flags > LABELLAKE_* > labellake.toml > defaults):")
    for name, value, description in describe_settings(settings):
        click.echo(f"  {name:<17} {value or '-':<40} {description}")
    checks = [
        ("home", lambda: _check_home(settings)),
        ("object store", lambda: _check_objects(settings)),
        ("lake", lambda: _check_lake(settings)),
        ("state store", lambda: check_state_db(Home.open(settings).state_db)),
    ]
    failed = []
    click.echo("checks:")
    for name, check in checks:
        try:
            click.echo(f"  ok      {name}: {check()}")
        except LabellakeError as exc:
            click.echo(f"  FAILED  {name}: {exc}")
            failed.append(f"{name}: {exc}")
            if name == "home":
                break
    if failed:
        raise LabellakeError(f"doctor found {len(failed)} problem(s); first: {failed[0]}")
    click.echo("all checks passed")


def _check_home(settings: Settings) -> str:
    Home.open(settings)
    return str(settings.home)


def _check_objects(settings: Settings) -> str:
    store = Home.open(settings).objects
    probe = ".doctor-probe"
    try:
        store.write_bytes(probe, b"ok")
        if store.read_bytes(probe) != b"ok":
            raise LabellakeError(f"{store.uri(probe)} did not read back what was written")
        store.delete(probe)
    except OSError as exc:
        raise LabellakeError(f"cannot write to {store.root_uri}: {exc}") from exc
    return f"{store.root_uri} is writable"


def _check_lake(settings: Settings) -> str:
    lake = Home.open(settings).lake
    counts = lake.row_counts()
    total = sum(counts.values())
    return f"{lake.store.root_uri}: {len(counts)} tables, {total} rows"


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
