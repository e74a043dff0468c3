"""Overview: batches by status, jobs in flight, objects labeled per day, workers, QA findings."""

from __future__ import annotations

import streamlit as st

from labellake.portal import charts, data

st.title("Overview")
if data.is_empty():
    st.info(data.EMPTY_HINT)

tiles = data.query("dashboards/overview_tiles").iloc[0]
active = data.query("dashboards/active_workers").iloc[0]["active_workers"]
in_flight = data.run(
    lambda: sum(
        job["status"] == "WAIT_FOR_SMGT_RESPONSE"
        for batch in data.engine().state.batches("IN_PROGRESS")
        for job in data.engine().state.jobs(batch["batch_id"])
    )
)

columns = st.columns(5)
with columns[0]:
    st.metric("Batches", int(tiles["batches"]), help="All batches; COMPLETE ones below.")
    st.page_link("screens/batches.py", label="Batches", icon=":material/account_tree:")
with columns[1]:
    st.metric("Jobs in flight", in_flight or 0)
    st.page_link("screens/batches.py", label="Running batches", icon=":material/sync:")
with columns[2]:
    st.metric(
        "Objects labeled",
        int(tiles["objects_labeled"]),
        help=f"{int(tiles['annotations'])} shapes in all",
    )
    st.page_link("screens/annotations.py", label="Annotations", icon=":material/crop_free:")
with columns[3]:
    st.metric("Active workers", int(active), help="Submitted work in the last 7 days of data")
    st.page_link("screens/workforce.py", label="Workforce", icon=":material/groups:")
with columns[4]:
    st.metric("Open QA findings", int(tiles["qa_findings"]))
    st.page_link("screens/quality.py", label="Quality", icon=":material/rule:")

left, right = st.columns(2)
statuses = data.query("batch_status_counts")
with left:
    st.subheader("Batches by status")
    if statuses.empty:
        st.caption("No batches yet.")
    else:
        st.altair_chart(charts.batch_status(statuses), width="stretch")
daily = data.query("objects_labeled_per_day")
with right:
    st.subheader("Objects labeled per day")
    if daily.empty:
        st.caption("Nothing labeled yet.")
    else:
        st.altair_chart(charts.objects_per_day(daily), width="stretch")
