"""A benchmark sweep: every runtime x precision x mode x batch size x worker count of one
model on one machine.

The rule: every configuration is checked before the first one starts, and a runtime and
precision this machine cannot run is skipped with the reason (bf16 on a CPU without bf16
instructions, say); each measured configuration is written to ``benchmark_results`` as
soon as it is done (the run's rows so far, replacing the run's file), so a stopped sweep
keeps what it measured. A configuration that cannot be measured is reported and the
sweep goes on.

Before the first configuration of each runtime and precision, its accuracy against fp32
eager is measured once on the same 1,000 sentences (``accuracy.py``) and goes on each of
its rows. The ONNX file, for runtime onnxruntime, is exported once per sweep into a
folder that goes with it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from labellake.etl.benchmarks import results_table
from labellake.lake import Lake
from labellake.workflows.benchmarks import accuracy, measure, onnx_export, prices
from labellake.workflows.benchmarks.measure import BenchError, Config, Measured


@dataclass(frozen=True)
class Sweep:
    """The planned run: its id, the machine it is named after and every configuration."""

    run_id: str
    model: str
    machine: str  # the instance name, else the device
    price_per_hour: float | None
    configs: list[Config]
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # precision, runtime, why


@dataclass(frozen=True)
class Step:
    """What the sweep is doing with one configuration: measuring it, or done with it."""

    config: Config
    stage: Literal["measuring", "measured", "failed", "accuracy"]
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
    """How a configuration is named in progress lines, e.g. 'intra_op batch 6 x 2', and
    'intra_op batch 6 x 2 int8 onnxruntime' beside fp32 under the default runtime."""
    name = f"{config.mode} batch {config.batch_size} x {config.workers}"
    if config.precision != "fp32" or config.runtime != "auto":
        name += f" {config.precision} {config.resolved_runtime}"
    return name


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
    runtimes: list[str] | None = None,
    precisions: list[str] | None = None,
    instance: str | None = None,
    price_per_hour: float | None = None,
) -> Sweep:
    """Every runtime x precision x mode x batch size x worker count, checked; an unknown
    model or a bad setting fails here, before anything starts, and a runtime and
    precision this machine cannot run is set aside with the reason. The price is the
    one given, else the price table's for ``instance``."""
    model = model or measure.DEFAULT_MODEL
    measure.model_path(model)
    device = resolve_device(device)
    price = prices.price_per_hour(instance, price_per_hour)
    configs = []
    skipped: list[tuple[str, str, str]] = []
    for runtime in runtimes or ["auto"]:
        for precision in precisions or ["fp32"]:
            planned = [
                Config(
                    model,
                    mode,
                    size,
                    count,
                    seq_len,
                    duration_s,
                    warmup_s,
                    device,
                    runtime=runtime,
                    precision=precision,
                )
                for mode in modes
                for size in batch_sizes
                for count in workers
            ]
            for config in planned:
                config.check()
            reasons = {}
            for config in planned:
                reason = measure.unsupported(config)
                if reason:
                    reasons.setdefault(config.resolved_runtime, reason)
                else:
                    configs.append(config)
            skipped += [(precision, name, why) for name, why in reasons.items()]
    return Sweep(measure.new_run_id(), model, instance or device, price, configs, skipped)


def run(
    sweep: Sweep,
    lake: Lake,
    *,
    stop: Callable[[], bool] = lambda: False,
    progress: Callable[[Step], None] = lambda step: None,
    accuracy_pass: bool = True,
) -> SweepResult:
    """Measure each configuration in turn until ``stop()``, writing the rows as they come;
    without ``accuracy_pass`` the rows carry no accuracy."""
    result = SweepResult()
    with tempfile.TemporaryDirectory(prefix="labellake-bench-") as folder:
        scores = Scores(measure.model_path(sweep.model), Path(folder))
        for config in sweep.configs:
            if stop():
                break
            try:
                if config.resolved_runtime == "onnxruntime":
                    config = replace(config, onnx_file=scores.onnx_file(config.precision))
                score = (
                    scores.of(config, lambda config=config: progress(Step(config, "accuracy")))
                    if accuracy_pass
                    else None
                )
                measured = measure.run_config(
                    config,
                    stop=stop,
                    on_measuring=lambda config=config: progress(Step(config, "measuring")),
                )
            except measure.BenchError as exc:
                result.failures += 1
                progress(Step(config, "failed", error=str(exc)))
                continue
            measured.accuracy = score
            result.rows.append(measured.row(sweep.run_id, sweep.machine, sweep.price_per_hour))
            lake.write("benchmark_results", sweep.run_id, results_table(result.rows))
            progress(Step(config, "measured", measured=measured))
    return result


class Scores:
    """What a sweep makes once, in this process: each precision's ONNX file, and each
    runtime and precision's accuracy against fp32 eager on the configuration's device.
    A failure is kept too, so the configurations after it fail at once, with the same
    reason."""

    def __init__(self, path: Path, folder: Path) -> None:
        self.path = path
        self.folder = folder
        self.texts = accuracy.sentences()
        self._reference: dict[tuple[str, int], Any] = {}
        self._scores: dict[tuple[str, str, str, int], accuracy.Accuracy | BenchError] = {}
        self._onnx: dict[str, str | BenchError] = {}

    def onnx_file(self, precision: str) -> str:
        if precision not in self._onnx:
            try:
                self._onnx[precision] = onnx_export.export(str(self.path), precision, self.folder)
            except BenchError as exc:
                self._onnx[precision] = exc
        return _or_raise(self._onnx[precision])

    def of(self, config: Config, starting: Callable[[], None]) -> accuracy.Accuracy:
        key = (config.device, config.precision, config.resolved_runtime, config.seq_len)
        if key not in self._scores:
            starting()
            try:
                reference = self._embed(
                    replace(config, runtime="eager", precision="fp32", onnx_file=None)
                )
                found = (
                    reference
                    if (config.precision, config.resolved_runtime) == ("fp32", "eager")
                    else self._embed(config)
                )
                self._scores[key] = accuracy.compare(reference, found)
            except BenchError as exc:
                self._scores[key] = exc
        return _or_raise(self._scores[key])

    def _embed(self, config: Config) -> Any:
        """Embeddings of the sentences as ``config`` runs the model (fp32 eager's kept)."""
        from transformers import AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()

        key = (config.device, config.seq_len)
        reference = config.precision == "fp32" and config.resolved_runtime == "eager"
        if reference and key in self._reference:
            return self._reference[key]
        tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        try:
            every_core = replace(config, mode="intra_op", workers=os.cpu_count() or 1)
            run, _ = measure.forward(every_core, str(self.path))
            found = accuracy.embeddings(run, tokenizer, self.texts, config.seq_len)
        except measure.BenchError:
            raise
        except Exception as exc:  # a runtime that cannot load or run the model: say which
            raise measure.BenchError(
                f"{config.precision} {config.resolved_runtime}: the accuracy run failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if reference:
            self._reference[key] = found
        return found


def _or_raise(value: Any) -> Any:
    if isinstance(value, BenchError):
        raise value
    return value
