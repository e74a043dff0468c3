"""Precision and runtime on this machine: int8 against fp32, onnxruntime against eager.

Runs the command users run,

    labellake bench run --precision fp32,int8 --runtime eager,onnxruntime
        --batch-sizes 1,8,32 --workers 1,2 --duration 10

(both modes, 48 configurations, about 17 minutes on two cores) into a fresh home, then
reads the rows back and prints, for every mode, batch size and worker count, the
throughput, the cost per 1M inferences and the accuracy (mean and worst cosine to fp32
eager on 1,000 sentences) of each precision and runtime, with the ratios int8 / fp32
(per runtime) and onnxruntime / eager (per precision), and their medians.

The cost needs a price: ``--price-per-hour`` (default 0.10264, the on-demand price of a
c7a.large in us-east-1 as listed in 2024: 2 vCPUs of an AMD EPYC with AVX-512, like the
machine the README's figures come from; check the current price before relying on it).

Run: .venv/bin/python benchmarks/precision_runtime.py [--duration 10] [--price-per-hour X]
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
            "fp32,int8",
            "--runtime",
            "eager,onnxruntime",
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
    by = {(r["mode"], r["batch_size"], r["workers"], r["precision"], r["runtime"]): r for r in rows}
    print(f"\n{len(rows)} rows; {rows[0]['environment'] if rows else ''}")
    print("\naccuracy against fp32 eager (1,000 sentences): mean / worst cosine")
    for precision, runtime in sorted({(r["precision"], r["runtime"]) for r in rows}):
        r = next(x for x in rows if (x["precision"], x["runtime"]) == (precision, runtime))
        mark = "" if r["accuracy_ok"] else "  BELOW 0.99"
        print(
            f"  {precision:<5} {runtime:<12} {r['accuracy_mean_cosine']:.4f} / "
            f"{r['accuracy_worst_cosine']:.4f}{mark}"
        )
    header = (
        f"\n{'mode':<14}{'batch':>6}{'wk':>4}"
        + "".join(f"{p + ' ' + rt:>22}" for p, rt in SETTINGS)
        + f"{'int8/fp32 eager':>17}{'int8/fp32 ort':>15}{'ort/eager fp32':>16}"
        + f"{'ort/eager int8':>16}"
    )
    print("\nsentences/s ($ per 1M inferences)" + header)
    ratios: dict[str, list[float]] = {name: [] for name in RATIOS}
    for mode, batch, workers in sorted({(r["mode"], r["batch_size"], r["workers"]) for r in rows}):
        cells, found = [], {}
        for precision, runtime in SETTINGS:
            r = by.get((mode, batch, workers, precision, runtime))
            found[(precision, runtime)] = r["throughput"] if r else None
            cells.append(
                f"{r['throughput']:>11.1f} (${r['cost_per_million']:.3f})" if r else f"{'-':>22}"
            )
        line = f"{mode:<14}{batch:>6}{workers:>4}" + "".join(f"{c:>22}" for c in cells)
        for name, (top, bottom) in RATIOS.items():
            if found[top] and found[bottom]:
                ratio = found[top] / found[bottom]
                ratios[name].append(ratio)
                line += f"{ratio:>15.2f}x"
            else:
                line += f"{'-':>16}"
        print(line)
    print("\nmedian ratios (throughput; the cost per 1M falls by the same factor)")
    for name, values in ratios.items():
        if values:
            print(
                f"  {name:<16} {statistics.median(values):.2f}x "
                f"(from {min(values):.2f}x to {max(values):.2f}x over {len(values)} configurations)"
            )


SETTINGS = [("fp32", "eager"), ("int8", "eager"), ("fp32", "onnxruntime"), ("int8", "onnxruntime")]
RATIOS = {
    "int8/fp32 eager": (("int8", "eager"), ("fp32", "eager")),
    "int8/fp32 ort": (("int8", "onnxruntime"), ("fp32", "onnxruntime")),
    "ort/eager fp32": (("fp32", "onnxruntime"), ("fp32", "eager")),
    "ort/eager int8": (("int8", "onnxruntime"), ("int8", "eager")),
}

if __name__ == "__main__":
    main()
