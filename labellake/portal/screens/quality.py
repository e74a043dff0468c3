"""Quality: the errors left in what each batch ships, workers' error rates with their
intervals, gold scores, consensus disagreements, what to audit next, automated QA
findings by check, job and worker, and the worst tracks."""

from __future__ import annotations

import streamlit as st

from labellake.portal import charts, data, frames, ready

st.title("Quality")


def _stamped(frame):  # type: ignore[no-untyped-def]
    """``as_of`` as text (UTC), so tables and charts take it as it is."""
    if "as_of" in frame and not frame.empty:
        frame = frame.assign(as_of=frame["as_of"].dt.strftime("%Y-%m-%d %H:%M:%S UTC"))
    return frame


st.subheader("Errors left in what ships")
bounds = _stamped(data.query("dashboards/quality_bounds"))
if bounds.empty:
    st.info(
        "No audit has measured a batch yet. An audit job (chainFromJobName) measures the "
        'batch it audits; with qaFilter {"mode": "risk", "auditBudget": 0.2} it '
        "audits the riskiest fifth and a random share, and still bounds what is left."
    )
else:
    st.dataframe(
        bounds,
        width="stretch",
        hide_index=True,
        column_config={
            "residual_rate": st.column_config.NumberColumn("residual rate", format="%.3f"),
            "upper_rate": st.column_config.NumberColumn("90% upper bound", format="%.3f"),
            "residual_errors": st.column_config.NumberColumn("errors left", format="%.1f"),
        },
    )

reliability = _stamped(data.query("dashboards/worker_reliability_latest"))
if not reliability.empty:
    st.subheader("Worker error rates")
    kinds = sorted(reliability["error_type"].unique(), key=lambda k: (k != "any", k))
    kind = st.selectbox("Error type", kinds, key="reliability_type")
    shown = reliability[reliability["error_type"] == kind]
    st.altair_chart(charts.reliability_intervals(shown), width="stretch")
    drifted = shown[shown["drift"]]
    if not drifted.empty:
        st.warning("Drifted since the audit before: " + ", ".join(drifted["worker_id"].astype(str)))

gold = data.query("dashboards/gold_scores")
if not gold.empty:
    st.subheader("Gold scores")
    st.caption(
        "Workers' tracks on the gold clips mixed into their jobs (goldRate), against the "
        "known tracks: IDF1, MOTA and HOTA at IoU 0.5."
    )
    st.dataframe(gold, width="stretch", hide_index=True)

disagreements = data.query("dashboards/consensus_disagreements")
if not disagreements.empty:
    st.subheader("Consensus disagreements")
    st.caption(
        "Objects the workers of a consensus job (consensusCount) agreed on least: the mean "
        "sequence IoU over every pair of them. qaFilter mode consensus sends those below "
        "minAgreement to the next level."
    )
    st.dataframe(disagreements, width="stretch", hide_index=True)
    st.dataframe(data.query("dashboards/consensus_pairs"), width="stretch", hide_index=True)

audit_next = data.query("dashboards/audit_next")
if not audit_next.empty:
    st.subheader("What to audit next")
    st.caption("Objects no audit has seen, by their predicted chance of failing one.")
    st.dataframe(audit_next, width="stretch", hide_index=True)

st.subheader("QA findings")
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
