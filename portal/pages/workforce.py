"""Workforce: tasks, time per task, throughput, returns and declines, auditors' verdicts,
a leaderboard and one worker's record."""

from __future__ import annotations

import streamlit as st

from labellake.portal import charts, data

st.title("Workforce")
performance = data.query("views/worker_performance")
if performance.empty:
    st.info(data.EMPTY_HINT)
    st.stop()

teams = data.run(lambda: data.engine().backend.workforce()) or []
names = {w["workerId"]: w["name"] for team in teams for w in team["workers"]}
performance = performance.assign(
    worker=performance["worker_id"].map(names).fillna(performance["worker_id"])
)

st.subheader("Leaderboard")
labelers = performance[performance["objects_audited"].notna()]
if labelers.empty:
    st.caption("No audited work yet.")
else:
    st.altair_chart(charts.leaderboard(labelers), width="stretch")
st.dataframe(
    performance[
        [
            "worker",
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
    st.altair_chart(charts.throughput(data.query("dashboards/worker_throughput")), width="stretch")

st.subheader("One worker")
worker = st.selectbox("Worker", sorted(performance["worker"].unique()))
st.dataframe(performance[performance["worker"] == worker], width="stretch", hide_index=True)
