from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labellake.etl import geometry
from labellake.workflows.labeling import simulation
from labellake.workflows.labeling.formats import seqlabel_document
from labellake.workflows.samples.synthetic import render_clip
from labellake.workflows.samples.truth import ClipTruth


@pytest.fixture(scope="module")
def clip() -> tuple[ClipTruth, list[str]]:
    _, truth = render_clip(np.random.default_rng(11), 60, 640, 360, "clip")
    return truth, [frame.frame for frame in truth.frames]


def test_teams_are_deterministic_and_experts_are_careful() -> None:
    first = simulation.build_team("first-level", "us-east-1", seed=1)
    assert first == simulation.build_team("first-level", "us-east-1", seed=1)
    assert first != simulation.build_team("first-level", "us-east-1", seed=2)
    experts = simulation.build_team("second-level", "us-east-1", seed=1)
    assert len(first) == 5 and len(experts) == 3
    assert all(w.worker_id.startswith("private.us-east-1.") for w in first + experts)
    assert max(e.id_switch_rate for e in experts) == 0 < min(w.id_switch_rate for w in first)


def test_labels_are_deterministic_and_errors_are_recorded(clip) -> None:  # type: ignore[no-untyped-def]
    truth, names = clip
    kinds: Counter[str] = Counter()
    for worker in simulation.build_team("first-level", "us-east-1"):
        for source in range(6):
            frames, errors = simulation.label_clip(
                truth, names, "box", {"Vehicle": 0}, worker, "job", f"clip-{source}"
            )
            again = simulation.label_clip(
                truth, names, "box", {"Vehicle": 0}, worker, "job", f"clip-{source}"
            )
            assert (frames, errors) == again
            kinds.update(error.kind for error in errors)
    assert {"id_switch", "position_jump", "size_jump", "duplicate"} <= set(kinds)


def _wrong(frames, truth: ClipTruth) -> int:  # type: ignore[no-untyped-def]
    """True boxes with no labeled box at IoU >= 0.5, plus labeled boxes matching no true box."""
    wrong = 0
    for frame, true_frame in zip(frames, truth.frames, strict=True):
        boxes = [o.box for o in true_frame.objects if o.kind == "box"]
        wrong += sum(
            max((geometry.box_iou(s.box, b) for s in frame.shapes), default=0) < 0.5 for b in boxes
        )
        wrong += sum(
            max((geometry.box_iou(s.box, b) for b in boxes), default=0) < 0.5 for s in frame.shapes
        )
    return wrong


def test_audit_brings_labels_back_to_the_truth(clip) -> None:  # type: ignore[no-untyped-def]
    truth, names = clip
    worker = simulation.build_team("first-level", "us-east-1")[3]
    auditor = simulation.build_team("second-level", "us-east-1")[0]
    frames, errors = simulation.label_clip(truth, names, "box", {"Vehicle": 0}, worker, "job", "c")
    assert errors
    audited, changes = simulation.audit_clip(
        frames, truth, names, "box", {"Vehicle": 0}, auditor, "audit", "c"
    )
    assert changes > 0
    assert _wrong(frames, truth) > 0
    assert _wrong(audited, truth) <= _wrong(frames, truth) // 10
    verdicts = {s.attributes["audit"] for f in audited for s in f.shapes}
    assert verdicts <= {"Pass", "Fail"} and "Fail" in verdicts


def test_seqlabel_round_trip(clip) -> None:  # type: ignore[no-untyped-def]
    truth, names = clip
    worker = simulation.build_team("first-level", "us-east-1")[0]
    frames, _ = simulation.label_clip(truth, names, "polyline", {"Lane": 0}, worker, "j", "c")
    document = seqlabel_document(frames, tracking=True)
    parsed = simulation.parse_seqlabel(document, "polyline")
    assert [len(f.shapes) for f in parsed] == [len(f.shapes) for f in frames]
    assert parsed[0].shapes[0].vertices == [
        (round(x), round(y)) for x, y in frames[0].shapes[0].vertices
    ]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    source=st.text(min_size=1, max_size=12),
    kind=st.sampled_from(["box", "polygon", "keypoint", "polyline"]),
    worker_index=st.integers(0, 4),
)
def test_any_clip_labels_and_audits_without_error(
    seed: int, source: str, kind: str, worker_index: int
) -> None:
    _, truth = render_clip(np.random.default_rng(seed), 40, 320, 180, "c")
    names = [frame.frame for frame in truth.frames]
    classes = {"Lane": 0} if kind == "polyline" else {"Vehicle": 0}
    worker = simulation.build_team("first-level", "us-east-1")[worker_index]
    frames, errors = simulation.label_clip(truth, names, kind, classes, worker, "j", source)
    assert len(frames) == 40 and all(0 <= e.frame_no < 40 for e in errors)
    audited, _ = simulation.audit_clip(
        frames,
        truth,
        names,
        kind,
        classes,
        simulation.build_team("second-level", "us-east-1")[0],
        "a",
        source,
    )
    assert len(audited) == 40
