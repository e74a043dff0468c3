"""`labellake demo`: sample clips through the reference batch, with documents and benchmarks."""

from __future__ import annotations

import click

from labellake.portal.cli.common import actor, engine_of, settings_of, wait_for


@click.command()
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
@click.option(
    "--backend",
    type=click.Choice(["simulated", "local", "groundtruth", "labelstudio"]),
    default=None,
    help="Labeling backend of the batch's jobs [default: the labeling_backend setting]. "
    "Jobs it cannot label (lane polylines on labelstudio) run on --other-backend.",
)
@click.option(
    "--other-backend",
    type=click.Choice(["simulated", "local", "none"]),
    default="simulated",
    show_default=True,
    help="Where jobs that --backend cannot label run; none: submit them anyway and be "
    "refused with the reason.",
)
@click.pass_context
def demo(
    ctx: click.Context,
    batch_id: str | None,
    clips: int,
    frames: int,
    if_empty: bool,
    history: int,
    backend: str | None,
    other_backend: str,
) -> None:
    """Generate sample clips and run the reference 4-job, 2-level batch to completion."""
    from labellake.workflows.samples import demo as samples

    settings = settings_of(ctx)
    engine = engine_of(ctx)

    def report(event: samples.DemoEvent) -> None:
        match event:
            case samples.Submitted(batch_id, clips, frames):
                click.echo(
                    f"batch {batch_id}: {clips} clips x {frames} frames, 4 jobs over 2 levels",
                    err=True,
                )
                if backend == "labelstudio":
                    click.echo(
                        f"label and audit the clips in Label Studio at "
                        f"{settings.labelstudio_url}/projects (one project per job, named "
                        f"after it); waiting until they are done (Ctrl-C stops waiting, the "
                        "batch goes on)",
                        err=True,
                    )
            case samples.Routed(job, other, reason):
                click.echo(f"{job} runs on the {other} backend: {reason}", err=True)
            case samples.Completed(batch_id, seconds, outputs):
                click.echo(f"batch {batch_id} COMPLETE in {seconds:.1f}s")
                for level, job, output in outputs:
                    click.echo(f"  level {level} {job}: {output}")
            case samples.HistoryDone(batch_id, batches):
                if batches:
                    click.echo(f"history: {batches} earlier batches of 8 clips COMPLETE")
                where = "--profile aws" if settings.profile == "aws" else f"--home {settings.home}"
                click.echo(f"show it with: labellake {where} batch show --batch-id {batch_id}")
            case samples.DocumentsIngested(documents):
                click.echo(f"documents: {documents} sample review reports ingested")
            case samples.BenchmarksLoaded(rows):
                click.echo(
                    f"benchmarks: the reference's {rows} published rows loaded "
                    "(labellake bench run adds yours)"
                )

    ran = samples.run_demo(
        engine,
        batch_id=batch_id,
        clips=clips,
        frames=frames,
        history=history,
        if_empty=if_empty,
        actor=actor(),
        wait=lambda batch: wait_for(ctx, engine, batch),
        progress=report,
        backend=backend,
        other_backend=None if other_backend == "none" else other_backend,
    )
    if ran is None:
        click.echo(
            f"the home {settings.home} already holds batches; list them with: labellake batch show"
        )
