"""Benchmarks: model-serving throughput, latency and cost, published and measured, and
each configuration's ratio to a chosen baseline."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from labellake.portal import charts, data, ready

st.title("Benchmarks")
rows = data.query("dashboards/benchmark_rows")
if rows.empty:
    st.info(
        "No benchmark results yet. Load the reference's published rows with "
        "`labellake bench published`, and measure this machine with `labellake bench run` "
        "(needs the bench extra: `pip install -e '.[bench]'`)."
    )
    ready.stop()

filters = st.columns(6)
sources = filters[0].multiselect("Source", sorted(rows["source"].unique()), default=None)
models = filters[1].multiselect("Model", sorted(rows["model"].dropna().unique()))
devices = filters[2].multiselect("Device", sorted(rows["device"].dropna().unique()))
modes = filters[3].multiselect("Mode", sorted(rows["mode"].dropna().unique()))
precisions = filters[4].multiselect("Precision", sorted(rows["precision"].dropna().unique()))
runtimes = filters[5].multiselect("Runtime", sorted(rows["runtime"].dropna().unique()))
shown = rows
for column, chosen in (
    ("source", sources),
    ("model", models),
    ("device", devices),
    ("mode", modes),
    ("precision", precisions),
    ("runtime", runtimes),
):
    if chosen:
        shown = shown[shown[column].isin(chosen)]
if shown.empty:
    st.caption("No rows match these filters.")
    ready.stop()

left, right = st.columns(2)
with left:
    st.subheader("Throughput against p95 latency")
    st.altair_chart(charts.benchmark_scatter(shown), width="stretch")
with right:
    st.subheader("Cost per 1M inferences")
    if shown["cost_per_million"].notna().any():
        st.altair_chart(charts.benchmark_cost(shown), width="stretch")
    else:
        st.caption("No price known for these rows: give --price-per-hour to `bench run`.")

st.subheader("Cost per 1M inferences against accuracy")
if (shown["cost_per_million"].notna() & shown["accuracy_mean_cosine"].notna()).any():
    st.altair_chart(charts.benchmark_accuracy(shown), width="stretch")
    low = shown[shown["accuracy_ok"].eq(False)]
    if not low.empty:
        settings = sorted({f"{r.precision} {r.runtime}" for r in low.itertuples()})
        st.warning(
            f"Below 0.99 mean cosine to fp32 eager: {', '.join(settings)}. Their embeddings "
            "differ enough to change what a model built on them does; check before choosing."
        )
else:
    st.caption(
        "Accuracy is measured by `labellake bench run` (the mean cosine of each precision "
        "and runtime's sentence embeddings to fp32 eager's); it needs a price too "
        "(--price-per-hour or --instance)."
    )

st.subheader("Ratio to a baseline")
labels = {
    r.Index: f"{r.source} · {r.device} · {r.mode} · batch {r.batch_size} · "
    + ("-" if pd.isna(r.workers) else f"{int(r.workers)} workers")
    + ("" if pd.isna(r.precision) else f" · {r.precision} {r.runtime}")
    for r in shown.itertuples()
}
default = next(
    (r.Index for r in shown.itertuples() if r.device == "g4dn.xlarge" and r.batch_size == 1),
    next(iter(labels)),
)
baseline_index = st.selectbox(
    "Baseline", list(labels), index=list(labels).index(default), format_func=labels.get
)
baseline = shown.loc[baseline_index]
ratios = shown.assign(
    throughput_ratio=shown["throughput"] / baseline["throughput"],
    latency_ratio=shown["latency_p95"] / baseline["latency_p95"],
    cost_ratio=baseline["cost_per_million"] / shown["cost_per_million"],
)
st.caption(
    "throughput_ratio: times the baseline's throughput; cost_ratio: times cheaper per 1M "
    "inferences than the baseline (empty where a price is unknown)."
)
st.dataframe(
    ratios[
        [
            "source",
            "model",
            "device",
            "mode",
            "precision",
            "runtime",
            "batch_size",
            "workers",
            "throughput",
            "throughput_spread",
            "latency_p50",
            "latency_p95",
            "latency_p99",
            "cost_per_million",
            "accuracy_mean_cosine",
            "accuracy_worst_cosine",
            "accuracy_ok",
            "throughput_ratio",
            "latency_ratio",
            "cost_ratio",
            "status",
            "run_id",
        ]
    ],
    width="stretch",
    hide_index=True,
)
