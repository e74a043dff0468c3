"""Workforce: per team and per worker, tasks, time per task, throughput, returns and
declines, auditors' verdicts, a leaderboard and one worker's record."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from labellake.portal import charts, data

NO_TEAM = "(no team recorded)"
ALL_TEAMS = "All teams"

st.title("Workforce")
performance = data.query("views/worker_performance")
if performance.empty:
    st.info(data.EMPTY_HINT)
    st.stop()

names = data.worker_names()
performance = performance.assign(
    worker=performance["worker_id"].map(names).fillna(performance["worker_id"]),
    team=performance["team"].fillna(NO_TEAM),
)

st.subheader("Teams")
team_figures = data.query("views/team_performance")
team_figures = team_figures.assign(team=team_figures["team"].fillna(NO_TEAM))
st.altair_chart(charts.teams(team_figures), width="stretch")
st.dataframe(team_figures, width="stretch", hide_index=True)

team = st.selectbox("Team", [ALL_TEAMS, *sorted(performance["team"].unique())])
if team != ALL_TEAMS:
    performance = performance[performance["team"] == team]

st.subheader("Leaderboard")
labelers = performance[performance["objects_audited"].notna()]
if labelers.empty:
    st.caption("No audited work yet: the leaderboard ranks work an audit level has checked.")
else:
    st.altair_chart(charts.leaderboard(labelers), width="stretch")
st.dataframe(
    performance[
        [
            "worker",
            "team",
            "job_name",
            "tasks",
            "median_seconds_per_task",
            "p90_seconds_per_task",
            "objects_labeled",
            "tasks_returned",
            "tasks_declined",
            "share_unchanged",
            "mean_iou_shift",
            "objects_added",
            "objects_deleted",
            "pass_rate",
        ]
    ],
    width="stretch",
    hide_index=True,
)

throughput = data.query("dashboards/worker_throughput")
throughput = throughput.assign(
    worker=throughput["worker_id"].map(names).fillna(throughput["worker_id"])
)
if team != ALL_TEAMS:
    throughput = throughput[throughput["worker_id"].isin(performance["worker_id"])]
left, right = st.columns(2)
with left:
    st.subheader("Time per task")
    st.altair_chart(
        charts.histogram(
            data.query("dashboards/task_times"), "minutes", "tasks", "minutes per task"
        ),
        width="stretch",
    )
with right:
    st.subheader("Throughput")
    st.altair_chart(charts.throughput(throughput), width="stretch")

st.subheader("One worker")
worker = st.selectbox("Worker", sorted(performance["worker"].unique()))
record = performance[performance["worker"] == worker]
tasks = int(record["tasks"].sum())
audited = record["objects_audited"].fillna(0).sum()
cols = st.columns(5)
cols[0].metric("Tasks", f"{tasks:,}")
cols[1].metric("Objects labeled", f"{int(record['objects_labeled'].sum()):,}")
cols[2].metric(
    "Returned or declined",
    f"{int(record['tasks_returned'].sum() + record['tasks_declined'].sum()):,}",
)
cols[3].metric(
    "Objects audited",
    f"{int(audited):,}",
    help="Objects of this worker's that an audit level checked; see the table for verdicts.",
)
median = record["median_seconds_per_task"].median()
cols[4].metric(
    "Median time per task",
    "-" if pd.isna(median) else f"{median:,.1f} s",
    help="From the worker-response files: submission time minus acceptance time.",
)
st.dataframe(record, width="stretch", hide_index=True)
own = throughput[throughput["worker_id"].isin(record["worker_id"])]
if not own.empty:
    st.altair_chart(charts.throughput(own), width="stretch")
