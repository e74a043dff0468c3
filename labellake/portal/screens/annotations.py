"""Annotations: objects, tracks and frames per job and class, size and length distributions,
and a frame viewer with the audit's changes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from labellake.portal import charts, data, frames, ready

st.title("Annotations")
summary = data.query("dashboards/annotation_summary")
if summary.empty:
    st.info(data.EMPTY_HINT)
    ready.stop()

IMPORTED = "(imported jobs)"
summary = summary.assign(batch_id=summary["batch_id"].fillna(IMPORTED))
batches = sorted(summary["batch_id"].unique())
pick_batches, pick_jobs, pick_classes = st.columns(3)
chosen_batches = pick_batches.multiselect("Batches", batches, default=batches)
in_batches = summary[summary["batch_id"].isin(chosen_batches)]
batch_jobs = sorted(in_batches["job_name"].unique())
chosen_jobs = pick_jobs.multiselect("Jobs", batch_jobs, default=batch_jobs)
classes = sorted(
    in_batches.loc[in_batches["job_name"].isin(chosen_jobs), "label"].dropna().unique()
)
chosen_classes = pick_classes.multiselect("Classes", classes, default=classes)
shown = in_batches[
    in_batches["job_name"].isin(chosen_jobs) & in_batches["label"].isin(chosen_classes)
]
totals = st.columns(4)
totals[0].metric("Shapes", f"{int(shown['shapes'].sum()):,}")
totals[1].metric("Tracks (objects)", f"{int(shown['tracks'].sum()):,}")
totals[2].metric("Jobs", f"{shown['job_name'].nunique():,}")
totals[3].metric("Classes", f"{shown['label'].nunique():,}")
st.dataframe(shown, width="stretch", hide_index=True)


def chosen(bins: pd.DataFrame, value: str, count: str) -> pd.DataFrame:
    """Bins of the chosen jobs and classes, summed per job (bins are already aggregated)."""
    # Summaries written before classes were recorded per bin have no label: keep them.
    keep = bins["job_name"].isin(chosen_jobs) & (
        bins["label"].isin(chosen_classes) | bins["label"].isna()
    )
    return bins[keep].groupby(["job_name", value], as_index=False)[count].sum()


left, right = st.columns(2)
with left:
    st.subheader("Box sizes")
    sizes = chosen(data.query("dashboards/box_sizes"), "size_px", "boxes")
    if sizes.empty:
        st.caption("No boxes in these jobs and classes.")
    else:
        st.altair_chart(
            charts.histogram(
                sizes, "size_px", "boxes", "box size (sqrt of area, px)", colour="job_name"
            ),
            width="stretch",
        )
with right:
    st.subheader("Track lengths")
    lengths = chosen(data.query("dashboards/track_lengths"), "frames", "tracks")
    st.altair_chart(
        charts.histogram(lengths, "frames", "tracks", "frames per track", colour="job_name"),
        width="stretch",
    )

st.subheader("Frame viewer")
job = st.selectbox("Job", chosen_jobs or batch_jobs or sorted(summary["job_name"].unique()))
objects = data.query("dashboards/job_objects", (job,))
if objects.empty:
    st.caption("This job has no shapes.")
    ready.stop()
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
aws = home.settings.aws.kwargs
image = frames.frame_image(source, frame_no, **aws)
if image is None:
    st.caption(
        f"The image of frame {frame_no} of {source} is not in the object store: the "
        "shapes are drawn on a blank frame."
    )
st.image(
    frames.draw(image, shapes, audited),
    caption=f"{job}: {len(shapes)} shapes (blue)"
    + (
        f"; {audit}: green passed, red failed, thick orange moved, thick magenta added, "
        "crossed out deleted"
        if audited is not None
        else ""
    ),
)
if audited is not None:
    counts = pd.Series(frames.audit_changes(shapes, audited)).value_counts()
    st.caption(
        "On this frame the audit "
        + ", ".join(f"{kind}: {counts.get(kind, 0)}" for kind in frames.CHANGES)
    )
