"""Every chart builds a Vega-Lite spec that validates against the schema, with its data."""

from __future__ import annotations

import altair as alt
import pandas as pd
import pytest

from labellake.portal import charts

DAY = pd.Timestamp("2026-11-20", tz="UTC")
TEAMS = pd.DataFrame(
    {
        "team": ["first-level", "second-level"],
        "workers": [5, 3],
        "tasks": [40, 40],
        "hours": [12.5, 3.0],
        "median_seconds_per_task": [900.0, 300.0],
        "objects_labeled": [300, 280],
        "share_unchanged": [0.8, None],
        "mean_iou_shift": [0.05, None],
        "pass_rate": [0.9, None],  # nobody audits the auditors
    }
)
CASES = {
    "batch_status": (
        charts.batch_status,
        pd.DataFrame({"status": ["COMPLETE", "IN_PROGRESS"], "batches": [3, 1]}),
    ),
    "objects_per_day": (
        charts.objects_per_day,
        pd.DataFrame({"day": [DAY], "job_name": ["j"], "objects": [4]}),
    ),
    "histogram": (
        lambda f: charts.histogram(f, "minutes", "tasks", "minutes per task"),
        pd.DataFrame({"minutes": [0.0, 5.0], "tasks": [2, 1]}),
    ),
    "throughput": (
        charts.throughput,
        pd.DataFrame({"worker": ["ann"], "day": [DAY], "tasks": [3], "hours": [1.5]}),
    ),
    "leaderboard": (
        charts.leaderboard,
        pd.DataFrame(
            {
                "worker": ["ann"],
                "job_name": ["j"],
                "tasks": [3],
                "objects_labeled": [12],
                "pass_rate": [0.75],
                "mean_iou_shift": [0.02],
            }
        ),
    ),
    "teams": (charts.teams, TEAMS),
    "document_sentiment": (
        charts.document_sentiment,
        pd.DataFrame(
            {
                "doc_id": ["a", "b"],
                "sentiment": ["POSITIVE", "MIXED"],
                "score_positive": [0.6, 0.3],
                "score_negative": [0.1, 0.3],
                "score_neutral": [0.3, 0.2],
                "score_mixed": [0.0, 0.2],
            }
        ),
    ),
    "header_sentiment": (
        charts.header_sentiment,
        pd.DataFrame(
            {
                "header": ["Battery", "Support"],
                "first_paragraph": [2, 5],
                "sentiment": ["POSITIVE", "NEGATIVE"],
                "positive": [2, 0],
                "negative": [0, 1],
                "neutral": [1, 0],
                "mixed": [0, 0],
            }
        ),
    ),
    "findings_by_check": (
        charts.findings_by_check,
        pd.DataFrame(
            {"job_name": ["j"], "check_name": ["iou_drop"], "findings": [7], "data_objects": [2]}
        ),
    ),
    "hpo_trials": (
        charts.hpo_trials,
        pd.DataFrame({"number": [0, 1, 2], "value": [9.0, 4.0, 6.0], "estimator": ["mlp"] * 3}),
    ),
    "param_importance": (
        charts.param_importance,
        pd.DataFrame({"parameter": ["max_iter", "alpha"], "importance": [0.7, 0.3]}),
    ),
    "prediction_sweep": (
        lambda f: charts.prediction_sweep(f, "frames", "seconds", True),
        pd.DataFrame({"value": [1.0, 2.0], "prediction": [10.0, 20.0]}),
    ),
    "prediction_sweep_categories": (
        lambda f: charts.prediction_sweep(f, "shape_type", "seconds", False),
        pd.DataFrame({"value": ["box", "polyline"], "prediction": [10.0, 20.0]}),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_chart_spec_is_valid(name: str) -> None:
    build, frame = CASES[name]
    chart = build(frame)
    assert isinstance(chart, alt.TopLevelMixin)
    spec = chart.to_dict()  # validates against the Vega-Lite schema
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    assert len(next(iter(spec["datasets"].values()))) == len(frame)


def test_a_team_without_a_pass_rate_keeps_its_bar() -> None:
    spec = charts.teams(TEAMS).to_dict()
    grey, coloured = spec["layer"]
    assert "color" not in grey.get("encoding", {}) and grey["mark"]["color"] == "#9e9e9e"
    assert coloured["encoding"]["color"]["field"] == "pass_rate"
