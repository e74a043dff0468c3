"""The labeling-effort model on the demo lake, and the wall time of an HPO search.

Builds (in --home, default a fresh temporary folder) the lake `make run` builds: the
demo batch and --history earlier batches, labeled by the simulated workforce. Then:

1. a TRAIN run with the default hyperparameters, and an HPO run of --trials trials
   followed by training its best: p95 absolute error and MAE on the held-out tasks,
   each beside the baseline that always predicts the training median (same rows);
2. the HPO's wall time (search, final training, registration and deployment), with
   the number of cores this process may use.

Run: .venv/bin/python benchmarks/models.py [--history 3] [--trials 30]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from labellake.portal.cli.main import main as labellake
from labellake.workflows.compose import model_workflow
from labellake.workflows.models.workflow import RunRequest


def build_lake(home: Path, history: int) -> None:
    try:
        labellake(["--home", str(home), "demo", "--batch-id", "demo1", "--history", str(history)])
    except SystemExit as done:
        if done.code:
            raise


def report(name: str, metrics: dict[str, float]) -> None:
    p95, base_p95 = metrics["p95_abs_error"], metrics["baseline_p95_abs_error"]
    mae, base_mae = metrics["mae"], metrics["baseline_mae"]
    print(
        f"{name:<28} p95 |err| {p95:8.1f} s (median baseline {base_p95:8.1f} s, "
        f"{base_p95 / p95:4.1f}x lower)   MAE {mae:7.1f} s (baseline {base_mae:7.1f} s, "
        f"{base_mae / mae:4.1f}x lower)   R2 {metrics['r2']:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--history", type=int, default=3)
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = args.home or Path(scratch) / "home"
        from labellake.settings import Settings
        from labellake.workflows.compose import open_home

        if not (home / "lake" / "worker_responses").exists():
            started = time.perf_counter()
            build_lake(home, args.history)
            took = time.perf_counter() - started
            print(f"demo lake with {args.history} earlier batches: {took:.1f} s")
        models = model_workflow(open_home(Settings(home=home)))
        data = models.dataset(RunRequest())
        print(
            f"labeling-effort dataset: {len(data.frame)} tasks, features {', '.join(data.features)}"
        )

        trained = models.describe(models.run(RunRequest(estimator="gradient_boosting")))
        report("TRAIN, default parameters", trained["metrics"])

        started = time.perf_counter()
        tuned = models.describe(
            models.run(RunRequest(model_name="labeling-effort-hpo", mode="HPO", trials=args.trials))
        )
        wall = time.perf_counter() - started
        report(f"HPO ({args.trials} trials), best", tuned["metrics"])
        print(f"  best: {tuned['params']}")
        cores = len(os.sched_getaffinity(0))
        print(
            f"HPO wall time, {args.trials} trials on {cores} cores: {wall:.1f} s "
            f"(search {tuned['metrics']['search_s']:.1f} s, "
            f"{tuned['metrics']['hpo_rows']} of {tuned['metrics']['training_rows']} training "
            f"rows per trial)"
        )


if __name__ == "__main__":
    main()
