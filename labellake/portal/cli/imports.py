"""`labellake import`: videos, MOTChallenge folders, Ground Truth job outputs, and CVAT,
Label Studio and COCO exports."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import click

from labellake.portal.cli.common import (
    JobProgress,
    echo_json,
    echo_loads,
    home_of,
    parse_size,
    track_rows,
)

if TYPE_CHECKING:
    from labellake.etl.formats.loader import ExportFile
    from labellake.workflows.home import Home


@click.group("import")
def import_() -> None:
    """Bring clips into the object store (videos, MOTChallenge folders), and labels into the
    lake (Ground Truth job outputs, CVAT, Label Studio and COCO exports)."""


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
    from labellake.workflows.imports.video import import_videos

    imported = import_videos(home_of(ctx).objects, list(paths), dataset, stride, max_frames)
    echo_json({"inputManifestS3Uri": imported.manifest_uri, "clips": list(imported.clips)})


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
    from labellake.workflows.imports.mot import import_folders

    imported = import_folders(home_of(ctx).objects, list(folders), dataset, frames, stride)
    echo_json(
        {
            "inputManifestS3Uri": imported.manifest_uri,
            "labelCategoryConfigS3Uri": imported.label_config_uri,
            "clips": list(imported.clips),
        }
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
    from labellake.workflows.imports.groundtruth import find_outputs, load_jobs

    home = home_of(ctx)
    aws = home.settings.aws
    jobs = find_outputs(root, aws, job_name, maps)
    progress = JobProgress()
    loads = load_jobs(
        jobs, home.lake, aws=aws, force=force, track=progress.track, files=progress.files
    )
    echo_loads(loads)


def _export_command(fmt: str, title: str) -> click.Command:
    """`labellake import <fmt> PATH`: one export file of another tool, as one job."""

    @click.pass_context
    def command(
        ctx: click.Context,
        path: str,
        job_name: str | None,
        batch_id: str | None,
        force: bool,
    ) -> None:
        from labellake.etl.formats.loader import ExportFile, job_name_of

        export = ExportFile(path, fmt, job_name_of(path, job_name), batch_id)
        _load_export(home_of(ctx), export, force)

    command.__doc__ = f"Load a {title} export file into the lake as one job."
    params: list[click.Parameter] = [
        click.Argument(["path"]),
        click.Option(
            ["--job-name"], default=None, help="Name of the job in the lake (default: file name)."
        ),
        click.Option(["--batch-id"], default=None, help="Batch the job belongs to, if any."),
        click.Option(["--force"], is_flag=True, help="Reload the file even when it is unchanged."),
    ]
    return click.Command(fmt, callback=command, params=params, help=command.__doc__)


import_.add_command(_export_command("cvat", "CVAT for video 1.1 or CVAT for images 1.1 XML"))
import_.add_command(_export_command("coco", "COCO instances JSON"))


@import_.command("labelstudio")
@click.argument("path", required=False)
@click.option(
    "--url",
    default=None,
    help="Read the project from this Label Studio server instead of a file [default: the "
    "labelstudio_url setting, with --project].",
)
@click.option(
    "--project", default=None, type=click.IntRange(1), help="Id of the Label Studio project."
)
@click.option(
    "--job-name",
    default=None,
    help="Name of the job in the lake (default: the file name, or labelstudio-project-ID).",
)
@click.option("--batch-id", default=None, help="Batch the job belongs to, if any.")
@click.option("--force", is_flag=True, help="Reload even when the export is unchanged.")
@click.option(
    "--video-size",
    default=None,
    metavar="WxH",
    help="Frame size of the videos, where the export does not give it.",
)
@click.pass_context
def import_labelstudio(
    ctx: click.Context,
    path: str | None,
    url: str | None,
    project: int | None,
    job_name: str | None,
    batch_id: str | None,
    force: bool,
    video_size: str | None,
) -> None:
    """Load a Label Studio JSON export file, or a project's annotations straight from a
    Label Studio server (--project ID, with --url or the labelstudio_url setting and the
    labelstudio_token setting), into the lake as one job."""
    from labellake.etl.formats.loader import ExportFile, job_name_of
    from labellake.etl.staging import staging_folder
    from labellake.workflows.labeling.backends.labelstudio_client import LabelStudioClient

    home = home_of(ctx)
    size = parse_size("--video-size", video_size)
    if (path is None) == (project is None):
        raise click.UsageError("give an export file PATH, or --project ID (not both)")
    with contextlib.ExitStack() as stack:
        if path is not None:
            export = ExportFile(path, "labelstudio", job_name_of(path, job_name), batch_id)
        else:
            client = LabelStudioClient(
                url or home.settings.labelstudio_url, home.settings.labelstudio_token
            )
            source = f"{client.url}/projects/{project}"
            name = job_name_of(source, job_name or f"labelstudio-project-{project}")
            spool = stack.enter_context(staging_folder()) / f"project-{project}.json"
            with spool.open("wb") as out:
                client.export(project, out)  # type: ignore[arg-type]
            export = ExportFile(str(spool), "labelstudio", name, batch_id, source=source)
        _load_export(home, export, force, video_size=size)


def _load_export(home: Home, export: ExportFile, force: bool, **options: object) -> None:
    """Load one export as one job, with a progress counter, and print its reconciliation."""
    from labellake.etl.formats.loader import load_export
    from labellake.workflows.imports.groundtruth import JobLoads

    with track_rows(f"reading {export.job_name}") as progress:
        report = load_export(
            export, home.lake, aws=home.settings.aws, force=force, progress=progress, **options
        )
    echo_loads(JobLoads([report]))
