"""Every chart of the portal: pure functions from a DataFrame to an Altair chart."""

from __future__ import annotations

import altair as alt
import pandas as pd

STATUS_COLOURS = {
    "COMPLETE": "#2e7d32",
    "IN_PROGRESS": "#1565c0",
    "WAIT_FOR_SMGT_RESPONSE": "#1565c0",
    "PENDING": "#9e9e9e",
    "STOPPED": "#f9a825",
    "INTERNAL_ERROR": "#c62828",
    "VALIDATION_FAIL": "#c62828",
}


# The auditors' pass rate, red (0) to green (1), on every chart that shows it.
PASS_RATE = alt.Color(
    "pass_rate:Q", title="pass rate", scale=alt.Scale(domain=[0, 1], scheme="redyellowgreen")
)


def batch_status(counts: pd.DataFrame) -> alt.Chart:
    """Bars of batches per status (columns status, batches)."""
    return (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("batches:Q", title="batches"),
            y=alt.Y("status:N", sort="-x", title=None),
            color=alt.Color(
                "status:N",
                legend=None,
                scale=alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values())),
            ),
            tooltip=["status", "batches"],
        )
    )


def objects_per_day(daily: pd.DataFrame) -> alt.Chart:
    """Stacked bars of data objects labeled per day and job (day, job_name, objects)."""
    return (
        alt.Chart(daily)
        .mark_bar()
        .encode(
            x=alt.X("day:T", title="day"),
            y=alt.Y("objects:Q", title="data objects labeled"),
            color=alt.Color("job_name:N", title="job"),
            tooltip=["day:T", "job_name", "objects"],
        )
    )


def histogram(
    bins: pd.DataFrame, value: str, count: str, value_title: str, colour: str | None = None
) -> alt.Chart:
    """Bars of pre-binned counts (the binning happens in SQL)."""
    encoding = {
        "x": alt.X(f"{value}:Q", title=value_title),
        "y": alt.Y(f"{count}:Q", title=count),
        "tooltip": [value, count] + ([colour] if colour else []),
    }
    if colour:
        encoding["color"] = alt.Color(f"{colour}:N")
    return alt.Chart(bins).mark_bar().encode(**encoding)


def throughput(daily: pd.DataFrame) -> alt.Chart:
    """Lines of tasks per day per worker (worker, day, tasks, hours)."""
    return (
        alt.Chart(daily)
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title="day"),
            y=alt.Y("tasks:Q", title="tasks submitted"),
            color=alt.Color("worker:N", title="worker"),
            tooltip=["worker", "day:T", "tasks", alt.Tooltip("hours:Q", format=".1f")],
        )
    )


def leaderboard(performance: pd.DataFrame) -> alt.Chart:
    """Workers (column worker) by objects labeled, coloured by the auditors' pass rate."""
    return (
        alt.Chart(performance)
        .mark_bar()
        .encode(
            x=alt.X("objects_labeled:Q", title="objects labeled"),
            y=alt.Y("worker:N", sort="-x", title=None),
            color=PASS_RATE,
            tooltip=[
                "worker",
                "job_name",
                "tasks",
                "objects_labeled",
                "pass_rate",
                "mean_iou_shift",
            ],
        )
    )


def teams(performance: pd.DataFrame) -> alt.LayerChart:
    """Work teams by hours worked, coloured by the auditors' pass rate (team_performance);
    grey where no audit checked the team's work."""
    tooltip = [
        "team",
        "workers",
        "tasks",
        alt.Tooltip("hours:Q", format=".1f"),
        alt.Tooltip("median_seconds_per_task:Q", format=".0f"),
        "objects_labeled",
        alt.Tooltip("share_unchanged:Q", format=".2f"),
        alt.Tooltip("mean_iou_shift:Q", format=".3f"),
        alt.Tooltip("pass_rate:Q", format=".2f"),
    ]
    base = alt.Chart(performance).encode(
        x=alt.X("hours:Q", title="hours worked"),
        y=alt.Y("team:N", sort="-x", title=None),
        tooltip=tooltip,
    )
    # Bars with no pass rate would be dropped by the colour scale: draw every team in
    # grey, then colour those an audit judged.
    unjudged = base.mark_bar(color="#9e9e9e")
    judged = base.mark_bar().encode(color=PASS_RATE)
    return alt.layer(unjudged, judged)


def findings_by_check(findings: pd.DataFrame) -> alt.Chart:
    """Bars of QA findings per check, stacked by job (job_name, check_name, findings)."""
    return (
        alt.Chart(findings)
        .mark_bar()
        .encode(
            x=alt.X("findings:Q", title="findings"),
            y=alt.Y("check_name:N", sort="-x", title=None),
            color=alt.Color("job_name:N", title="job"),
            tooltip=["job_name", "check_name", "findings", "data_objects"],
        )
    )


