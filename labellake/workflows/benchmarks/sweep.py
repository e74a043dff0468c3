"""A benchmark sweep: every mode x batch size x worker count of one model on one machine.

The rule: every configuration is checked before the first one starts; each measured
configuration is written to ``benchmark_results`` as soon as it is done (the run's rows
so far, replacing the run's file), so a stopped sweep keeps what it measured. A
configuration that cannot be measured is reported and the sweep goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from labellake.etl.benchmarks import results_table
from labellake.lake import Lake
from labellake.workflows.benchmarks import measure, prices
from labellake.workflows.benchmarks.measure import Config, Measured


@dataclass(frozen=True)
class Sweep:
    """The planned run: its id, the machine it is named after and every configuration."""

    run_id: str
    model: str
    machine: str  # the instance name, else the device
    price_per_hour: float | None
    configs: list[Config]


@dataclass(frozen=True)
class Step:
    """What the sweep is doing with one configuration: measuring it, or done with it."""

    config: Config
    stage: Literal["measuring", "measured", "failed"]
    measured: Measured | None = None
    error: str | None = None


@dataclass
class SweepResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: int = 0

    @property
    def nothing_measured(self) -> bool:
        """Every configuration failed (a sweep stopped before its first one did not)."""
        return bool(self.failures) and not self.rows


def label(config: Config) -> str:
    """How a configuration is named in progress lines, e.g. 'intra_op batch 6 x 2'."""
    return f"{config.mode} batch {config.batch_size} x {config.workers}"


def resolve_device(device: str) -> str:
    """``auto`` is CUDA where torch sees a CUDA device, else the CPU."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def plan(
    model: str | None,
    modes: list[str],
    batch_sizes: list[int],
    workers: list[int],
    *,
    seq_len: int,
    duration_s: float,
    warmup_s: float,
    device: str,
    backend: str,
    instance: str | None = None,
    price_per_hour: float | None = None,
) -> Sweep:
    """Every mode x batch size x worker count, checked; an unknown model or a bad setting
    fails here, before anything starts. The price is the one given, else the price
    table's for ``instance``."""
    model = model or measure.DEFAULT_MODEL
    measure.model_path(model)
    device = resolve_device(device)
    price = prices.price_per_hour(instance, price_per_hour)
    configs = [
        Config(model, mode, size, count, seq_len, duration_s, warmup_s, device, backend)
        for mode in modes
        for size in batch_sizes
        for count in workers
    ]
    for config in configs:
        config.check()
    return Sweep(measure.new_run_id(), model, instance or device, price, configs)


def run(
    sweep: Sweep,
    lake: Lake,
    *,
    stop: Callable[[], bool] = lambda: False,
    progress: Callable[[Step], None] = lambda step: None,
) -> SweepResult:
    """Measure each configuration in turn until ``stop()``, writing the rows as they come."""
    result = SweepResult()
    for config in sweep.configs:
        if stop():
            break
        try:
            measured = measure.run_config(
                config,
                stop=stop,
                on_measuring=lambda config=config: progress(Step(config, "measuring")),
            )
        except measure.BenchError as exc:
            result.failures += 1
            progress(Step(config, "failed", error=str(exc)))
            continue
        result.rows.append(measured.row(sweep.run_id, sweep.machine, sweep.price_per_hour))
        lake.write("benchmark_results", sweep.run_id, results_table(result.rows))
        progress(Step(config, "measured", measured=measured))
    return result
