"""`labellake documents`: paragraphs and their sentiment, from PDFs or Textract JSON."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from labellake.errors import LabellakeError
from labellake.portal.cli.common import home_of, settings_of
from labellake.portal.supervisor import stop_on_signals

if TYPE_CHECKING:
    from labellake.workflows.documents.pipeline import Options, Outcome

F = TypeVar("F", bound=Callable[..., Any])


@click.group()
def documents() -> None:
    """Document insights: paragraphs and their sentiment, from PDFs or Textract JSON."""


def _document_options(
    ctx: click.Context, technique: str, sentiment: str, detection: str, force: bool
) -> Options:
    from labellake.workflows.documents.pipeline import Options

    aws = settings_of(ctx).aws
    options = Options(technique, sentiment, detection, force, aws=aws)
    options.check()
    if detection == "textract" or sentiment == "comprehend":
        import boto3

        client_args = {"region_name": aws.region, "endpoint_url": aws.endpoint_url}
        if detection == "textract":
            options.textract = boto3.client("textract", **client_args)
        if sentiment == "comprehend":
            options.comprehend = boto3.client("comprehend", **client_args)
    return options


def _document_flags(command: F) -> F:
    from labellake.etl.paragraphs import TECHNIQUES
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


def _echo_outcome(outcome: Outcome) -> None:
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

    home = home_of(ctx)
    options = _document_options(ctx, technique, sentiment, detection, force)
    sources = find_sources(targets, aws=options.aws)
    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task("ingesting", total=len(sources))

        def advance(outcome: Outcome) -> None:
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

    home = home_of(ctx)
    options = _document_options(ctx, technique, sentiment, detection, force)
    stop = threading.Event()
    click.echo(f"watching {home.objects.uri(INBOX)} (Ctrl-C stops)", err=True)
    with stop_on_signals(stop):
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
    from labellake.workflows.samples.demo import SAMPLE_DOCUMENTS, write_sample_documents

    home = home_of(ctx)
    if out is None:
        if not home.objects.is_local:
            raise LabellakeError("--out: give a local folder (the object store is not local)")
        out = Path(home.objects.path(SAMPLE_DOCUMENTS))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabellakeError(f"--out {out}: cannot create it ({exc.strerror})") from exc
    written = write_sample_documents(out, docs)
    click.echo(f"{written} PDF(s) in {out}; ingest them with: labellake documents ingest {out}")
