"""The `labellake` command line.

User errors print one line on stderr and exit with status 2; ``--help`` works
on every command; ``--home DIR`` works before every command.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import click
import pyarrow as pa

from labellake import __version__
from labellake.errors import DamagedLakeError, LabellakeError
from labellake.home import Home, check_state_db
from labellake.lake.lake import REPAIR_HINT
from labellake.portal import output
from labellake.settings import Settings, describe_settings, load_settings

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
    "--engine",
    type=click.Choice(["duckdb", "athena"]),
    default=None,
    help="Query engine [env LABELLAKE_ENGINE; default athena under the aws profile, else duckdb].",
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
    engine: str | None,
    home: Path | None,
    lake_uri: str | None,
    objects_uri: str | None,
) -> None:
    """labellake: labeling workflows, annotation and workforce dashboards, and SQL over one lake.

    Settings come from these flags, then LABELLAKE_* environment variables, then
    labellake.toml in the working directory, then the defaults.
    """
    ctx.obj = load_settings(
        profile=profile, engine=engine, home=home, lake_uri=lake_uri, objects_uri=objects_uri
    )


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
    """List the lake's tables with their row counts and column descriptions.

    A table with damaged files is listed as unreadable, naming them; then the command
    exits with status 2.
    """
    lake = _home(ctx).lake
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


@cli.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Print the resolved configuration and check that the home is usable.

    Every check runs; damaged lake files are listed one a line. Exits with status 2 if
    any check failed.
    """
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
        except DamagedLakeError as exc:
            problem = f"{len(exc.files)} damaged file(s); {REPAIR_HINT}"
            click.echo(f"  FAILED  {name}: {problem}")
            store = Home.open(settings).lake.store
            for key in exc.files:
                click.echo(f"          damaged {store.uri(key)}: {exc.damaged[key]}")
            failed.append(f"{name}: {problem}")
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


# -- batches ---------------------------------------------------------------------------


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _engine(ctx: click.Context):  # type: ignore[no-untyped-def]
    from labellake.workflows.labeling.build import build_engine

    # The CLI's user names files on their own machine: any local file but the state files.
    return build_engine(_home(ctx), local_files=True)


def _echo_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2))


def _wait_for(ctx: click.Context, engine, batch_id: str) -> str:  # type: ignore[no-untyped-def]
    """Drive the batch in this process, or wait for the runner that holds the lease."""
    from labellake.workflows.labeling import state
    from labellake.workflows.labeling.build import runner_for
    from labellake.workflows.labeling.runner import LEASE

    def final() -> bool:
        return engine.state.batch(batch_id)["status"] in state.FINAL_BATCH_STATUSES

    holder = engine.state.lease_holder(LEASE)
    if holder:
        click.echo(f"waiting for the runner {holder} to finish batch {batch_id}", err=True)
    stop = threading.Event()
    with _stop_on_signals(stop):
        runner_for(engine, min(0.2, ctx.find_object(Settings).runner_poll_s)).run(stop, until=final)
    return engine.state.batch(batch_id)["status"]


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event):  # type: ignore[no-untyped-def]
    """SIGINT and SIGTERM set ``stop`` instead of killing the process mid-step."""
    previous = {}

    def handler(signum, frame):  # type: ignore[no-untyped-def]
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@cli.group()
def batch() -> None:
    """Create, show, stop, retry and delete labeling batches (works on the state store)."""


@batch.command("create")
@click.option(
    "--file",
    "request_file",
    required=True,
    type=click.Path(path_type=Path),
    help="Batch request JSON, in the shape of POST /batch/create.",
)
@click.option("--wait", is_flag=True, help="Drive the batch to its end before returning.")
@click.pass_context
def batch_create(ctx: click.Context, request_file: Path, wait: bool) -> None:
    """Submit a batch. Without --wait it stays IN_PROGRESS until a runner picks it up."""
    engine = _engine(ctx)
    try:
        payload = request_file.read_bytes()
    except OSError as exc:
        raise LabellakeError(f"cannot read {request_file}: {exc.strerror}") from exc
    from labellake.workflows.labeling.spec import SpecError

    try:
        batch_id = engine.submit(payload, actor=_actor())
    except SpecError as exc:
        raise LabellakeError(f"{request_file}: {exc}") from exc
    if not wait:
        _echo_json({"batchId": batch_id, "status": "IN_PROGRESS"})
        return
    status = _wait_for(ctx, engine, batch_id)
    _echo_json(engine.show(batch_id))
    if status != "COMPLETE":
        raise LabellakeError(
            f"batch {batch_id} ended {status}: {engine.state.batch(batch_id)['message']}"
        )


@batch.command("show")
@click.option("--batch-id", default=None, help="Show one batch; without it, ids by status.")
@click.pass_context
def batch_show(ctx: click.Context, batch_id: str | None) -> None:
    """Print batch ids by status, or one batch's detail, as GET /batch/show does."""
    engine = _engine(ctx)
    _echo_json(engine.show(batch_id) if batch_id else engine.list_by_status())


@batch.command("stop")
@click.option("--batch-id", required=True, help="The batch to stop.")
@click.pass_context
def batch_stop(ctx: click.Context, batch_id: str) -> None:
    """Stop a running batch and its jobs."""
    _engine(ctx).stop(batch_id, actor=_actor())
    _echo_json({"batchId": batch_id, "status": "STOPPED"})


@batch.command("retry")
@click.option("--batch-id", required=True, help="The batch to retry.")
@click.pass_context
def batch_retry(ctx: click.Context, batch_id: str) -> None:
    """Resume a failed or stopped batch from its first unfinished level."""
    _engine(ctx).retry(batch_id, actor=_actor())
    _echo_json({"batchId": batch_id, "status": "IN_PROGRESS"})


