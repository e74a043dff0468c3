"""Benchmark rows: cost per 1M inferences and the reference's published rows."""

from __future__ import annotations

import pytest

from labellake import sql
from labellake.errors import LabellakeError
from labellake.etl import benchmarks
from labellake.lake import Lake, ObjectStore


@pytest.mark.parametrize(
    ("price", "throughput", "expected"),
    [(0.526, 149, 0.98), (1.904, 1793, 0.295), (None, 100, None), (1.0, 0, None)],
)
def test_cost_per_million(price: float | None, throughput: float, expected: float | None) -> None:
    cost = benchmarks.cost_per_million(price, throughput)
    assert cost == pytest.approx(expected, abs=0.005) if expected is not None else cost is None


def test_a_negative_price_is_refused() -> None:
    with pytest.raises(LabellakeError, match="cannot be negative"):
        benchmarks.cost_per_million(-1, 10)


def test_published_rows_reproduce_the_reference_ratios(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(ObjectStore.from_uri(str(tmp_path / "lake")), views=sql.views())
    lake.write("benchmark_results", benchmarks.PUBLISHED_RUN, benchmarks.published_table())
    rows = lake.query("SELECT * FROM benchmark_results").to_pylist()
    assert len(rows) == 10 and {r["source"] for r in rows} == {"published"}
    # The cost column implies one hourly price per instance (costs are given to the cent).
    prices: dict[str, list[float]] = {}
    for row in rows:
        prices.setdefault(row["device"], []).append(row["price_per_hour"])
    for device, implied in prices.items():
        assert max(implied) / min(implied) < 1.08, device
    ratios = {
        (r["device"], r["batch_size"], r["mode"]): r
        for r in lake.query("SELECT * FROM published_ratios").to_pylist()
    }
    best = ratios[("inf1.6xlarge", 1, "pipeline_parallel")]
    assert round(best["throughput_ratio"]) == 12  # "12x higher throughput"
    assert best["cost_ratio"] == pytest.approx(0.98 / 0.30)
    assert ratios[("inf1.6xlarge", 6, "data_parallel")]["baseline_batch_size"] == 64


def test_measured_rows_without_a_price_cost_null() -> None:
    table = benchmarks.results_table(
        [{"run_id": "r", "source": "measured", "throughput": 50.0, "price_per_hour": None}]
    )
    assert table.column("cost_per_million").to_pylist() == [None]
    priced = benchmarks.results_table(
        [{"run_id": "r", "source": "measured", "throughput": 50.0, "price_per_hour": 0.18}]
    )
    assert priced.column("cost_per_million")[0].as_py() == pytest.approx(1.0)
