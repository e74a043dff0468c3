"""Quality: automated QA findings by check, job and worker, and the worst tracks."""

from __future__ import annotations

import streamlit as st

from labellake.portal import charts, data, frames, ready

st.title("Quality")
by_job = data.query("views/qa_findings_per_job")
if by_job.empty:
    st.info(
        "No QA findings. "
        + (data.EMPTY_HINT if data.is_empty() else "The checks found nothing to flag.")
    )
    ready.stop()

st.altair_chart(charts.findings_by_check(by_job), width="stretch")
left, right = st.columns(2)
with left:
    st.subheader("By job and check")
    st.dataframe(by_job, width="stretch", hide_index=True)
with right:
    st.subheader("By worker")
    st.dataframe(data.query("views/qa_findings_per_worker"), width="stretch", hide_index=True)

st.subheader("Worst tracks")
worst = data.query("dashboards/worst_tracks")
st.dataframe(worst, width="stretch", hide_index=True)
if not worst.empty:
    pick = st.selectbox(
        "Track",
        range(len(worst)),
        format_func=lambda i: (
            f"{worst.iloc[i]['job_name']} · {worst.iloc[i]['object_id']} · "
            f"{worst.iloc[i]['findings']} findings"
        ),
    )
    track = worst.iloc[pick]
    home = data.home()
    aws = home.settings.aws.kwargs
    first, last = int(track["first_frame"]), int(track["last_frame"])
    strip = list(range(max(0, first - 1), last + 2))[:6]
    columns = st.columns(len(strip))
    for column, frame_no in zip(columns, strip, strict=True):
        shapes = data.query(
            "dashboards/frame_shapes", (track["job_name"], track["source_ref"], frame_no)
        )
        shapes = shapes[shapes["object_id"] == track["object_id"]].to_dict("records")
        image = frames.frame_image(track["source_ref"], frame_no, **aws)
        found = "" if image is not None else " (no image)"
        column.image(frames.draw(image, shapes), caption=f"frame {frame_no}{found}")