@batch.command("delete")
@click.option("--batch-id", required=True, help="The batch to delete.")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.option("--yes", is_flag=True, help="Delete without asking.")
@click.pass_context
def batch_delete(ctx: click.Context, batch_id: str, dry_run: bool, yes: bool) -> None:
    """Delete a batch with its levels, jobs, tasks, raw outputs and lake rows."""
    engine = _engine(ctx)
    plan = engine.delete(batch_id, dry_run=True)
    if dry_run:
        _echo_json(plan)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise LabellakeError(
                f"deleting batch {batch_id} needs confirmation; pass --yes "
                "(or --dry-run to see what would go)"
            )
        click.echo(
            f"batch {batch_id}: {len(plan['jobs'])} jobs, {plan['tasks']} tasks, "
            f"{len(plan['objects'])} objects, {len(plan['lakeFiles'])} lake files",
            err=True,
        )
        click.confirm("delete all of it?", abort=True, err=True)
    _echo_json(engine.delete(batch_id, actor=_actor()))


@cli.group()
def bench() -> None:
    """Model-serving benchmarks: throughput, latency and cost per 1M inferences."""


def _int_list(option: str, text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise LabellakeError(f"{option} {text}: give whole numbers separated by commas") from exc
    if not values or any(v < 1 for v in values):
        raise LabellakeError(f"{option} {text}: every value must be 1 or more")
    return values


@bench.command("run")
@click.option(
    "--model",
    default=None,
    help="Model name or a Hugging Face model folder "
    "[default: all-MiniLM-L6-v2, shipped in the bench extra].",
)
@click.option("--batch-sizes", default="1,6,64", show_default=True, help="Sentences per request.")
@click.option(
    "--workers",
    default="1,2",
    show_default=True,
    help="Worker processes (data_parallel) or intra-op threads (intra_op).",
)
@click.option(
    "--modes",
    default="data_parallel,intra_op",
    show_default=True,
    help="data_parallel and/or intra_op.",
)
@click.option("--seq-len", type=int, default=128, show_default=True, help="Tokens per sentence.")
@click.option(
    "--duration",
    type=float,
    default=20.0,
    show_default=True,
    help="Seconds of timed inference per configuration.",
)
@click.option(
    "--warmup",
    type=float,
    default=2.0,
    show_default=True,
    help="Seconds of warm-up per worker, timed apart.",
)
@click.option(
    "--price-per-hour",
    type=float,
    default=None,
    help="USD per hour of this machine [default: the price table's, by --instance].",
)
@click.option(
    "--instance",
    default=None,
    help="What this machine is called in the results and the price table "
    "(e.g. g4dn.xlarge) [default: cpu or cuda].",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="auto: CUDA when available.",
)
@click.option(
    "--backend",
    type=click.Choice(["auto", "eager", "compile"]),
    default="auto",
    show_default=True,
    help="auto: torch.compile (CUDA graphs) for small batches on CUDA.",
)
@click.pass_context
def bench_run(
    ctx: click.Context,
    model: str | None,
    batch_sizes: str,
    workers: str,
    modes: str,
    seq_len: int,
    duration: float,
    warmup: float,
    price_per_hour: float | None,
    instance: str | None,
    device: str,
    backend: str,
) -> None:
    """Measure transformer inference for every batch size, worker count and mode, and
    write the rows to benchmark_results as they come (a stopped run keeps them)."""
    from labellake.etl.benchmarks import results_table
    from labellake.workflows.benchmarks import prices, runner

    home = _home(ctx)
    sizes = _int_list("--batch-sizes", batch_sizes)
    counts = _int_list("--workers", workers)
    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    model = model or runner.DEFAULT_MODEL
    runner.model_path(model)  # an unknown model fails before anything starts
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    price = prices.price_per_hour(instance, price_per_hour)
    configs = [
        runner.Config(model, mode, size, count, seq_len, duration, warmup, device, backend)
        for mode in chosen
        for size in sizes
        for count in counts
    ]
    for config in configs:
        config.check()
    run_id = runner.new_run_id()
    stop = threading.Event()
    rows: list[dict] = []  # type: ignore[type-arg]
    failures = 0
    click.echo(
        f"{run_id}: {len(configs)} configuration(s) of {model} on {instance or device}", err=True
    )
    with _stop_on_signals(stop):
        for config in configs:
            if stop.is_set():
                break
            label = f"{config.mode} batch {config.batch_size} x {config.workers}"
            try:
                measured = runner.run_config(
                    config,
                    stop=stop.is_set,
                    on_measuring=lambda label=label: click.echo(f"{label}: measuring", err=True),
                )
            except runner.BenchError as exc:
                failures += 1
                click.echo(f"{label}: error: {exc}", err=True)
                continue
            rows.append(measured.row(run_id, instance or device, price))
            home.lake.write("benchmark_results", run_id, results_table(rows))
            p95 = measured.percentile(0.95)
            click.echo(
                f"{label}: {measured.throughput:.1f} sentences/s "
                f"(+-{measured.spread or 0:.1f}), p95 {p95 * 1000 if p95 else 0:.1f} ms, "
                f"overhead {measured.overhead_share:.2%}, {measured.status}"
            )
    click.echo(f"{len(rows)} row(s) written to benchmark_results as run {run_id}")
    if failures and not rows:
        raise LabellakeError("no configuration could be measured; see the errors above")


@bench.command("published")
@click.pass_context
def bench_published(ctx: click.Context) -> None:
    """Load the reference's published Inferentia and GPU rows (source = published)."""
    from labellake.etl.benchmarks import PUBLISHED_RUN, published_table

    table = published_table()
    _home(ctx).lake.write("benchmark_results", PUBLISHED_RUN, table)
    click.echo(f"{table.num_rows} published rows written to benchmark_results")


@cli.group()
def workforce() -> None:
    """The local workforce: private work teams and their workers."""


def _workforce(ctx: click.Context):  # type: ignore[no-untyped-def]
    from labellake.workflows.labeling.state import StateStore
    from labellake.workflows.workforce import Workforce

    settings = _home(ctx).settings
    return Workforce(StateStore(settings.state_db), settings.aws_region, settings.aws_account_id)


@workforce.command("add-team")
@click.argument("name")
@click.pass_context
def workforce_add_team(ctx: click.Context, name: str) -> None:
    """Add the work team NAME (an existing name is an error)."""
    _echo_json(_workforce(ctx).add_team(name))


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
    force = _workforce(ctx)
    password = None if invite else _read_password(True)
    worker, token = force.add_worker(team, name, password)
    if token:
        worker["invite"] = token
        click.echo(
            f"give {name} this one-time invite; they set their password at sign-in", err=True
        )
    _echo_json(worker)


@workforce.command("show")
@click.pass_context
def workforce_show(ctx: click.Context) -> None:
    """The local work teams and their workers (GET /workforce/show adds the backend's)."""
    _echo_json({"workteams": _workforce(ctx).teams()})


@cli.group()
def account() -> None:
    """Portal accounts, for sign-in with LABELLAKE_PORTAL_AUTH=1."""


def _accounts(ctx: click.Context):  # type: ignore[no-untyped-def]
    from labellake.workflows.accounts import Accounts
    from labellake.workflows.labeling.state import StateStore

    return Accounts(StateStore(_home(ctx).settings.state_db))


def _read_password(password_stdin: bool) -> str:
    """From the first line of stdin, or asked twice at a terminal; never from argv."""
    if password_stdin:
        line = sys.stdin.readline()
        if not line.strip():
            raise LabellakeError("--password-stdin: stdin held no password")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise LabellakeError(
            "no terminal to ask for the password; pipe it in with --password-stdin"
        )
    return click.prompt("password", hide_input=True, confirmation_prompt=True, err=True)


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
    accounts = _accounts(ctx)
    _echo_json(accounts.add(name, _read_password(password_stdin), role))


@account.command("list")
@click.pass_context
def account_list(ctx: click.Context) -> None:
    """List the accounts with their roles (never their passwords)."""
    _echo_json(_accounts(ctx).list())


@account.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.pass_context
def account_passwd(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME (and unlock it)."""
    accounts = _accounts(ctx)
    accounts.get(name)
    accounts.set_password(name, _read_password(password_stdin))
    _echo_json({"name": name, "password": "changed"})


@account.command("token")
@click.argument("name")
@click.pass_context
def account_token(ctx: click.Context, name: str) -> None:
    """Print a new personal API token for NAME (shown once; the old one stops working).

    Calls made with it are recorded as NAME; only an admin's may name another actor.
    """
    click.echo(_accounts(ctx).issue_token(name))


@account.command("remove")
@click.argument("name")
@click.pass_context
def account_remove(ctx: click.Context, name: str) -> None:
    """Remove the account NAME."""
    _accounts(ctx).remove(name)
    _echo_json({"name": name, "removed": True})


@cli.command()
@click.pass_context
def runner(ctx: click.Context) -> None:
    """Run the workflow runner alone, until Ctrl-C or SIGTERM."""
    from labellake.workflows.labeling.build import build_runner

    work = build_runner(_home(ctx))
    stop = threading.Event()
    click.echo("labellake runner: driving every IN_PROGRESS batch (Ctrl-C stops)", err=True)
    with _stop_on_signals(stop):
        work.run(stop)


@cli.group(name="aws")
def aws_group() -> None:
    """The aws profile's AWS resources: a CloudFormation template, or created with boto3."""


@aws_group.command()
@click.pass_context
def template(ctx: click.Context) -> None:
    """Print the CloudFormation template (JSON) of the aws profile's resources."""
    from labellake.workflows import aws

    _echo_json(aws.template(ctx.find_object(Settings)))


@aws_group.command()
@click.option("--stack-name", default=None, help="Stack name [default: the aws prefix].")
@click.pass_context
def deploy(ctx: click.Context, stack_name: str | None) -> None:
    """Create or update the CloudFormation stack and wait until it is done."""
    from labellake.aws_clients import client
    from labellake.workflows import aws

    settings: Settings = ctx.find_object(Settings)
    cloudformation = client("cloudformation", settings.aws_region, settings.aws_endpoint_url)
    status = aws.deploy(settings, cloudformation, stack_name)
    _echo_json({"stack": stack_name or settings.aws_prefix, "status": status})


@aws_group.command()
@click.pass_context
def bootstrap(ctx: click.Context) -> None:
    """Create the same resources directly with boto3 (development accounts, moto,
    LocalStack); running it again creates only what is missing."""
    from labellake.aws_clients import MAX_ATTEMPTS, client
    from labellake.workflows import aws

    settings: Settings = ctx.find_object(Settings)
    endpoint = settings.aws_endpoint_url or os.environ.get("AWS_ENDPOINT_URL")

    def make(service: str):  # type: ignore[no-untyped-def]
        # moto and LocalStack answer SageMaker's work team calls with a server error: ask once.
        attempts = 1 if endpoint and service == "sagemaker" else MAX_ATTEMPTS
        return client(service, settings.aws_region, settings.aws_endpoint_url, attempts)

    _echo_json(aws.Bootstrap(settings, make).run())


@cli.command()
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run the steps the Step Functions state machines hand out, until Ctrl-C or SIGTERM.

    Start as many as you like, on any machines; each step runs once however often its
    message arrives.
    """
    from labellake.workflows.labeling.build import build_runner
    from labellake.workflows.labeling.stepfunctions import Worker
    from labellake.workflows.models.workflow import from_home as models_from_home
    from labellake.workflows.models.workflow import model_worker

    settings: Settings = ctx.find_object(Settings)
    if settings.workflow_engine != "stepfunctions":
        raise LabellakeError(
            "labellake worker runs the stepfunctions engine's steps; set workflow_engine = "
            '"stepfunctions" (or use --profile aws), or run `labellake runner` for the '
            "embedded engine"
        )
    work = build_runner(_home(ctx))
    assert isinstance(work, Worker)
    models = model_worker(models_from_home(_home(ctx)))
    models.machine.queue_url  # noqa: B018 - a missing queue is said now, in one line
    stop = threading.Event()
    click.echo(
        f"labellake worker: steps from SQS queues {settings.aws_names()['task_queue']} and "
        f"{settings.aws_names()['model_queue']} (Ctrl-C stops)",
        err=True,
    )
    thread = threading.Thread(target=models.run, args=(stop,), name="labellake-models")
    thread.start()
    with _stop_on_signals(stop):
        work.run(stop)
    thread.join(timeout=10)


def _api_token(ctx: click.Context, no_auth: bool) -> str | None:
    """The token the API will require (None with --no-auth); printed once, when made."""
    if no_auth:
        click.echo(
            "labellake: WARNING: --no-auth: the API answers anyone who can reach its port, "
            "and records every call as 'anonymous'",
            err=True,
        )
        return None
    home = _home(ctx)
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


@cli.group(invoke_without_command=True)
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
    import uvicorn

    from labellake.workflows.api import create_app
    from labellake.workflows.labeling.build import build_runner
    from labellake.workflows.models.workflow import from_home as models_from_home
    from labellake.workflows.models.workflow import model_worker

    token = _api_token(ctx, no_auth)
    # One home for the runner and the API; user SQL from requests runs in worker processes.
    home = Home.open(ctx.find_object(Settings), serving=True)
    work = build_runner(home)
    models = models_from_home(home)
    stop = threading.Event()
    threads = [
        threading.Thread(target=work.run, args=(stop,), name="labellake-runner", daemon=True)
    ]
    steps = model_worker(models)  # model runs on Step Functions: their steps run here too
    if steps is not None:
        threads.append(
            threading.Thread(target=steps.run, args=(stop,), name="labellake-models", daemon=True)
        )
    for thread in threads:
        thread.start()
    try:
        uvicorn.run(
            create_app(
                work.engine,
                token=token,
                models=models,
                runner=work.pulse,
                stale_s=ctx.find_object(Settings).runner_stale_s,
                model_steps=None if steps is None else steps.pulse,
            ),
            host=host,
            port=port,
            log_level="warning",
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)


def _die_with_parent() -> None:
    """In a child of `up`: get SIGTERM when `up` dies, even by SIGKILL, so no API or portal
    is left running on its own (Linux; elsewhere `up` stops them on its way out)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@api.command("token")
@click.option("--rotate", is_flag=True, help="Make a new token; the old one stops working.")
@click.pass_context
def api_token(ctx: click.Context, rotate: bool) -> None:
    """Print the API's token (made now if there is none); --rotate replaces it.

    A running API reads its token when it starts: restart it after a rotation.
    """
    settings: Settings = ctx.find_object(Settings)
    if rotate and settings.api_token:
        raise LabellakeError(
            "the api_token setting fixes the token; change it there (LABELLAKE_API_TOKEN or "
            "labellake.toml) instead of --rotate"
        )
    token, _ = _home(ctx).api_token(rotate=rotate)
    click.echo(token)


@cli.command()
@click.option("--api-port", default=8080, show_default=True, type=int, help="Port of the API.")
@click.option(
    "--portal-port", default=8501, show_default=True, type=int, help="Port of the portal."
)
@_NO_AUTH
@click.pass_context
def up(ctx: click.Context, api_port: int, portal_port: int, no_auth: bool) -> None:
    """Start the API with the runner and the portal on 127.0.0.1; Ctrl-C stops both."""
    import subprocess

    import labellake.portal

    settings: Settings = ctx.find_object(Settings)
    _home(ctx)  # fail here, in one line, if the home is unusable
    if not no_auth:  # made (and printed) here once; the API reads it from the home
        _api_token(ctx, no_auth)
    env = {
        **os.environ,
        **{
            f"LABELLAKE_{name.upper()}": value if isinstance(value, str) else json.dumps(value)
            for name, value in settings.model_dump(mode="json").items()
            if value is not None
        },
    }
    app = Path(labellake.portal.__file__).parent / "app.py"
    commands = {
        "api": [
            sys.executable,
            "-m",
            "labellake.portal.cli",
            "api",
            "--host",
            "127.0.0.1",
            "--port",
            str(api_port),
            *(["--no-auth"] if no_auth else []),
        ],
        "portal": [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(app),
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(portal_port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--client.toolbarMode",
            "viewer",
        ],
    }
    children = {
        name: subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)
        for name, command in commands.items()
    }
    click.echo(
        f"labellake is up: portal http://127.0.0.1:{portal_port}  "
        f"API http://127.0.0.1:{api_port}/docs  (Ctrl-C stops both)"
    )
    stop = threading.Event()
    with _stop_on_signals(stop):
        while not stop.is_set():
            ended = [name for name, child in children.items() if child.poll() is not None]
            if ended:
                click.echo(f"labellake: the {ended[0]} stopped; stopping the rest", err=True)
                break
            stop.wait(0.5)
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    for child in children.values():
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()


@cli.group()
def model() -> None:
    """Train, tune and serve regression models on the lake (the labeling-effort model)."""


def _data_options(command):  # type: ignore[no-untyped-def]
    for option in reversed(
        [
            click.option(
                "--model-name",
                default="labeling-effort",
                show_default=True,
                help="Name the model is registered and served under.",
            ),
            click.option(
                "--sql",
                "query",
                default=None,
                help="Lake SQL query giving the rows [default: the labeling-effort dataset].",
            ),
            click.option(
                "--csv", "csv_uri", default=None, help="CSV file (path or s3:// URI) instead."
            ),
            click.option(
                "--target",
                default=None,
                help="Column to predict [default: seconds, for the labeling-effort dataset].",
            ),
            click.option(
                "--features", default=None, help="Comma-separated feature columns [default: all]."
            ),
            click.option(
                "--estimator",
                type=click.Choice(["gradient_boosting", "mlp"]),
                default=None,
                help="Regressor [train: the newest HPO's best, else gradient_boosting; "
                "hpo: both are searched].",
            ),
            click.option("--seed", default=0, show_default=True, type=int, help="Random seed."),
        ]
    ):
        command = option(command)
    return command


def _run_model(ctx: click.Context, mode: str, **given: object) -> None:
    from labellake.workflows.models import workflow

    features = given.pop("features")
    payload = {k: v for k, v in given.items() if v is not None}
    if features:
        payload["features"] = [f.strip() for f in str(features).split(",") if f.strip()]
    request = workflow.parse_run_request(
        {workflow.RunRequest.model_fields[k].alias or k: v for k, v in payload.items()}, mode
    )
    models = workflow.from_home(_home(ctx), local_files=True)
    started = time.monotonic()
    run_id = models.run(request, actor=_actor())
    run = models.describe(run_id)
    click.echo(f"model run {run_id} {run['status']} in {time.monotonic() - started:.1f}s", err=True)
    if run["status"] != "READY":
        raise LabellakeError(f"model run {run_id} ended {run['status']}: {run['cause']}")
    _echo_json(
        {
            "runId": run_id,
            "status": run["status"],
            "params": run["params"],
            "metrics": run["metrics"],
            "endpointId": run["endpoint_id"],
        }
    )


@model.command("train")
@_data_options
@click.option("--params", default=None, help="Hyperparameters as JSON, e.g. '{\"max_iter\": 300}'.")
@click.pass_context
def model_train(ctx: click.Context, params: str | None, **given: object) -> None:
    """Train a model, register it and deploy it as an endpoint (TRAIN)."""
    if params is not None:
        try:
            given["params"] = json.loads(params)
        except json.JSONDecodeError as exc:
            raise LabellakeError(f"--params: not JSON ({exc.msg} at column {exc.colno})") from exc
    _run_model(ctx, "TRAIN", **given)


@model.command("hpo")
@_data_options
@click.option(
    "--trials", default=20, show_default=True, type=click.IntRange(1, 500), help="HPO trials."
)
@click.pass_context
def model_hpo(ctx: click.Context, **given: object) -> None:
    """Search the hyperparameters (Bayesian, optuna), then train, register and deploy the best."""
    _run_model(ctx, "HPO", **given)


@model.command("list")
@click.option("--mode", type=click.Choice(["TRAIN", "HPO"]), default=None, help="Only these runs.")
@click.pass_context
def model_list(ctx: click.Context, mode: str | None) -> None:
    """Model runs (newest first) with status, metrics and endpoint, and the endpoints."""
    from labellake.workflows.models import workflow

    models = workflow.from_home(_home(ctx))
    _echo_json({"runs": models.runs(mode), "endpoints": models.registry.endpoints()})


@model.command("infer")
@click.option(
    "--model-name", default="labeling-effort", show_default=True, help="Model or endpoint."
)
@click.option("--input", "given", required=True, help="Feature values as a JSON object (or list).")
@click.option(
    "--range",
    "sweep",
    default=None,
    help='Sweep one feature, e.g. \'{"feature": "frames", "start": 10, "stop": 200}\'.',
)
@click.pass_context
def model_infer(ctx: click.Context, model_name: str, given: str, sweep: str | None) -> None:
    """Predict with the newest endpoint in service of a model."""
    from labellake.workflows.models import workflow

    def parse(option: str, text: str) -> object:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise LabellakeError(f"{option}: not JSON ({exc.msg} at column {exc.colno})") from exc

    models = workflow.from_home(_home(ctx))
    rows = parse("--input", given)
    swept = parse("--range", sweep) if sweep else None
    _echo_json(models.infer(model_name, rows, swept))  # type: ignore[arg-type]


@cli.command()
@click.option("--batch-id", default=None, help="Batch id [default: the first free demoN].")
@click.option(
    "--clips",
    default=2,
    show_default=True,
    type=click.IntRange(1, 50),
    help="Synthetic clips to generate.",
)
@click.option(
    "--frames", default=60, show_default=True, type=click.IntRange(2, 2000), help="Frames per clip."
)
@click.option(
    "--if-empty",
    is_flag=True,
    help="Do nothing if the home already holds a batch (what `make run` uses).",
)
@click.option(
    "--history",
    default=0,
    show_default=True,
    type=click.IntRange(0, 20),
    help="Also run this many earlier batches (8 clips each, 12 to 48 frames) to give the "
    "dashboards and the labeling-effort model a history.",
)
@click.pass_context
def demo(
    ctx: click.Context,
    batch_id: str | None,
    clips: int,
    frames: int,
    if_empty: bool,
    history: int,
) -> None:
    """Generate sample clips and run the reference 4-job, 2-level batch to completion."""
    from labellake.workflows.samples import synthetic
    from labellake.workflows.samples.demo import demo_request, free_demo_id

    engine = _engine(ctx)
    if engine.orchestrator is not None:
        engine.orchestrator.queue_url  # noqa: B018 - no steps queue: said before anything is written
    if if_empty and engine.state.batches():
        click.echo(
            f"the home {ctx.find_object(Settings).home} already holds batches; list them with: "
            "labellake batch show"
        )
        return
    started = time.monotonic()
    samples = synthetic.generate(
        engine.objects,
        dataset=f"samples/drive-{clips}x{frames}",
        clips=clips,
        frames=frames,
        seed=engine.config.seed,
    )
    batch_id = batch_id or free_demo_id(engine.state)
    engine.submit(demo_request(batch_id, samples), actor=_actor())
    click.echo(f"batch {batch_id}: {clips} clips x {frames} frames, 4 jobs over 2 levels", err=True)
    status = _wait_for(ctx, engine, batch_id)
    detail = engine.show(batch_id)
    if status != "COMPLETE":
        raise LabellakeError(f"batch {batch_id} ended {status}: {detail['message']}")
    click.echo(f"batch {batch_id} COMPLETE in {time.monotonic() - started:.1f}s")
    for level in detail["levels"]:
        for job in level["jobLevels"]:
            click.echo(
                f"  level {level['level']} {job['labelingJobName']}: {job['jobOutputS3Uri']}"
            )
    for number in range(1, history + 1):
        earlier = synthetic.generate(
            engine.objects,
            dataset=f"samples/history-{number}",
            clips=8,
            frames=(12, 24, 48)[number % 3],
            seed=engine.config.seed + number,
        )
        history_id = f"{batch_id}-history-{number}"
        engine.submit(demo_request(history_id, earlier), actor=_actor())
        status = _wait_for(ctx, engine, history_id)
        if status != "COMPLETE":
            raise LabellakeError(f"batch {history_id} ended {status}")
    if history:
        click.echo(f"history: {history} earlier batches of 8 clips COMPLETE")
    settings = ctx.find_object(Settings)
    where = "--profile aws" if settings.profile == "aws" else f"--home {settings.home}"
    click.echo(f"show it with: labellake {where} batch show --batch-id {batch_id}")
    _demo_documents(ctx)
    from labellake.etl.benchmarks import PUBLISHED_RUN, published_table

    _home(ctx).lake.write("benchmark_results", PUBLISHED_RUN, published_table())
    click.echo(
        "benchmarks: the reference's 10 published rows loaded (labellake bench run adds yours)"
    )


def _demo_documents(ctx: click.Context) -> None:
    """Sample review reports, one per layout, ingested for the Documents page."""
    import tempfile

    from labellake.workflows.documents.pipeline import Options, find_sources, ingest
    from labellake.workflows.samples.documents import LAYOUTS, write_pdf

    home = _home(ctx)
    with contextlib.ExitStack() as stack:
        if home.objects.is_local:
            folder = Path(home.objects.path("documents/samples"))
        else:  # the PDFs are made here; their paragraphs go to the lake on S3
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        folder.mkdir(parents=True, exist_ok=True)
        for layout in LAYOUTS:
            write_pdf(folder / f"review-{layout.replace('_', '-')}-1.pdf", layout, seed=0)
        outcomes = ingest(find_sources([str(folder)]), home.lake, Options())
    click.echo(f"documents: {len(outcomes)} sample review reports ingested")


@cli.group()
def documents() -> None:
    """Document insights: paragraphs and their sentiment, from PDFs or Textract JSON."""


def _document_options(
    ctx: click.Context, technique: str, sentiment: str, detection: str, force: bool
):  # type: ignore[no-untyped-def]
    from labellake.workflows.documents.pipeline import Options

    settings: Settings = ctx.find_object(Settings)
    aws = {"region": settings.aws_region, "endpoint_url": settings.aws_endpoint_url}
    options = Options(technique, sentiment, detection, force, aws=aws)
    options.check()
    if detection == "textract" or sentiment == "comprehend":
        import boto3

        client_args = {
            "region_name": settings.aws_region,
            "endpoint_url": settings.aws_endpoint_url,
        }
        if detection == "textract":
            options.textract = boto3.client("textract", **client_args)
        if sentiment == "comprehend":
            options.comprehend = boto3.client("comprehend", **client_args)
    return options


def _document_flags(command):  # type: ignore[no-untyped-def]
    from labellake.etl.documents import TECHNIQUES
    from labellake.workflows.documents.pipeline import DETECTIONS, SENTIMENTS

    for option in reversed(
        [
            click.option(
                "--technique",
                type=click.Choice(TECHNIQUES),
                default="auto",
                show_default=True,
                help="How lines are split into headers and paragraphs.",
            ),
            click.option(
                "--sentiment",
                type=click.Choice(SENTIMENTS),
                default="vader",
                show_default=True,
                help="vader (offline) or comprehend (Amazon Comprehend).",
            ),
            click.option(
                "--detection",
                type=click.Choice(DETECTIONS),
                default="auto",
                show_default=True,
                help="auto: a PDF's text layer (JSON files are Textract responses); "
                "textract: Amazon Textract on s3:// documents.",
            ),
            click.option("--force", is_flag=True, help="Ingest unchanged documents again."),
        ]
    ):
        command = option(command)
    return command


def _echo_outcome(outcome) -> None:  # type: ignore[no-untyped-def]
    if outcome.status == "ok":
        notes = f" ({'; '.join(outcome.problems)})" if outcome.problems else ""
        click.echo(f"{outcome.doc_id}: {outcome.paragraphs} rows{notes}")
    elif outcome.status == "error":
        click.echo(f"{outcome.doc_id}: error: {outcome.error}")


@documents.command("ingest")
@click.argument("targets", nargs=-1, required=True)
@_document_flags
@click.pass_context
def documents_ingest(
    ctx: click.Context,
    targets: tuple[str, ...],
    technique: str,
    sentiment: str,
    detection: str,
    force: bool,
) -> None:
    """Ingest PDFs or Textract JSON: files, folders or s3:// prefixes.

    A document that cannot be read gets a row with its error in `documents`; the
    others go on. Exits 2 only when no document could be read.
    """
    from rich.progress import Progress

    from labellake.workflows.documents.pipeline import find_sources, ingest

    home = _home(ctx)
    options = _document_options(ctx, technique, sentiment, detection, force)
    sources = find_sources(targets, **options.aws)
    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task("ingesting", total=len(sources))

        def advance(outcome) -> None:  # type: ignore[no-untyped-def]
            progress.update(task, description=f"ingested {outcome.doc_id}")
            progress.advance(task)

        outcomes = ingest(sources, home.lake, options, advance)
    for outcome in outcomes:
        _echo_outcome(outcome)
    counts = {
        status: sum(o.status == status for o in outcomes) for status in ("ok", "skipped", "error")
    }
    click.echo(
        f"{counts['ok']} document(s) ingested, {counts['skipped']} unchanged, "
        f"{counts['error']} could not be read (see the documents table)"
    )
    if outcomes and counts["error"] == len(outcomes):
        raise LabellakeError(
            'no document could be read; see labellake sql "select doc_id, error from documents"'
        )


@documents.command("watch")
@click.option(
    "--interval", type=float, default=2.0, show_default=True, help="Seconds between looks."
)
@_document_flags
@click.pass_context
def documents_watch(
    ctx: click.Context, interval: float, technique: str, sentiment: str, detection: str, force: bool
) -> None:
    """Ingest every PDF or Textract JSON put in objects/documents/inbox, until Ctrl-C."""
    from labellake.workflows.documents.pipeline import INBOX, watch

    home = _home(ctx)
    options = _document_options(ctx, technique, sentiment, detection, force)
    stop = threading.Event()
    click.echo(f"watching {home.objects.uri(INBOX)} (Ctrl-C stops)", err=True)
    with _stop_on_signals(stop):
        watch(
            home.objects,
            home.lake,
            options,
            interval_s=interval,
            stop=stop.is_set,
            progress=_echo_outcome,
            sleep=stop.wait,
        )


@documents.command("sample")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder to write to [default: objects/documents/samples].",
)
@click.option("--docs", type=int, default=1, show_default=True, help="Documents per layout.")
@click.pass_context
def documents_sample(ctx: click.Context, out: Path | None, docs: int) -> None:
    """Write generated review reports as PDFs, one per layout (font, indent, two
    columns, spacing), to try ingestion on."""
    from labellake.workflows.samples.documents import LAYOUTS, write_pdf

    home = _home(ctx)
    if out is None:
        if not home.objects.is_local:
            raise LabellakeError("--out: give a local folder (the object store is not local)")
        out = Path(home.objects.path("documents/samples"))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabellakeError(f"--out {out}: cannot create it ({exc.strerror})") from exc
    for layout in LAYOUTS:
        for seed in range(docs):
            write_pdf(out / f"review-{layout.replace('_', '-')}-{seed + 1}.pdf", layout, seed=seed)
    click.echo(
        f"{len(LAYOUTS) * docs} PDF(s) in {out}; ingest them with: labellake documents ingest {out}"
    )


@cli.group("import")
def import_() -> None:
    """Bring clips into the object store: your videos, or MOTChallenge folders."""


@import_.command("video")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--dataset",
    default="imports/video",
    show_default=True,
    help="Folder in the object store for the frames and the manifest.",
)
@click.option(
    "--stride", default=1, show_default=True, type=click.IntRange(1), help="Keep every Nth frame."
)
@click.option(
    "--max-frames", default=None, type=click.IntRange(1), help="At most this many frames per video."
)
@click.pass_context
def import_video(
    ctx: click.Context, paths: tuple[Path, ...], dataset: str, stride: int, max_frames: int | None
) -> None:
    """Split mp4/mov/avi videos into JPEG frames + sequence files + an input manifest."""
    from labellake.workflows.samples.video import import_videos

    imported = import_videos(_home(ctx).objects, list(paths), dataset, stride, max_frames)
    _echo_json({"inputManifestS3Uri": imported.manifest_uri, "clips": list(imported.clips)})


