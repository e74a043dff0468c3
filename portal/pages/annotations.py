"""Annotations: objects, tracks and frames per job and class, size and length distributions,
and a frame viewer with the audit's changes."""

from __future__ import annotations

import streamlit as st

from labellake.lake.store import read_uri
from labellake.portal import charts, data, frames

st.title("Annotations")
summary = data.query("dashboards/annotation_summary")
if summary.empty:
    st.info(data.EMPTY_HINT)
    st.stop()

jobs = sorted(summary["job_name"].unique())
chosen_jobs = st.multiselect("Jobs", jobs, default=jobs)
shown = summary[summary["job_name"].isin(chosen_jobs)]
st.dataframe(shown, width="stretch", hide_index=True)

left, right = st.columns(2)
with left:
    st.subheader("Box sizes")
    sizes = data.query("dashboards/box_sizes")
    sizes = sizes[sizes["job_name"].isin(chosen_jobs)]
    if sizes.empty:
        st.caption("No boxes in these jobs.")
    else:
        st.altair_chart(
            charts.histogram(
                sizes, "size_px", "boxes", "box size (sqrt of area, px)", colour="job_name"
            ),
            width="stretch",
        )
with right:
    st.subheader("Track lengths")
    lengths = data.query("dashboards/track_lengths")
    lengths = lengths[lengths["job_name"].isin(chosen_jobs)]
    st.altair_chart(
        charts.histogram(lengths, "frames", "tracks", "frames per track", colour="job_name"),
        width="stretch",
    )

st.subheader("Frame viewer")
job = st.selectbox("Job", jobs)
objects = data.query("dashboards/job_objects", (job,))
if objects.empty:
    st.caption("This job has no shapes.")
    st.stop()
source = st.selectbox("Data object", objects["source_ref"].tolist())
row = objects[objects["source_ref"] == source].iloc[0]
first, last = int(row["first_frame"]), int(row["last_frame"])
frame_no = st.slider("Frame", first, max(last, first + 1), first) if last > first else first
audit_jobs = [
    j["job_name"]
    for b in data.engine().state.batches()
    for j in data.engine().state.jobs(b["batch_id"])
    if j["chain_from"] == job
]
audit = st.selectbox("Audit to overlay", ["(none)", *audit_jobs])
shapes = data.query("dashboards/frame_shapes", (job, source, frame_no)).to_dict("records")
audited = (
    data.query("dashboards/frame_shapes", (audit, source, frame_no)).to_dict("records")
    if audit != "(none)"
    else None
)
home = data.home()
aws = {"region": home.settings.aws_region, "endpoint_url": home.settings.aws_endpoint_url}
uri = data.run(frames.frame_uri, source, frame_no, **aws)
image = data.run(read_uri, uri, **aws) if uri else None
st.image(
    frames.draw(image, shapes, audited),
    caption=f"{job}: {len(shapes)} shapes (blue)"
    + (f"; {audit}: green passed, red failed" if audited else ""),
)
