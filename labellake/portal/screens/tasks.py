"""Tasks: a worker's queue and the labeling page for video clips (the local workforce)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pandas as pd
import streamlit as st
from PIL import Image

from labellake.errors import LabellakeError
from labellake.lake.store import read_uri
from labellake.portal import auth, data, ready
from labellake.portal.labeler import data_url, labeler
from labellake.workflows.labeling import drafts, formats
from labellake.workflows.labeling.backends.local import DraftRejected, LocalBackend, TaskWork

OPEN_KEY = "tasks-open"
SHAPE_NAMES = {
    "box": "boxes",
    "polyline": "polylines",
    "polygon": "polygons",
    "keypoint": "keypoints",
}


@st.cache_data(show_spinner=False, max_entries=64)
def _frames(uris: tuple[str, ...], aws: tuple[tuple[str, Any], ...]) -> tuple[list[str], int, int]:
    images = [read_uri(uri, **dict(aws)) for uri in uris]
    width, height = Image.open(io.BytesIO(images[0])).size
    return [data_url(image) for image in images], width, height


def _backend() -> LocalBackend | None:
    return data.engine().backends.get("local")


def _who() -> str | None:
    """The worker labeling now: the signed-in account, or (sign-in off) the one picked."""
    if auth.enabled():
        signed_in = auth.account()
        return signed_in["name"] if signed_in else None
    workers = [
        w["name"] for team in data.local_teams() for w in team["workers"] if not w.get("invited")
    ]
    if not workers:
        st.info(
            "No local workers yet. Add a team and a worker with `labellake workforce "
            "add-team first-level` and `labellake workforce add-worker --team first-level "
            "--name ann --password-stdin`."
        )
        return None
    st.caption("Sign-in is off (LABELLAKE_PORTAL_AUTH), so pick who is labeling.")
    return st.selectbox("Label as", sorted(set(workers)), key="tasks-worker")


def _queue(backend: LocalBackend, account: str) -> None:
    held = backend.held(account)
    if held:
        st.subheader("Your tasks")
        for task in held:
            left = dt.timedelta(seconds=int((task.lease_expires or 0) - backend.clock()))
            cols = st.columns([4, 2, 1])
            cols[0].write(f"**{task.job_name}** · data object {task.data_object_id}")
            cols[1].caption(f"lease ends in {left}")
            if cols[2].button("Open", key=f"open-{task.key}"):
                st.session_state[OPEN_KEY] = task.key
                st.rerun()
    queue = backend.queue(account)
    st.subheader("Queue of your teams")
    if not queue:
        st.info("No labeling job of your teams is waiting for work. New tasks appear here.")
        return
    st.dataframe(
        pd.DataFrame(queue)[
            ["jobName", "batchId", "team", "modality", "waiting", "held", "submitted", "tasks"]
        ],
        hide_index=True,
        width="stretch",
    )
    for job in queue:
        if job["waiting"] and st.button(
            f"Start labeling {job['jobName']}", key=f"claim-{job['jobId']}", type="primary"
        ):
            task = data.run(backend.claim, account, job["jobId"])
            if task is not None:
                st.session_state[OPEN_KEY] = task.key
                st.rerun()


def _apply(backend: LocalBackend, account: str, work: TaskWork, message: dict[str, Any]) -> None:
    """One message from the canvas: keep the draft, run the action it asks for."""
    state_key = f"tasks-draft-{work.task.key}"
    current = st.session_state.setdefault(state_key, {"seq": 0, "revision": 0})
    if message is None:
        return
    if message.get("instance") != current.get("instance"):
        current.update(instance=message.get("instance"), seq=0)  # a canvas shown anew
    if message.get("seq", 0) <= current["seq"]:
        return
    current["seq"] = message["seq"]
    draft = message.get("draft") or work.draft
    action = message.get("action")
    changed = True
    if action == "copy_previous":
        draft = drafts.copy_previous(draft, int(message.get("frame", 0)))
    elif action == "interpolate" and message.get("selected"):
        draft = drafts.interpolate(draft, str(message["selected"]))
    elif action == "set_attribute":
        draft = drafts.set_object_attribute(
            draft, str(message["object"]), str(message["name"]), str(message["value"])
        )
    else:
        changed = False
    if changed:
        current["revision"] += 1
    if action == "submit":
        current["submit"] = draft
    try:
        backend.save_draft(account, work.task.key, draft)
    except LabellakeError as exc:
        st.session_state["tasks-error"] = [str(exc)]


def _label(backend: LocalBackend, account: str, key: str) -> None:
    try:
        work = backend.open(account, key)
    except LabellakeError as exc:
        st.error(str(exc))
        st.session_state.pop(OPEN_KEY, None)
        st.button("Back to the queue")
        return
    task = work.task
    kind = formats.annotation_type(work.config)
    left = dt.timedelta(seconds=int((task.lease_expires or 0) - backend.clock()))
    st.subheader(f"{'Audit' if task.audit else 'Label'}: {task.job_name}")
    st.caption(
        f"{task.source_ref} · {len(work.frames)} frames · {SHAPE_NAMES[kind]} · "
        f"lease ends in {left}" + (" · mark every object Pass or Fail" if task.audit else "")
    )
    if work.instructions:
        st.info(work.instructions)
    aws = tuple(sorted(backend.aws.kwargs.items()))
    images, width, height = _frames(tuple(uri for _, uri in work.frames), aws)
    state_key = f"tasks-draft-{key}"
    current = st.session_state.setdefault(state_key, {"seq": 0, "revision": 0})
    # The frames travel once per canvas, not with every rerun (the canvas asks again if
    # it was shown anew).
    send_frames = not current.get("frames_sent")
    current["frames_sent"] = True
    message = labeler(
        frames=images if send_frames else [],
        width=width,
        height=height,
        config=work.config,
        kind=kind,
        draft=work.draft,
        revision=current["revision"],
        audit=task.audit,
        key=f"labeler-{key}",
    )
    before = current["revision"]
    _apply(backend, account, work, message)
    if message and message.get("action") == "need_frames" and current["seq"] == message["seq"]:
        current["frames_sent"] = False
        st.rerun()
    to_submit = current.pop("submit", None)
    if to_submit is not None:
        try:
            result = backend.submit(account, key, to_submit, width, height)
        except DraftRejected as exc:
            st.error(
                "Not submitted: fix these first.\n\n" + "\n".join(f"- {p}" for p in exc.problems)
            )
        except LabellakeError as exc:
            st.error(str(exc))
        else:
            st.session_state.pop(OPEN_KEY, None)
            st.session_state.pop(state_key, None)
            st.session_state["tasks-done"] = (
                f"Submitted {task.job_name} / {task.data_object_id} "
                f"({result['timeSpentInSeconds']:.0f} s"
                + (f", {result['adjustmentStatus']}" if result["adjustmentStatus"] else "")
                + ")."
            )
            st.rerun()
    elif current["revision"] != before:
        st.rerun()  # hand the canvas the draft Python changed
    for problem in st.session_state.pop("tasks-error", []):
        st.error(problem)
    cols = st.columns(3)
    if cols[0].button("Back to the queue (keep the task)"):
        st.session_state.pop(OPEN_KEY, None)
        st.rerun()
    give_back = None
    if cols[1].button("Return task", help="Give it back to the queue; your work is dropped"):
        give_back = backend.return_task
    if cols[2].button("Decline task", help="Give it back and never be offered it again"):
        give_back = backend.decline_task
    if give_back is not None and data.attempt(give_back, account, key):
        st.session_state.pop(OPEN_KEY, None)
        st.rerun()


st.title("Tasks")
backend = _backend()
if backend is None:
    st.error("This deployment has no local workforce (the 'local' labeling backend).")
    ready.stop()
account = _who()
if account is None:
    ready.stop()
done = st.session_state.pop("tasks-done", None)
if done:
    st.success(done)
open_key = st.session_state.get(OPEN_KEY)
if open_key:
    _label(backend, account, open_key)
else:
    _queue(backend, account)