@import_.command("mot")
@click.argument("folders", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--dataset",
    default="imports/mot",
    show_default=True,
    help="Folder in the object store for the frames and the manifest.",
)
@click.option(
    "--frames",
    default=150,
    show_default=True,
    type=click.IntRange(1),
    help="Frames to keep per sequence.",
)
@click.option(
    "--stride", default=1, show_default=True, type=click.IntRange(1), help="Keep every Nth frame."
)
@click.pass_context
def import_mot(
    ctx: click.Context, folders: tuple[Path, ...], dataset: str, frames: int, stride: int
) -> None:
    """Import MOTChallenge folders (img1/, gt/gt.txt, seqinfo.ini) with their ground truth."""
    from labellake.workflows.samples.mot import import_folders

    imported = import_folders(_home(ctx).objects, list(folders), dataset, frames, stride)
    _echo_json(
        {
            "inputManifestS3Uri": imported.manifest_uri,
            "labelCategoryConfigS3Uri": imported.label_config_uri,
            "clips": list(imported.clips),
        }
    )


@cli.group()
def etl() -> None:
    """Load labeling outputs into the lake's tables."""


@etl.command("run")
@click.option("--force", is_flag=True, help="Reload jobs even when their output is unchanged.")
@click.pass_context
def etl_run(ctx: click.Context, force: bool) -> None:
    """Load every completed job not loaded yet (keyed per job; re-running loads nothing twice)."""
    from labellake.workflows.labeling.lake_sync import completed_jobs

    engine = _engine(ctx)
    _load_jobs(completed_jobs(engine), engine.lake, engine.config.aws, force)


