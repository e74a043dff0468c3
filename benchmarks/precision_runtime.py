"""Precision and runtime on this machine: int8 against fp32, onnxruntime against eager.

Runs the command users run,

    labellake bench run --precision fp32,int8 --runtime eager,onnxruntime
        --batch-sizes 1,8,32 --workers 1,2 --duration 10

(both modes, 48 configurations, about 17 minutes on two cores; ``--precisions`` and
``--runtimes`` change the first two lists) into a fresh home, then reads the rows back
and prints, for every mode, batch size and worker count, the throughput and the cost
per 1M inferences of each precision and runtime, their accuracy (mean and worst cosine
to fp32 eager on 1,000 sentences), and the ratios of each precision to fp32 under the
same runtime and of each runtime to eager in the same precision, with their medians.

The cost needs a price: ``--price-per-hour`` (default 0.10264, the on-demand price of a
c7a.large in us-east-1 as listed in 2024: 2 vCPUs of an AMD EPYC with AVX-512, like the
machine the README's figures come from; check the current price before relying on it).

Run: .venv/bin/python benchmarks/precision_runtime.py [--duration 10] [--price-per-hour X]
     [--precisions fp32,bf16] [--runtimes eager]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from labellake.settings import Settings
from labellake.workflows.compose import open_home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--price-per-hour", type=float, default=0.10264)
    parser.add_argument("--precisions", default="fp32,int8")
    parser.add_argument("--runtimes", default="eager,onnxruntime")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        command = [
            sys.executable,
            "-m",
            "labellake.portal.cli",
            "--home",
            str(home),
            "bench",
            "run",
            "--precision",
            args.precisions,
            "--runtime",
            args.runtimes,
            "--batch-sizes",
            args.batch_sizes,
            "--workers",
            args.workers,
            "--duration",
            str(args.duration),
            "--price-per-hour",
            str(args.price_per_hour),
        ]
        print("$ labellake " + " ".join(command[5:]), flush=True)
        subprocess.run(command, check=True)
        rows = (
            open_home(Settings(home=home), create=False)
            .lake.query(
                "SELECT mode, batch_size, workers, precision, runtime, throughput, "
                "cost_per_million, accuracy_mean_cosine, accuracy_worst_cosine, accuracy_ok, "
                "environment FROM benchmark_results"
            )
            .to_pylist()
        )
    report(rows)


def report(rows: list[dict]) -> None:
    settings = sorted(
        {(r["precision"], r["runtime"]) for r in rows},
        key=lambda pr: (RUNTIMES.index(pr[1]), PRECISIONS.index(pr[0])),
    )
    # Each other precision against fp32 under the same runtime, each other runtime
    # against eager in the same precision.
    ratios = {
        f"{p}/fp32 {rt}": ((p, rt), ("fp32", rt))
        for p, rt in settings
        if p != "fp32" and ("fp32", rt) in settings
    } | {
        f"{rt}/eager {p}": ((p, rt), (p, "eager"))
        for p, rt in settings
        if rt != "eager" and (p, "eager") in settings
    }
    by = {(r["mode"], r["batch_size"], r["workers"], r["precision"], r["runtime"]): r for r in rows}
    print(f"\n{len(rows)} rows; {rows[0]['environment'] if rows else ''}")
    print("\naccuracy against fp32 eager (1,000 sentences): mean / worst cosine")
    for precision, runtime in settings:
        r = next(x for x in rows if (x["precision"], x["runtime"]) == (precision, runtime))
        mark = "" if r["accuracy_ok"] else "  BELOW 0.99"
        print(
            f"  {precision:<5} {runtime:<12} {r['accuracy_mean_cosine']:.4f} / "
            f"{r['accuracy_worst_cosine']:.4f}{mark}"
        )
    header = (
        f"\n{'mode':<14}{'batch':>6}{'wk':>4}"
        + "".join(f"{p + ' ' + rt:>22}" for p, rt in settings)
        + "".join(f"{name:>22}" for name in ratios)
    )
    print("\nsentences/s ($ per 1M inferences)" + header)
    found_ratios: dict[str, list[float]] = {name: [] for name in ratios}
    for mode, batch, workers in sorted({(r["mode"], r["batch_size"], r["workers"]) for r in rows}):
        line = f"{mode:<14}{batch:>6}{workers:>4}"
        for precision, runtime in settings:
            r = by.get((mode, batch, workers, precision, runtime))
            cost = f"${r['cost_per_million']:.3f}" if r and r["cost_per_million"] else "-"
            line += f"{r['throughput']:>13.1f} ({cost})" if r else f"{'-':>22}"
        for name, (top, bottom) in ratios.items():
            a, b = by.get((mode, batch, workers, *top)), by.get((mode, batch, workers, *bottom))
            if a and b:
                found_ratios[name].append(a["throughput"] / b["throughput"])
                line += f"{found_ratios[name][-1]:>21.2f}x"
            else:
                line += f"{'-':>22}"
        print(line)
    print("\nmedian ratios (throughput; the cost per 1M falls by the same factor)")
    for name, values in found_ratios.items():
        if values:
            print(
                f"  {name:<22} {statistics.median(values):.2f}x "
                f"(from {min(values):.2f}x to {max(values):.2f}x over {len(values)} configurations)"
            )


PRECISIONS = ["fp32", "bf16", "fp16", "int8"]
RUNTIMES = ["eager", "compile", "onnxruntime"]

if __name__ == "__main__":
    main()
