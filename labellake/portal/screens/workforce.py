"""Workforce: per team and per worker, tasks, time per task, throughput, returns and
declines, auditors' verdicts, a leaderboard and one worker's record."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from labellake.portal import auth, charts, data, ready

NO_TEAM = "(no team recorded)"
ALL_TEAMS = "All teams"

st.title("Workforce")


def _manage() -> None:
    """Admins (anyone, with sign-in off) add work teams and workers for the local backend."""
    force = data.workforce()
    left, right = st.columns(2)
    with left.form("add-team", clear_on_submit=True):
        name = st.text_input("New team", placeholder="first-level")
        if st.form_submit_button("Add team") and data.attempt(force.add_team, name.strip()):
            st.success(f"Team {name.strip()} added.")
    teams = data.local_teams()
    with right.form("add-worker", clear_on_submit=True):
        team = st.selectbox("Work team", [t["workteamName"] for t in teams])
        worker = st.text_input("Worker name")
        if st.form_submit_button("Invite worker", disabled=not teams):
            added = data.run(force.add_worker, team, worker.strip())
            if added is not None:
                st.success(
                    f"{worker.strip()} added to {team}. Give them this one-time invite token; "
                    "they set their password with it at sign-in. It is not shown again."
                )
                st.code(added[1])
                teams = data.local_teams()
    members = [
        {"team": team["workteamName"], "worker": w["name"], "invited": w["invited"]}
        for team in teams
        for w in team["workers"]
    ]
    if members:
        st.dataframe(pd.DataFrame(members), hide_index=True, width="stretch")
    else:
        st.caption("No workers in local work teams yet.")


if auth.may_administer():
    with st.expander("Manage work teams and workers"):
        _manage()

performance = data.query("views/worker_performance")
if performance.empty:
    st.info(data.EMPTY_HINT)
    ready.stop()

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