@cli.group(name="lake")
def lake_group() -> None:
    """Look after the lake's files."""


@lake_group.command("repair")
@click.pass_context
def lake_repair(ctx: click.Context) -> None:
    """Move damaged lake files aside (a copy stays in HOME/quarantine) and rebuild the tables.

    batches and jobs are rebuilt from the state store, the job tables from the raw zone
    (as `labellake etl run --force`).
    """
    from labellake.workflows.lake_repair import quarantine_store, repair_lake

    engine = _engine(ctx)
    report = repair_lake(engine, quarantine_store(_home(ctx)))
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


@import_.command("groundtruth")
@click.argument("root")
@click.option("--job-name", default=None, help="Name of the job, when ROOT holds exactly one.")
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="S3PREFIX=DIR",
    help="Read refs under S3PREFIX from the local copy DIR (repeatable).",
)
@click.option("--force", is_flag=True, help="Reload jobs that were already imported unchanged.")
@click.pass_context
def import_groundtruth(
    ctx: click.Context, root: str, job_name: str | None, maps: tuple[str, ...], force: bool
) -> None:
    """Load existing Ground Truth job outputs (a folder or an s3:// prefix) into the lake."""
    from labellake.etl.imports import find_jobs, parse_map

    home = _home(ctx)
    aws = {"region": home.settings.aws_region, "endpoint_url": home.settings.aws_endpoint_url}
    _load_jobs(find_jobs(root, job_name, parse_map(list(maps)), **aws), home.lake, aws, force)


