"""Model-serving benchmark results -> `benchmark_results` rows, measured or published.

Cost per 1M inferences = price per hour / (throughput x 3600) x 1e6; with no known
price it is NULL, never 0.

The published rows are the reference comparison of AWS Inferentia and GPU
deployments of bert-base-uncased at sequence length 128, as the AWS Machine
Learning Blog post "Achieve 12x higher throughput and lowest latency for PyTorch
Natural Language Processing applications out-of-the-box on AWS Inferentia" reports
them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from labellake.errors import LabellakeError
from labellake.lake import get_table

REFERENCE = (
    "AWS Machine Learning Blog: Achieve 12x higher throughput and lowest latency for "
    "PyTorch Natural Language Processing applications out-of-the-box on AWS Inferentia"
)
PUBLISHED_RUN = "published-inferentia-bert-base"
BASELINE_DEVICE = "g4dn.xlarge"

# instance, batch, mode, NeuronCores per model, sentences/s, p95 latency (s), $ per 1M
PUBLISHED = (
    ("inf1.xlarge", 1, "data_parallel", 1, 245, 0.0165, 0.42),
    ("inf1.xlarge", 1, "pipeline_parallel", 4, 291, 0.0138, 0.35),
    ("inf1.6xlarge", 1, "data_parallel", 1, 974, 0.0166, 0.54),
    ("inf1.6xlarge", 1, "pipeline_parallel", 16, 1793, 0.0069, 0.30),
    ("g4dn.xlarge", 1, None, None, 149, 0.0082, 0.98),
    ("inf1.xlarge", 6, "data_parallel", 1, 985, 0.0249, 0.10),
    ("inf1.xlarge", 6, "pipeline_parallel", 4, 945, 0.0259, 0.11),
    ("inf1.6xlarge", 6, "data_parallel", 1, 3880, 0.0258, 0.14),
    ("inf1.6xlarge", 6, "pipeline_parallel", 16, 2302, 0.0310, 0.23),
    ("g4dn.xlarge", 64, None, None, 422, 0.1533, 0.35),
)


def cost_per_million(price_per_hour: float | None, throughput: float | None) -> float | None:
    """USD per 1M inferences, or None when the price or the throughput is unknown.

    >>> round(cost_per_million(0.526, 149), 2)
    0.98
    >>> cost_per_million(None, 149) is None
    True
    """
    if price_per_hour is None or not throughput or throughput <= 0:
        return None
    if price_per_hour < 0:
        raise LabellakeError(f"price per hour {price_per_hour}: a price cannot be negative")
    return price_per_hour / (throughput * 3600) * 1e6


def published_rows() -> list[dict[str, Any]]:
    """The reference's ten rows. Its cost column implies each instance's hourly price
    (cost x throughput x 3600 / 1e6), kept beside it."""
    rows = []
    for device, batch, mode, cores, throughput, p95, cost in PUBLISHED:
        rows.append(
            {
                "run_id": PUBLISHED_RUN,
                "source": "published",
                "model": "bert-base-uncased",
                "device": device,
                "mode": mode or "gpu",
                "batch_size": batch,
                "workers": cores,
                "seq_len": 128,
                "throughput": float(throughput),
                "latency_p95": p95,
                "price_per_hour": round(cost * throughput * 3600 / 1e6, 3),
                "cost_per_million": cost,
                "backend": "neuron" if device.startswith("inf1") else "gpu",
                "status": "complete",
                "reference": REFERENCE,
                "measured_at": None,  # the post gives no date per row
            }
        )
    return rows


def results_table(rows: Iterable[dict[str, Any]]) -> pa.Table:
    """`benchmark_results` rows; measured ones get their cost from their price."""
    shaped = []
    for row in rows:
        row = dict(row)
        if row.get("source") == "measured" and row.get("cost_per_million") is None:
            row["cost_per_million"] = cost_per_million(row.get("price_per_hour"), row["throughput"])
        if isinstance(row.get("environment"), dict):
            row["environment"] = json.dumps(row["environment"], sort_keys=True)
        row.setdefault("measured_at", dt.datetime.now(dt.UTC))
        shaped.append(row)
    return pa.Table.from_pylist(shaped, schema=get_table("benchmark_results").schema)


def published_table() -> pa.Table:
    return results_table(published_rows())
