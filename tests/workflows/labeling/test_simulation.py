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


# --- errors no QA check sees -------------------------------------------------------------


def _quiet_worker(**rates: float):  # type: ignore[no-untyped-def]
    from labellake.workflows.labeling.simulation import Worker

    return Worker("private.q", "sub", "first-level", "quiet", 5.0, 0.0, **rates)


def _crossing_clip():  # type: ignore[no-untyped-def]
    """Two cars driving through each other (10x10 boxes, 20 frames), and a truck."""
    from labellake.workflows.samples.truth import ClipTruth, TruthFrame, TruthObject

    frames = []
    for f in range(20):
        frames.append(
            TruthFrame(
                f"{f + 1:06d}.jpg",
                [
                    TruthObject(
                        "a", "Car", "box", (2.0 * f, 0.0, 10.0, 10.0), None, {"Moving": "Dynamic"}
                    ),
                    TruthObject(
                        "b",
                        "Car",
                        "box",
                        (38.0 - 2.0 * f, 0.0, 10.0, 10.0),
                        None,
                        {"Moving": "Stationary"},
                    ),
                    TruthObject(
                        "t",
                        "Truck",
                        "box",
                        (0.0, 100.0, 30.0, 20.0),
                        None,
                        {"Moving": "Stationary"},
                    ),
                ],
            )
        )
    return ClipTruth(200, 200, frames)


def _label(worker):  # type: ignore[no-untyped-def]
    from labellake.workflows.labeling.simulation import label_clip

    truth = _crossing_clip()
    return label_clip(
        truth,
        [f.frame for f in truth.frames],
        "box",
        {"Car": 0, "Truck": 1},
        worker,
        "job",
        "clip_seq.json",
    )


def test_a_label_swap_relabels_the_whole_track() -> None:
    frames, errors = _label(_quiet_worker(label_swap_rate=1.0))
    swapped = {e.object_id for e in errors if e.kind == "label_swap"}
    assert len(swapped) == 3
    classes = {s.object_name: s.class_id for f in frames for s in f.shapes}
    assert classes["Car:1"] == 1 and classes["Truck:3"] == 0


def test_an_attribute_error_takes_another_value_seen_in_the_clip() -> None:
    frames, errors = _label(_quiet_worker(attribute_error_rate=1.0))
    assert sorted(e.detail for e in errors if e.kind == "attribute_error") == [
        "Moving=Dynamic",
        "Moving=Dynamic",
        "Moving=Stationary",
    ]
    first = {s.object_name: s.attributes["Moving"] for s in frames[0].shapes}
    assert first == {"Car:1": "Stationary", "Car:2": "Dynamic", "Truck:3": "Dynamic"}


def test_drift_creeps_without_a_jump() -> None:
    from labellake.etl.geometry import box_iou
    from labellake.workflows.labeling.simulation import DRIFT_PER_FRAME

    frames, errors = _label(_quiet_worker(drift_rate=1.0))
    truck = [next(s.box for s in f.shapes if s.object_name == "Truck:3") for f in frames]
    start = next(
        e.frame_no
        for e in errors
        if e.kind == "drift"
        and "Truck" not in e.detail
        and e.object_id == frames[0].shapes[2].object_id
    )
    assert truck[start][0] == 0.0
    assert truck[-1][0] == pytest.approx(30.0 * DRIFT_PER_FRAME * (19 - start))
    # Never a jump the QA checks see: consecutive boxes keep an IoU far above 0.4.
    assert min(box_iou(a, b) for a, b in zip(truck, truck[1:], strict=False)) > 0.9


def test_crossing_tracks_swap_ids_where_they_overlap() -> None:
    frames, errors = _label(_quiet_worker(crossing_switch_rate=1.0))
    switches = [e for e in errors if e.kind == "crossing_switch"]
    assert len(switches) == 2  # one pair, swapped once
    k = switches[0].frame_no
    a_id = frames[0].shapes[0].object_id
    before = next(s.box for s in frames[k - 1].shapes if s.object_id == a_id)
    after = next(s.box for s in frames[k].shapes if s.object_id == a_id)
    # The id now follows the other car: 20 px on instead of the 2 px a car moves a frame.
    assert (k, before[0], after[0]) == (9, 16.0, 20.0)
    from labellake.etl.geometry import box_iou

    assert box_iou(before, after) > 0.4  # under QA's IoU-drop threshold it is not


def test_the_quiet_errors_leave_the_other_errors_as_they_were() -> None:
    from labellake.workflows.labeling.simulation import Worker

    loud = dict(miss_rate=0.3, position_jump_rate=0.5, gap_rate=0.5, size_jump_rate=0.5)
    plain, plain_errors = _label(_quiet_worker(**loud))
    quiet = Worker(
        "private.q", "sub", "first-level", "quiet", 5.0, 0.0, **loud, label_swap_rate=1.0
    )
    _, quiet_errors = _label(quiet)
    assert [e for e in quiet_errors if e.kind != "label_swap"] == plain_errors


def _audit(frames, only=None):  # type: ignore[no-untyped-def]
    from labellake.workflows.labeling.simulation import audit_clip, build_team

    truth = _crossing_clip()
    auditor = build_team("second-level", "us-east-1")[0]
    return audit_clip(
        frames,
        truth,
        [f.frame for f in truth.frames],
        "box",
        {"Car": 0, "Truck": 1},
        auditor,
        "audit",
        "clip_seq.json",
        only=only,
    )


def test_an_auditor_fails_and_fixes_a_wrong_class_or_attribute() -> None:
    for worker in (_quiet_worker(label_swap_rate=1.0), _quiet_worker(attribute_error_rate=1.0)):
        frames, _ = _label(worker)
        audited, changes = _audit(frames)
        assert changes > 0
        verdicts = {s.attributes["audit"] for f in audited for s in f.shapes}
        assert verdicts == {"Fail"}
        truck = [s for f in audited for s in f.shapes if s.object_name == "Truck:3"]
        assert {s.class_id for s in truck} == {1}
        assert {s.attributes["Moving"] for s in truck} == {"Stationary"}


def test_an_audit_of_routed_objects_checks_only_those() -> None:
    frames, _ = _label(_quiet_worker(label_swap_rate=1.0))
    ids = sorted({s.object_id for f in frames for s in f.shapes})
    routed = ids[0]
    audited, _ = _audit(frames, only={routed})
    for before, after in zip(frames, audited, strict=True):
        kept = {s.object_id: s for s in after.shapes}
        assert set(kept) == {s.object_id for s in before.shapes}
        for shape in before.shapes:
            seen = kept[shape.object_id]
            if shape.object_id == routed:
                assert seen.attributes["audit"] == "Fail"
            else:  # not routed: as it was, with no verdict
                assert "audit" not in seen.attributes
                assert (seen.class_id, seen.box) == (shape.class_id, shape.box)
