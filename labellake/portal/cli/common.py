"""What every command group shares: the settings and the services built from them (the one
place the CLI opens a home or assembles an engine), JSON output, waiting on a batch,
passwords, and the report of a job load."""

from __future__ import annotations

import contextlib
import getpass
import json
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

import click

from labellake.errors import LabellakeError
from labellake.portal.supervisor import stop_on_signals
from labellake.settings import Settings

T = TypeVar("T")

if TYPE_CHECKING:
    from labellake.etl.jobs import JobOutput, LoadReport
    from labellake.workflows.home import Home
    from labellake.workflows.imports.groundtruth import JobLoads
    from labellake.workflows.labeling.engine import Engine
    from labellake.workflows.labeling.runner import Runner
    from labellake.workflows.labeling.stepfunctions import Worker
    from labellake.workflows.models.workflow import ModelWorkflow
    from labellake.workflows.people.accounts import Accounts
    from labellake.workflows.people.workforce import Workforce


# -- the settings and what is built from them ---------------------------------------------


def settings_of(ctx: click.Context) -> Settings:
    return ctx.find_object(Settings)


def home_of(ctx: click.Context, *, serving: bool = False) -> Home:
    """The home named by the settings (made where missing); ``serving`` for the API."""
    from labellake.workflows import compose  # imported when used: it loads every service

    return compose.open_home(settings_of(ctx), serving=serving)


def engine_of(ctx: click.Context) -> Engine:
    from labellake.workflows import compose

    # The CLI's user names files on their own machine: any local file but the state files.
    return compose.build_engine(home_of(ctx), local_files=True)


def runner_of(home: Home) -> Runner | Worker:
    """What drives every IN_PROGRESS batch: the embedded runner or a Step Functions worker."""
    from labellake.workflows import compose

    return compose.build_runner(home)


def models_of(home: Home, *, local_files: bool = False) -> ModelWorkflow:
    from labellake.workflows import compose

    return compose.model_workflow(home, local_files=local_files)


def workforce_of(ctx: click.Context) -> Workforce:
    from labellake.workflows import compose

    return compose.workforce(home_of(ctx))


def accounts_of(ctx: click.Context) -> Accounts:
    from labellake.workflows import compose

    return compose.accounts(home_of(ctx))


# -- input and output ---------------------------------------------------------------------


def actor() -> str:
    """Who the state store records as acting: cli:<login name>."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def echo_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2))


def read_password(password_stdin: bool) -> str:
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


def wait_for(ctx: click.Context, engine: Engine, batch_id: str) -> str:
    """Drive the batch in this process, or wait for the runner that holds the lease;
    returns its final status."""
    from labellake.workflows.compose import runner_for
    from labellake.workflows.labeling.runner import LEASE
    from labellake.workflows.labeling.status import FINAL_BATCH_STATUSES

    def final() -> bool:
        return engine.state.batch(batch_id)["status"] in FINAL_BATCH_STATUSES

    holder = engine.state.lease_holder(LEASE)
    if holder:
        click.echo(f"waiting for the runner {holder} to finish batch {batch_id}", err=True)
    stop = threading.Event()
    with stop_on_signals(stop):
        runner_for(engine, min(0.2, settings_of(ctx).runner_poll_s)).run(stop, until=final)
    return engine.state.batch(batch_id)["status"]


class JobProgress:
    """Progress bars on a terminal for loading jobs: one for the jobs, one for the files of
    the job being loaded (a single job of thousands of SeqLabel files takes minutes)."""

    def __init__(self) -> None:
        from rich.progress import Progress

        self.bars = Progress(transient=True, disable=not sys.stderr.isatty())
        self._files: int | None = None  # the files bar, while a job is loading

    def track(self, jobs: list[JobOutput]) -> Iterator[JobOutput]:
        """Each job in turn, under the jobs bar."""
        with self.bars:
            task = self.bars.add_task("loading", total=len(jobs))
            for job in jobs:
                self.bars.update(task, description=f"loading {job.job_name}")
                yield job
                self.bars.advance(task)

    def files(self, done: int, total: int) -> None:
        """``done`` of the job's ``total`` label files read."""
        if self._files is None:
            self._files = self.bars.add_task("label files", total=total)
        self.bars.update(self._files, completed=done, total=total)
        if done >= total:
            self.bars.remove_task(self._files)
            self._files = None


def parse_size(option: str, value: str | None) -> tuple[int, int] | None:
    """'1920x1080' -> (1920, 1080); LabellakeError naming ``option`` otherwise."""
    if value is None:
        return None
    width, sep, height = value.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit() and int(width) and int(height)):
        raise LabellakeError(f"{option} '{value}': write it as WIDTHxHEIGHT, e.g. 1920x1080")
    return int(width), int(height)


def track_items(items: list[T], description: str) -> Iterator[T]:
    """Each item in turn, under a progress bar on a terminal."""
    from rich.progress import Progress

    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task(description, total=len(items))
        for item in items:
            yield item
            progress.advance(task)


@contextlib.contextmanager
def track_rows(description: str) -> Iterator[Callable[[int], None]]:
    """A callback told the rows read so far, shown as a counter on a terminal."""
    from rich.progress import Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}: {task.completed:,} shapes"), TimeElapsedColumn())
    with Progress(*columns, transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task(description, total=None)
        yield lambda rows: progress.update(task, completed=rows)


def _lost(report: LoadReport) -> int:
    return sum(abs(t.unexplained) for t in report.lost)


def echo_loads(loads: JobLoads) -> None:
    """Per loaded job its rows and its reconciliation, then a summary; exits 2 when shapes
    were dropped without a reason, or when nothing could be loaded."""
    for report in loads.loaded:
        counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
        click.echo(f"{report.job_name}: {counts}")
        log = report.log
        click.echo(
            f"  shapes seen {log.seen} = written {log.written} + explained in etl_errors "
            f"{log.explained}" + ("" if not report.lost else f"; {_lost(report)} NOT ACCOUNTED FOR")
        )
    click.echo(
        f"{len(loads.loaded)} job(s) loaded, {loads.up_to_date} already up to date, "
        f"{loads.problems} problem(s) recorded in etl_errors"
    )
    lost = [report for report in loads.loaded if report.lost]
    if lost:
        files = [
            f"{t.file} (seen {t.seen}, written {t.written}, explained {t.explained})"
            for report in lost
            for t in report.lost
        ]
        raise LabellakeError(
            f"shapes were dropped without a reason in {len(files)} file(s): "
            + "; ".join(files[:3])
            + ("" if len(files) <= 3 else "; ...")
            + ". Please report this; `labellake etl check` lists every file"
        )
    if loads.nothing_loaded:
        raise LabellakeError(
            "nothing could be loaded; see the etl_errors table "
            "(labellake sql 'select * from etl_errors')"
        )