SENTIMENT_COLOURS = {
    "POSITIVE": "#2e7d32",
    "NEGATIVE": "#c62828",
    "NEUTRAL": "#9e9e9e",
    "MIXED": "#f9a825",
}
# A sentiment label (in a field named kind) coloured the same on every chart.
SENTIMENT_KIND = alt.Color(
    "kind:N",
    title="sentiment",
    scale=alt.Scale(domain=list(SENTIMENT_COLOURS), range=list(SENTIMENT_COLOURS.values())),
)


def document_sentiment(listing: pd.DataFrame) -> alt.Chart:
    """Each document's four sentiment scores as a stacked bar (the document list)."""
    names = {
        "score_positive": "POSITIVE",
        "score_negative": "NEGATIVE",
        "score_neutral": "NEUTRAL",
        "score_mixed": "MIXED",
    }
    return (
        alt.Chart(listing[["doc_id", "sentiment", *names]])
        .transform_fold(list(names), as_=["score", "value"])
        .transform_calculate(kind="upper(replace(datum.score, 'score_', ''))")
        .mark_bar()
        .encode(
            x=alt.X("value:Q", title="share of the text", stack="normalize"),
            y=alt.Y("doc_id:N", title=None),
            color=SENTIMENT_KIND,
            tooltip=["doc_id", "sentiment", "kind:N", alt.Tooltip("value:Q", format=".2f")],
        )
    )


def header_sentiment(headers: pd.DataFrame) -> alt.Chart:
    """Paragraphs per header by their sentiment (header_sentiment view, one document)."""
    kinds = {"positive": "POSITIVE", "negative": "NEGATIVE", "neutral": "NEUTRAL", "mixed": "MIXED"}
    return (
        alt.Chart(headers[["header", "first_paragraph", "sentiment", *kinds]])
        .transform_fold(list(kinds), as_=["count_of", "paragraphs"])
        .transform_calculate(kind="upper(datum.count_of)")
        .mark_bar()
        .encode(
            x=alt.X("paragraphs:Q", title="paragraphs"),
            y=alt.Y("header:N", title=None, sort=alt.SortField("first_paragraph")),
            color=SENTIMENT_KIND,
            tooltip=["header", "sentiment", "kind:N", "paragraphs:Q"],
        )
    )


def benchmark_scatter(rows: pd.DataFrame) -> alt.Chart:
    """Throughput against p95 latency, one point per configuration (benchmark_rows)."""
    columns = ["source", "model", "device", "mode", "batch_size", "workers", "throughput"]
    columns += ["latency_p95", "cost_per_million"]
    return (
        alt.Chart(rows[columns])
        .mark_point(filled=True, size=90)
        .encode(
            x=alt.X(
                "latency_p95:Q", title="p95 latency per request (s)", scale=alt.Scale(type="log")
            ),
            y=alt.Y("throughput:Q", title="throughput (sentences/s)", scale=alt.Scale(type="log")),
            color=alt.Color("device:N", title="device"),
            shape=alt.Shape("source:N", title="source"),
            tooltip=[
                "source",
                "model",
                "device",
                "mode",
                "batch_size",
                "workers",
                alt.Tooltip("throughput:Q", format=".1f"),
                alt.Tooltip("latency_p95:Q", format=".4f"),
                alt.Tooltip("cost_per_million:Q", format="$.2f"),
            ],
        )
    )


def benchmark_accuracy(rows: pd.DataFrame) -> alt.Chart:
    """Cost per 1M inferences against accuracy (mean cosine to fp32 eager), one point per
    measured configuration with both; the 0.99 floor drawn across."""
    columns = ["device", "precision", "runtime", "mode", "batch_size", "workers"]
    columns += ["cost_per_million", "accuracy_mean_cosine", "accuracy_worst_cosine"]
    known = rows.loc[
        rows["cost_per_million"].notna() & rows["accuracy_mean_cosine"].notna(), columns
    ].assign(setting=lambda f: f["precision"].fillna("?") + " " + f["runtime"].fillna("?"))
    points = (
        alt.Chart(known)
        .mark_point(filled=True, size=90)
        .encode(
            x=alt.X(
                "accuracy_mean_cosine:Q",
                title="mean cosine to fp32 eager",
                scale=alt.Scale(zero=False),
            ),
            y=alt.Y(
                "cost_per_million:Q", title="USD per 1M inferences", scale=alt.Scale(type="log")
            ),
            color=alt.Color("setting:N", title="precision and runtime"),
            shape=alt.Shape("device:N", title="device"),
            tooltip=[
                *columns[:6],
                alt.Tooltip("cost_per_million:Q", format="$.3f"),
                alt.Tooltip("accuracy_mean_cosine:Q", format=".4f"),
                alt.Tooltip("accuracy_worst_cosine:Q", format=".4f"),
            ],
        )
    )
    floor = (
        alt.Chart(pd.DataFrame({"floor": [0.99]})).mark_rule(strokeDash=[4, 4]).encode(x="floor:Q")
    )
    return points + floor


