"""Batches: create one with a form, list them, and look at one's levels, jobs and outputs."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from labellake.errors import LabellakeError, NotFoundError
from labellake.lake.store import read_uri
from labellake.portal import auth, batch_form, data, ready
from labellake.workflows.labeling.spec import MODALITIES

st.title("Batches")
engine = data.engine()
BACKENDS = sorted(engine.backends)


@st.dialog("Delete this batch?")
def confirm_delete(batch_id: str) -> None:
    plan = data.run(engine.delete, batch_id, dry_run=True)
    if plan is None:
        return
    st.write(f"Batch **{batch_id}** and everything below it goes:")
    st.markdown(
        f"- levels: {', '.join(map(str, plan['levels']))}\n"
        f"- jobs: {', '.join(plan['jobs'])}\n- tasks: {plan['tasks']}\n"
        f"- raw objects: {len(plan['objects'])}\n- lake files: {len(plan['lakeFiles'])}"
    )
    confirmed = st.button("Delete", type="primary", key="confirm-delete")
    if confirmed and data.run(engine.delete, batch_id, actor=auth.actor()) is not None:
        st.cache_data.clear()
        st.success(f"Batch {batch_id} deleted.")
        st.rerun()


def effort_estimate(
    jobs: list[dict[str, object]], source: list[str] | str, sampling: float, team: str
) -> None:
    """The batch's worker-hours from the newest READY labeling-effort model."""
    from labellake.workflows.labeling import formats
    from labellake.workflows.labeling.spec import default_workteam_arn
    from labellake.workflows.models.effort import estimate

    try:
        if isinstance(source, str):
            lines = formats.parse_manifest(engine.read(source), source) if source else []
            refs = [str(line.get("source-ref") or line.get("source")) for line in lines]
        else:
            refs = source
        frames = data.frames(refs)
        rows = [
            {
                **job,
                "team": (team if int(job["level"] or 1) == 1 and team else None)
                or default_workteam_arn(
                    int(job["level"] or 1), engine.config.region, engine.config.account
                ),
            }
            for job in jobs
        ]
        estimated = estimate(data.models(), rows, frames, sampling)
    except NotFoundError:
        st.caption(
            "No worker-hours estimate: no READY labeling-effort model yet. Train one on the "
            "Models page or with `labellake model train`."
        )
        return
    except LabellakeError as exc:
        st.caption(f"No worker-hours estimate: {exc}")
        return
    st.metric(
        "Estimated worker-hours",
        f"{estimated['hours']:.1f} h",
        help=f"{estimated['tasks']} tasks, from model run {estimated['runId']}",
    )


