"""`labellake export`: the lake's annotations in COCO, YOLO or MOTChallenge format."""

from __future__ import annotations

from pathlib import Path

import click

from labellake.errors import LabellakeError
from labellake.portal.cli.common import engine_of, home_of


@click.command()
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
    from labellake.etl.export import export_jobs, leaf_jobs

    if bool(jobs) == bool(batch_id):
        raise LabellakeError("give --job NAME (one or more) or --batch ID")
    home = home_of(ctx)
    names = list(jobs)
    if batch_id:
        engine = engine_of(ctx)
        names = leaf_jobs(engine.state.jobs(engine.show(batch_id)["batchId"]))
    exported = export_jobs(home.lake, names, fmt, aws=home.settings.aws)
    try:
        for relative, text in exported.files.items():
            target = out_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    except OSError as exc:
        raise LabellakeError(f"cannot write to {out_dir}: {exc.strerror}") from exc
    click.echo(
        f"{fmt}: {exported.shapes} shapes from {', '.join(names)} -> "
        f"{len(exported.files)} file(s) in {out_dir}"
    )
