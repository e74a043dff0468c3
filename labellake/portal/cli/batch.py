"""`labellake batch`: create, show, stop, retry and delete labeling batches."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from labellake.errors import LabellakeError
from labellake.portal.cli.common import actor, echo_json, engine_of, wait_for


@click.group()
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
    engine = engine_of(ctx)
    try:
        payload = request_file.read_bytes()
    except OSError as exc:
        raise LabellakeError(f"cannot read {request_file}: {exc.strerror}") from exc
    from labellake.workflows.labeling.spec import SpecError

    try:
        batch_id = engine.submit(payload, actor=actor())
    except SpecError as exc:
        raise LabellakeError(f"{request_file}: {exc}") from exc
    if not wait:
        echo_json({"batchId": batch_id, "status": "IN_PROGRESS"})
        return
    status = wait_for(ctx, engine, batch_id)
    echo_json(engine.show(batch_id))
    if status != "COMPLETE":
        raise LabellakeError(
            f"batch {batch_id} ended {status}: {engine.state.batch(batch_id)['message']}"
        )


@batch.command("show")
@click.option("--batch-id", default=None, help="Show one batch; without it, ids by status.")
@click.pass_context
def batch_show(ctx: click.Context, batch_id: str | None) -> None:
    """Print batch ids by status, or one batch's detail, as GET /batch/show does."""
    engine = engine_of(ctx)
    echo_json(engine.show(batch_id) if batch_id else engine.list_by_status())


@batch.command("stop")
@click.option("--batch-id", required=True, help="The batch to stop.")
@click.pass_context
def batch_stop(ctx: click.Context, batch_id: str) -> None:
    """Stop a running batch and its jobs."""
    engine_of(ctx).stop(batch_id, actor=actor())
    echo_json({"batchId": batch_id, "status": "STOPPED"})


@batch.command("retry")
@click.option("--batch-id", required=True, help="The batch to retry.")
@click.pass_context
def batch_retry(ctx: click.Context, batch_id: str) -> None:
    """Resume a failed or stopped batch from its first unfinished level."""
    engine_of(ctx).retry(batch_id, actor=actor())
    echo_json({"batchId": batch_id, "status": "IN_PROGRESS"})


@batch.command("delete")
@click.option("--batch-id", required=True, help="The batch to delete.")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.option("--yes", is_flag=True, help="Delete without asking.")
@click.pass_context
def batch_delete(ctx: click.Context, batch_id: str, dry_run: bool, yes: bool) -> None:
    """Delete a batch with its levels, jobs, tasks, raw outputs and lake rows."""
    engine = engine_of(ctx)
    plan = engine.delete(batch_id, dry_run=True)
    if dry_run:
        echo_json(plan)
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
    echo_json(engine.delete(batch_id, actor=actor()))
