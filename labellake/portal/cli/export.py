"""`labellake export`: the lake's annotations in COCO, YOLO, MOTChallenge, CVAT or Label
Studio format."""

from __future__ import annotations

from pathlib import Path

import click

from labellake.errors import LabellakeError
from labellake.portal.cli.common import engine_of, home_of, parse_size, track_items, track_rows


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
    type=click.Choice(["coco", "yolo", "mot", "cvat-video", "cvat-images", "labelstudio"]),
    help="Training format, or another labeling tool's format.",
)
@click.option(
    "--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Folder to write into."
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="S3PREFIX=DIR",
    help="Read frames under S3PREFIX from the local copy DIR, for their sizes (repeatable).",
)
@click.option(
    "--image-size",
    default=None,
    metavar="WxH",
    help="Size of the frames whose size the lake does not know and no image gives.",
)
@click.option(
    "--frame-rate",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help="Frames per second, written to MOT's seqinfo.ini (left out when not given).",
)
@click.pass_context
def export(
    ctx: click.Context,
    jobs: tuple[str, ...],
    batch_id: str | None,
    fmt: str,
    out_dir: Path,
    maps: tuple[str, ...],
    image_size: str | None,
    frame_rate: float | None,
) -> None:
    """Write annotations from the lake in a training format or another tool's format."""
    from labellake.etl.export import export_jobs, leaf_jobs
    from labellake.etl.imports import parse_map

    if bool(jobs) == bool(batch_id):
        raise LabellakeError("give --job NAME (one or more) or --batch ID")
    home = home_of(ctx)
    names = list(jobs)
    if batch_id:
        engine = engine_of(ctx)
        names = leaf_jobs(engine.state.jobs(engine.show(batch_id)["batchId"]))
    with track_rows(f"exporting {', '.join(names)} as {fmt}") as progress:
        exported = export_jobs(
            home.lake,
            names,
            fmt,
            aws=home.settings.aws,
            uri_map=parse_map(list(maps)),
            image_size=parse_size("--image-size", image_size),
            frame_rate=frame_rate,
        )
        progress(exported.shapes)
    try:
        for relative, text in track_items(list(exported.files.items()), "writing files"):
            target = out_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    except OSError as exc:
        raise LabellakeError(f"cannot write to {out_dir}: {exc.strerror}") from exc
    click.echo(
        f"{fmt}: {exported.shapes} shapes from {', '.join(names)} -> "
        f"{len(exported.files)} file(s) in {out_dir}"
        + (
            f"; {exported.unlabeled} shape(s) without a label are in class 'unlabeled'"
            if exported.unlabeled
            else ""
        )
    )