def _load_jobs(jobs: list, lake, aws: dict, force: bool) -> None:  # type: ignore[type-arg, no-untyped-def]
    """Load jobs with a progress bar; one line per loaded job, then a summary."""
    from rich.progress import Progress

    from labellake.etl.jobs import load_job

    reports = []
    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task("loading", total=len(jobs))
        for job in jobs:
            progress.update(task, description=f"loading {job.job_name}")
            reports.append(load_job(job, lake, aws=aws, force=force))
            progress.advance(task)
    loaded = [r for r in reports if not r.skipped]
    problems = sum(len(r.problems) for r in reports)
    for report in loaded:
        counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
        click.echo(f"{report.job_name}: {counts}")
    click.echo(
        f"{len(loaded)} job(s) loaded, {len(reports) - len(loaded)} already up to date, "
        f"{problems} problem(s) recorded in etl_errors"
    )
    if reports and not any(r.loaded_anything for r in reports):
        raise LabellakeError(
            "nothing could be loaded; see the etl_errors table "
            "(labellake sql 'select * from etl_errors')"
        )


@cli.command()
@click.option("--job", "jobs", multiple=True, help="Job to export (repeatable).")
@click.option(
    "--batch",
    "batch_id",
    default=None,
    help="Export a batch: the last job of each chain, merged per frame.",
)
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(["coco", "yolo", "mot"]),
    help="Training format.",
)
@click.option(
    "--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder to write into."
)
@click.pass_context
def export(
    ctx: click.Context, jobs: tuple[str, ...], batch_id: str | None, fmt: str, out_dir: Path
) -> None:
    """Write annotations from the lake in COCO, YOLO or MOTChallenge format."""
    from labellake.etl.export import EXPORTERS, ObjectFrames, known_sizes

    if bool(jobs) == bool(batch_id):
        raise LabellakeError("give --job NAME (one or more) or --batch ID")
    home = _home(ctx)
    names = list(jobs)
    if batch_id:
        engine = _engine(ctx)
        batch_jobs = engine.state.jobs(engine.show(batch_id)["batchId"])
        parents = {job["chain_from"].lower() for job in batch_jobs if job["chain_from"]}
        names = [job["job_name"] for job in batch_jobs if job["job_name"].lower() not in parents]
    marks = ", ".join("?" for _ in names)
    annotations = home.lake.query(
        f"SELECT * FROM annotations WHERE job_name IN ({marks}) "
        "ORDER BY source_ref, frame_no, job_name, object_id",
        names,
    )
    found = set(annotations.column("job_name").to_pylist())
    missing = [name for name in names if name not in found]
    if missing:
        raise LabellakeError(
            f"no annotations in the lake for job(s) {', '.join(missing)}; "
            "run `labellake etl run` or check the job names"
        )
    aws = {"region": home.settings.aws_region, "endpoint_url": home.settings.aws_endpoint_url}
    files = EXPORTERS[fmt](annotations, ObjectFrames(known_sizes(annotations), **aws))
    try:
        for relative, text in files.items():
            target = out_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    except OSError as exc:
        raise LabellakeError(f"cannot write to {out_dir}: {exc.strerror}") from exc
    click.echo(
        f"{fmt}: {annotations.num_rows} shapes from {', '.join(names)} -> "
        f"{len(files)} file(s) in {out_dir}"
    )


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