with st.expander("Create a batch", expanded=False):
    manifests, clips = data.inputs()
    batch_id = st.text_input("Batch id", placeholder="drive-0043")
    source = st.radio("Input", ["Pick clips", "An input manifest"], horizontal=True)
    picked: list[str] = []
    manifest_key = f"portal/manifests/{batch_id or 'new'}.manifest"
    if source == "Pick clips":
        picked = st.multiselect(
            "Clips",
            clips,
            format_func=lambda uri: uri.rsplit("/", 2)[-2] + "/" + uri.rsplit("/", 1)[-1],
            placeholder="Choose clips" if clips else "No clips: run labellake demo or import",
        )
        manifest = engine.objects.uri(manifest_key)
        st.caption(f"{len(picked)} clip(s); their manifest is written to `{manifest}`.")
    else:
        manifest = st.selectbox(
            "Input manifest", manifests or ["(none: run labellake demo or import clips)"]
        )
    default_jobs = pd.DataFrame(
        [
            {
                "jobName": "vehicle",
                "level": 1,
                "modality": "VideoObjectTracking",
                "chainFrom": "",
                "shape": "box",
                "labels": "Vehicle",
                "attributes": "Vehicle_Type=Car|Van|Truck|Bus",
                "backend": "",
            },
            {
                "jobName": "lane",
                "level": 1,
                "modality": "VideoObjectTracking",
                "chainFrom": "",
                "shape": "polyline",
                "labels": "Lane",
                "attributes": "Marking=Solid|Dashed",
                "backend": "",
            },
            {
                "jobName": "vehicle-audit",
                "level": 2,
                "modality": "VideoObjectTrackingAudit",
                "chainFrom": "vehicle",
                "shape": "",
                "labels": "",
                "attributes": "",
                "backend": "",
            },
            {
                "jobName": "lane-audit",
                "level": 2,
                "modality": "VideoObjectTrackingAudit",
                "chainFrom": "lane",
                "shape": "",
                "labels": "",
                "attributes": "",
                "backend": "",
            },
        ]
    )
    st.caption(
        "Job names get the batch id as prefix. Chained jobs inherit their parent's taxonomy."
    )
    rows = st.data_editor(
        default_jobs,
        num_rows="dynamic",
        width="stretch",
        column_config={
            "modality": st.column_config.SelectboxColumn(options=MODALITIES),
            "shape": st.column_config.SelectboxColumn(
                options=["", "box", "polyline", "polygon", "keypoint"]
            ),
            "level": st.column_config.NumberColumn(min_value=1, step=1),
            "backend": st.column_config.SelectboxColumn(
                options=["", *BACKENDS], help="Empty: the batch's labeling backend"
            ),
        },
        key="jobs-editor",
    )
    routings = {
        "A share of the data objects (downsampling)": None,
        "The riskiest objects, up to an audit budget": "risk",
        "The objects with the most QA findings, up to an audit budget": "findings",
    }
    routing_label = st.selectbox(
        "What audit jobs see",
        list(routings),
        help="With an audit budget, a random share of every object is audited too, so the "
        "batch gets a 90% bound on the errors left in what it ships.",
    )
    audit_routing = routings[routing_label]
    audit_budget = None
    if audit_routing:
        audit_budget = st.number_input(
            "Audit budget (share of the labeled objects)",
            min_value=0.01,
            max_value=1.0,
            value=0.2,
            step=0.05,
        )
    sampling = st.slider("Downsampling for chained levels (%)", 0, 100, 100)
    consensus_count = st.number_input(
        "Workers per clip (consensus)",
        min_value=1,
        max_value=20,
        value=1,
        help="Above 1, each clip of a level-1 video job goes to that many workers; their "
        "tracks are consolidated and their agreement recorded.",
    )
    gold_manifest = st.text_input(
        "Gold manifest (source-ref and gold-ref per line; empty: no gold clips)"
    )
    gold_rate = st.number_input(
        "Gold rate (share of level-1 tasks that are gold clips)",
        min_value=0.0,
        max_value=1.0,
        value=0.0,
        step=0.05,
        disabled=not gold_manifest.strip(),
    )
    team = st.text_input("Level-1 work team ARN (empty: the default team)")
    default_backend = data.home().settings.labeling_backend
    backend = st.selectbox(
        "Labeling backend",
        BACKENDS,
        index=BACKENDS.index(default_backend),
        help="simulated: a deterministic workforce labels in seconds. local: your work "
        "teams label in the portal's Tasks page.",
    )
    jobs = []
    for row in rows.fillna("").to_dict("records"):
        if not str(row["jobName"]).strip():
            continue
        prefix = f"{batch_id}-" if batch_id else ""
        jobs.append(
            {
                **row,
                "jobName": prefix + str(row["jobName"]).strip(),
                "chainFrom": prefix + str(row["chainFrom"]).strip()
                if str(row["chainFrom"]).strip()
                else "",
            }
        )
    config_keys = {
        job["jobName"]: f"portal/label-configs/{batch_id or 'new'}/{job['jobName']}.json"
        for job in jobs
        if not job["chainFrom"]
    }
    config_uris = {name: engine.objects.uri(key) for name, key in config_keys.items()}
    request = batch_form.build_request(
        batch_id,
        manifest,
        jobs,
        config_uris,
        sampling,
        team or None,
        backend if backend != default_backend else None,
        audit_routing,
        audit_budget,
        int(consensus_count),
        gold_manifest.strip() or None,
        float(gold_rate),
    )
    effort_estimate(jobs, picked if source == "Pick clips" else manifest, sampling, team)
    st.json(request, expanded=False)
    complete = bool(batch_id) and (source != "Pick clips" or bool(picked))
    if st.button("Submit batch", type="primary", disabled=not complete):
        written = []
        if source == "Pick clips":
            engine.objects.write_text(manifest_key, batch_form.clip_manifest(picked))
            written.append(manifest_key)
        for job in jobs:
            if not job["chainFrom"]:
                config = batch_form.label_config(job["labels"], job["attributes"], job["shape"])
                engine.objects.write_text(config_keys[job["jobName"]], json.dumps(config))
                written.append(config_keys[job["jobName"]])
        submitted = data.run(engine.submit, request, actor=auth.actor())
        if submitted:
            st.cache_data.clear()
            st.success(f"Batch {submitted} submitted; the runner picks it up.")
        else:  # a refused request leaves nothing behind
            for key in written:
                engine.objects.delete(key)

