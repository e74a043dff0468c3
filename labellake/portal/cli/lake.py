"""Looking into the lake and after it: `sql`, `tables`, `doctor`, `lake repair`, `etl run`."""

from __future__ import annotations

import json

import click
import pyarrow as pa

from labellake import __version__
from labellake.errors import DamagedLakeError, LabellakeError
from labellake.portal import output
from labellake.portal.cli.common import (
    JobProgress,
    echo_loads,
    engine_of,
    home_of,
    settings_of,
)
from labellake.settings import describe_settings


@click.command()
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
    result = home_of(ctx).lake.query_user(query)
    click.echo(output.render(result, fmt), nl=False)


@click.command()
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
    """List the lake's tables with their row counts and column descriptions.

    A table with damaged files is listed as unreadable, naming them; then the command
    exits with status 2.
    """
    lake = home_of(ctx).lake
    described = lake.describe(skip_damaged=True)
    damaged = {key: why for table in described for key, why in table["damaged"].items()}
    if fmt == "json":
        listing = []
        for t in described:
            listing.append({"name": t["name"], "rows": t["rows"], "columns": t["columns"]})
            if t["damaged"]:
                listing[-1]["damaged"] = [lake.store.uri(key) for key in t["damaged"]]
        click.echo(json.dumps(listing))
    else:
        for table in described:
            columns = pa.Table.from_pylist(table["columns"])
            rows = (
                f"unreadable ({', '.join(map(lake.store.uri, table['damaged']))})"
                if table["damaged"]
                else f"{table['rows']} row{'s' if table['rows'] != 1 else ''}"
            )
            title = f"{table['name']}: {rows} - {table['description']}"
            if table["partition_by"]:
                title += f" (partitioned by {', '.join(table['partition_by'])})"
            click.echo(output.to_text_table(columns, title=title, count=False))
    if damaged:
        raise lake.damage_error(damaged)


@click.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Print the resolved configuration and check that the home is usable.

    Every check runs; damaged lake files are listed one a line. Exits with status 2 if
    any check failed.
    """
    from labellake.workflows.doctor import run_checks

    settings = settings_of(ctx)
    click.echo(f"labellake {__version__}")
    click.echo("configuration (flags > LABELLAKE_* > labellake.toml > defaults):")
    for name, value, description in describe_settings(settings):
        click.echo(f"  {name:<17} {value or '-':<40} {description}")
    failed = []
    click.echo("checks:")
    for check in run_checks(settings):
        if check.ok:
            click.echo(f"  ok      {check.name}: {check.text}")
            continue
        click.echo(f"  FAILED  {check.name}: {check.text}")
        for uri, why in check.damaged.items():
            click.echo(f"          damaged {uri}: {why}")
        failed.append(f"{check.name}: {check.text}")
    if failed:
        raise LabellakeError(f"doctor found {len(failed)} problem(s); first: {failed[0]}")
    click.echo("all checks passed")


@click.group(name="lake")
def lake_group() -> None:
    """Look after the lake's files."""


@lake_group.command("repair")
@click.pass_context
def lake_repair(ctx: click.Context) -> None:
    """Move damaged lake files aside (a copy stays in HOME/quarantine) and rebuild the tables.

    batches and jobs are rebuilt from the state store, the job tables from the raw zone
    (as `labellake etl run --force`).
    """
    from labellake.workflows.labeling.lake_repair import quarantine_store, repair_lake

    engine = engine_of(ctx)
    report = repair_lake(engine, quarantine_store(home_of(ctx)))
    store = engine.lake.store
    if not report.damaged:
        click.echo("no damaged files found")
    for key, reason in sorted(report.damaged.items()):
        click.echo(f"damaged {store.uri(key)}: {reason}")
        click.echo(f"  moved aside to {report.quarantined[key]}")
    click.echo(f"batches, jobs: {len(report.batches)} batch(es) rebuilt from the state store")
    click.echo(
        f"{len(report.loads)} job(s) reloaded from the raw zone, "
        f"{report.problems} problem(s) recorded in etl_errors"
    )
    for key, command in sorted(report.not_rebuilt.items()):
        click.echo(f"not rebuilt {store.uri(key)}: its rows come back with {command}")
    if report.still_damaged:
        raise DamagedLakeError(
            f"still damaged after the repair: {', '.join(map(store.uri, report.still_damaged))}",
            report.still_damaged,
        )
    if report.not_rebuilt:
        raise LabellakeError(
            f"{len(report.not_rebuilt)} damaged file(s) were moved aside but not rebuilt; "
            "run the commands named above to load their rows again"
        )


@click.group()
def etl() -> None:
    """Load labeling outputs into the lake's tables."""


@etl.command("run")
@click.option("--force", is_flag=True, help="Reload jobs even when their output is unchanged.")
@click.pass_context
def etl_run(ctx: click.Context, force: bool) -> None:
    """Load every completed job not loaded yet (keyed per job; re-running loads nothing twice)."""
    from labellake.workflows.imports.groundtruth import load_jobs
    from labellake.workflows.labeling.lake_sync import completed_jobs

    engine = engine_of(ctx)
    jobs = completed_jobs(engine)
    progress = JobProgress()
    echo_loads(
        load_jobs(
            jobs,
            engine.lake,
            aws=engine.config.aws,
            force=force,
            track=progress.track,
            files=progress.files,
        )
    )


@etl.command("check")
@click.option("--job", "job_name", default=None, help="Only this job.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def etl_check(ctx: click.Context, job_name: str | None, as_json: bool) -> None:
    """Reconcile every loaded job: shapes seen = rows written + shapes explained in
    etl_errors, per input file. Exits 2 when a job lost shapes without a reason."""
    from labellake.etl.reconcile import check_loads

    lake = home_of(ctx).lake
    if not lake.files("etl_loads"):
        raise LabellakeError("no job has been loaded yet; run `labellake etl run` or an import")
    where, params = ("WHERE lower(job_name) = lower(?)", [job_name]) if job_name else ("", [])
    rows = lake.query(f"SELECT * FROM etl_loads {where} ORDER BY job_name", params).to_pylist()
    if job_name and not rows:
        raise LabellakeError(
            f"job '{job_name}' has not been loaded; `labellake etl check` lists the loaded jobs"
        )
    checks = check_loads(rows)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "job": c.job_name,
                        "format": c.source_format,
                        "status": c.status,
                        "seen": c.seen,
                        "written": c.written,
                        "explained": c.explained,
                        "lost_files": [
                            {
                                "file": t.file,
                                "seen": t.seen,
                                "written": t.written,
                                "explained": t.explained,
                            }
                            for t in c.lost
                        ],
                    }
                    for c in checks
                ],
                indent=2,
            )
        )
    else:
        for c in checks:
            numbers = (
                "loaded before imports were reconciled; import it again with --force"
                if c.seen is None
                else f"seen {c.seen} = written {c.written} + explained {c.explained}"
            )
            click.echo(f"{c.status:7} {c.job_name} [{c.source_format or '?'}]: {numbers}")
            for t in c.lost:
                click.echo(
                    f"        {t.file}: seen {t.seen}, written {t.written}, explained {t.explained}"
                )
    lost = [c for c in checks if c.status == "lost"]
    if lost:
        raise LabellakeError(
            f"{len(lost)} job(s) lost shapes without a reason in etl_errors: "
            + ", ".join(c.job_name for c in lost)
        )
