"""`labellake bench`: model-serving benchmarks, measured here or published."""

from __future__ import annotations

import threading

import click

from labellake.errors import LabellakeError
from labellake.portal.cli.common import home_of
from labellake.portal.supervisor import stop_on_signals
from labellake.workflows.benchmarks.accuracy import FLOOR, Accuracy


@click.group()
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


def _name_list(option: str, text: str, allowed: tuple[str, ...]) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    wrong = [name for name in names if name not in allowed]
    if not names or wrong:
        raise LabellakeError(
            f"{option} {text}: use one or more of {', '.join(allowed)}, separated by commas"
        )
    return list(dict.fromkeys(names))


def _accuracy(found: Accuracy | None) -> str:
    if found is None:
        return ""
    mark = "" if found.ok else f" BELOW {FLOOR}"
    return f", cosine to fp32 eager {found.mean:.4f} (worst {found.worst:.4f}){mark}"


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
    "--runtime",
    "runtimes",
    default="auto",
    show_default=True,
    help="Comma-separated: eager, compile (torch.compile; CUDA graphs on CUDA), onnxruntime "
    "(the model exported to ONNX), auto (compile for batches of 8 or fewer on CUDA, else "
    "eager).",
)
@click.option(
    "--precision",
    "precisions",
    default="fp32",
    show_default=True,
    help="Comma-separated: fp32, bf16, int8 (CPU: dynamic quantization), fp16 (CUDA). A "
    "precision this machine cannot run is skipped with the reason.",
)
@click.option(
    "--accuracy/--no-accuracy",
    default=True,
    show_default=True,
    help="Measure each precision and runtime's accuracy against fp32 eager (1,000 "
    "sentences, once per precision and runtime).",
)
@click.option("--backend", "backend", default=None, hidden=True, help="Old name of --runtime.")
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
    runtimes: str,
    precisions: str,
    accuracy: bool,
    backend: str | None,
) -> None:
    """Measure transformer inference for every batch size, worker count and mode, and
    write the rows to benchmark_results as they come (a stopped run keeps them)."""
    from labellake.workflows.benchmarks import measure, sweep

    home = home_of(ctx)
    planned = sweep.plan(
        model,
        [m.strip() for m in modes.split(",") if m.strip()],
        _int_list("--batch-sizes", batch_sizes),
        _int_list("--workers", workers),
        seq_len=seq_len,
        duration_s=duration,
        warmup_s=warmup,
        device=device,
        runtimes=_name_list(
            "--backend" if backend else "--runtime", backend or runtimes, measure.RUNTIMES
        ),
        precisions=_name_list("--precision", precisions, measure.PRECISIONS),
        instance=instance,
        price_per_hour=price_per_hour,
    )
    click.echo(
        f"{planned.run_id}: {len(planned.configs)} configuration(s) of {planned.model} "
        f"on {planned.machine}",
        err=True,
    )
    for precision, runtime, reason in planned.skipped:
        click.echo(f"{precision} {runtime}: skipped: {reason}", err=True)

    def report(step: sweep.Step) -> None:
        label = sweep.label(step.config)
        if step.stage == "accuracy":
            click.echo(
                f"{step.config.precision} {step.config.resolved_runtime}: accuracy against "
                "fp32 eager on 1,000 sentences",
                err=True,
            )
        elif step.stage == "measuring":
            click.echo(f"{label}: measuring", err=True)
        elif step.stage == "failed":
            click.echo(f"{label}: error: {step.error}", err=True)
        elif step.measured is not None:
            measured = step.measured
            p95 = measured.percentile(0.95)
            click.echo(
                f"{label}: {measured.throughput:.1f} sentences/s "
                f"(+-{measured.spread or 0:.1f}), p95 {p95 * 1000 if p95 else 0:.1f} ms, "
                f"overhead {measured.overhead_share:.2%}, {measured.status}"
                + _accuracy(measured.accuracy)
            )

    stop = threading.Event()
    with stop_on_signals(stop):
        result = sweep.run(
            planned, home.lake, stop=stop.is_set, progress=report, accuracy_pass=accuracy
        )
    click.echo(f"{len(result.rows)} row(s) written to benchmark_results as run {planned.run_id}")
    if result.nothing_measured or not planned.configs:
        raise LabellakeError("no configuration could be measured; see the errors above")


@bench.command("published")
@click.pass_context
def bench_published(ctx: click.Context) -> None:
    """Load the reference's published Inferentia and GPU rows (source = published)."""
    from labellake.etl.benchmarks import PUBLISHED_RUN, published_table

    table = published_table()
    home_of(ctx).lake.write("benchmark_results", PUBLISHED_RUN, table)
    click.echo(f"{table.num_rows} published rows written to benchmark_results")