batches = engine.state.batches()
if not batches:
    st.info("No batches yet. Create one above, or run `labellake demo`.")
    ready.stop()

status = st.selectbox("Status", ["all", *sorted({b["status"] for b in batches})])
listing = pd.DataFrame(
    [
        {
            "batch": b["batch_id"],
            "status": b["status"],
            "created": b["created_at"],
            "completed": b["completed_at"],
            "message": b["message"],
        }
        for b in batches
        if status == "all" or b["status"] == status
    ]
)
st.dataframe(listing, width="stretch", hide_index=True)

chosen = st.selectbox("Batch", [b["batch_id"] for b in reversed(batches)])
show = data.run(engine.show, chosen)
if show:
    st.subheader(f"{chosen}: {show['status']}")
    if show["message"]:
        st.caption(show["message"])
    st.graphviz_chart(batch_form.level_diagram(show))
    for level in show["levels"]:
        for job in level["jobLevels"]:
            with st.expander(
                f"level {level['level']} · {job['labelingJobName']} · {job['batchStatus']}"
            ):
                st.markdown(
                    f"- modality: {job['jobModality']}\n"
                    f"- input manifest: `{job['jobInputS3Uri']}`\n"
                    f"- output manifest: `{job['jobOutputS3Uri']}`\n"
                    f"- data objects: {job['objectCount']}"
                    + (
                        f"\n- tasks ({job['backend']}): {job['taskProgress']['submitted']} of "
                        f"{job['taskProgress']['total']} submitted"
                        + (
                            f", {job['taskProgress']['held']} being labeled, "
                            f"{job['taskProgress']['waiting']} waiting"
                            if "held" in job["taskProgress"]
                            else ""
                        )
                        if job.get("taskProgress")
                        else ""
                    )
                )
                if job.get("workUrl"):
                    st.link_button(
                        "Open in Label Studio" if job["backend"] == "labelstudio" else "Open tasks",
                        job["workUrl"],
                    )
                if job["jobOutputS3Uri"]:
                    content = data.run(read_uri, job["jobOutputS3Uri"])
                    if content is not None:
                        st.download_button(
                            "Download output manifest",
                            content,
                            f"{job['labelingJobName']}-output.manifest",
                            key=f"download-{job['labelingJobName']}",
                        )
    if show.get("qualityBound"):
        st.markdown("**Errors left in what ships** (one-sided 90% upper bound)")
        st.dataframe(
            pd.DataFrame(show["qualityBound"])[
                [
                    "auditedJob",
                    "auditJob",
                    "mode",
                    "objects",
                    "audited",
                    "errorsFound",
                    "residualRate",
                    "upperRate",
                ]
            ],
            width="stretch",
            hide_index=True,
        )
    stop, retry, delete = st.columns(3)
    stopping = stop.button("Stop batch", disabled=show["status"] != "IN_PROGRESS")
    if stopping and data.attempt(engine.stop, chosen, actor=auth.actor()):
        st.cache_data.clear()
        st.rerun()
    retryable = show["status"] in ("INTERNAL_ERROR", "VALIDATION_FAIL", "STOPPED")
    retrying = retry.button("Retry batch", disabled=not retryable)
    if retrying and data.attempt(engine.retry, chosen, actor=auth.actor()):
        st.cache_data.clear()
        st.rerun()
    if delete.button(
        "Delete batch…",
        disabled=not auth.may_administer(),
        help=None if auth.may_administer() else "Only admins delete batches.",
    ):
        confirm_delete(chosen)