def benchmark_cost(rows: pd.DataFrame) -> alt.Chart:
    """Cost per 1M inferences per configuration; rows with no known price are left out."""
    columns = ["source", "device", "mode", "batch_size", "workers", "cost_per_million"]
    priced = rows.loc[rows["cost_per_million"].notna(), [*columns, "price_per_hour"]].assign(
        configuration=lambda f: (
            f["device"]
            + " · "
            + f["mode"].fillna("")
            + " · batch "
            + f["batch_size"].astype(str)
            + " · "
            + f["workers"].fillna(0).astype(int).astype(str)
        )
    )
    return (
        alt.Chart(priced)
        .mark_bar()
        .encode(
            x=alt.X("cost_per_million:Q", title="USD per 1M inferences"),
            y=alt.Y("configuration:N", sort="x", title=None),
            color=alt.Color("source:N", title="source"),
            tooltip=[
                "source",
                "configuration",
                alt.Tooltip("cost_per_million:Q", format="$.3f"),
                alt.Tooltip("price_per_hour:Q", format="$.3f"),
            ],
        )
    )


def hpo_trials(trials: pd.DataFrame) -> alt.LayerChart:
    """Each HPO trial's objective (columns number, value, estimator) with the best so far."""
    ordered = trials.sort_values("number").assign(best=lambda f: f["value"].cummin())
    base = alt.Chart(ordered).encode(x=alt.X("number:Q", title="trial"))
    points = base.mark_circle(size=60).encode(
        y=alt.Y("value:Q", title="validation p95 absolute error"),
        color=alt.Color("estimator:N", title="estimator"),
        tooltip=["number", "estimator", alt.Tooltip("value:Q", format=".1f")],
    )
    best = base.mark_line(color="#2e7d32", interpolate="step-after").encode(
        y="best:Q", tooltip=[alt.Tooltip("best:Q", title="best so far", format=".1f")]
    )
    return points + best


def param_importance(importance: pd.DataFrame) -> alt.Chart:
    """Bars of hyperparameter importance (columns parameter, importance)."""
    return (
        alt.Chart(importance)
        .mark_bar()
        .encode(
            x=alt.X("importance:Q", title="importance", axis=alt.Axis(format="%")),
            y=alt.Y("parameter:N", sort="-x", title=None),
            tooltip=["parameter", alt.Tooltip("importance:Q", format=".1%")],
        )
    )


def prediction_sweep(sweep: pd.DataFrame, feature: str, target: str, numeric: bool) -> alt.Chart:
    """The prediction as one input varies (columns value, prediction)."""
    chart = alt.Chart(sweep)
    marks = chart.mark_line(point=True) if numeric else chart.mark_bar()
    return marks.encode(
        x=alt.X("value:Q" if numeric else "value:N", title=feature),
        y=alt.Y("prediction:Q", title=f"predicted {target}"),
        tooltip=["value", alt.Tooltip("prediction:Q", format=".1f")],
    )


def reliability_intervals(estimates: pd.DataFrame) -> alt.LayerChart:
    """Each worker's error rate with its 90% interval (worker_id, estimate, lower, upper,
    drift), one row per worker: a rule from lower to upper and a point at the estimate."""
    base = alt.Chart(estimates).encode(
        y=alt.Y(
            "worker_id:N", sort=alt.EncodingSortField("estimate", order="descending"), title=None
        ),
        tooltip=[
            "worker_id",
            alt.Tooltip("estimate:Q", format=".3f"),
            alt.Tooltip("lower:Q", format=".3f"),
            alt.Tooltip("upper:Q", format=".3f"),
            "evidence:Q",
            "drift:N",
        ],
    )
    rule = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("lower:Q", title="error rate (90% interval)", scale=alt.Scale(domain=[0, 1])),
        x2="upper:Q",
    )
    point = base.mark_point(filled=True, size=60).encode(
        x="estimate:Q",
        color=alt.Color(
            "drift:N",
            title="drifted",
            scale=alt.Scale(domain=[False, True], range=["#1565c0", "#c62828"]),
        ),
    )
    return rule + point
