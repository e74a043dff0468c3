"""Tracks compared as wholes: sequence IoU, one-to-one matching, consensus and its
consolidated tracks, on hand-made clips whose right answers are known."""

from __future__ import annotations

import pytest

from labellake.workflows.quality.tracks import (
    Track,
    agreement,
    box_iou,
    consensus,
    consolidate,
    match,
    pair_agreement,
    sequence_iou,
)


def moving(
    object_id: str,
    start: tuple[float, float],
    step: tuple[float, float],
    frames: range,
    label: str = "Car",
    **attributes: str,
) -> Track:
    """A 10x10 box moving by ``step`` per frame, on ``frames``."""
    return Track(
        object_id,
        label,
        {f: (start[0] + step[0] * f, start[1] + step[1] * f, 10.0, 10.0) for f in frames},
        dict(attributes),
    )


def test_box_iou() -> None:
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 10, 10)) == 0.0
    assert box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_sequence_iou_counts_frames_only_one_track_is_on() -> None:
    full = moving("a", (0, 0), (1, 0), range(10))
    half = moving("b", (0, 0), (1, 0), range(5))
    assert sequence_iou(full, full) == 1.0
    assert sequence_iou(full, half) == pytest.approx(0.5)
    assert sequence_iou(full, Track("e", "Car", {})) == 0.0


def test_crossing_tracks_with_an_id_switch_match_where_they_agree_most() -> None:
    # Two cars cross at frame 10: one moves right, one moves left, on the same row.
    right = moving("right", (0, 0), (2, 0), range(20))
    left = moving("left", (38, 0), (-2, 0), range(20))
    # The worker's first track follows "right" up to the crossing, then "left" (a switch).
    switched = Track(
        "w1",
        "Car",
        {**{f: right.boxes[f] for f in range(12)}, **{f: left.boxes[f] for f in range(12, 20)}},
    )
    other = Track(
        "w2",
        "Car",
        {**{f: left.boxes[f] for f in range(12)}, **{f: right.boxes[f] for f in range(12, 20)}},
    )
    pairs = match([right, left], [other, switched])
    assert sorted((a, b) for a, b, _ in pairs) == [(0, 1), (1, 0)]
    # Each worker track agrees with its object on the 12 frames before the switch.
    assert all(score >= 0.6 for _, _, score in pairs)


def test_a_split_track_matches_one_part_and_leaves_the_other() -> None:
    truth = [moving("car", (0, 0), (1, 0), range(20))]
    split = [moving("p1", (0, 0), (1, 0), range(0, 8)), moving("p2", (0, 0), (1, 0), range(8, 20))]
    (pair,) = match(truth, split)
    assert pair[:2] == (0, 1) and pair[2] == pytest.approx(12 / 20)
    assert match(truth, split, threshold=0.7) == []


def test_no_tracks_on_either_side_match_nothing() -> None:
    car = [moving("car", (0, 0), (1, 0), range(5))]
    assert match([], car) == [] and match(car, []) == [] and match([], []) == []


def test_consolidation_takes_the_median_box_and_the_majority() -> None:
    members = [
        moving("a", (0, 0), (1, 0), range(4), "Car", Moving="Dynamic"),
        moving("b", (2, 0), (1, 0), range(4), "Car", Moving="Dynamic"),
        moving("c", (10, 0), (1, 0), range(1, 3), "Truck", Moving="Stationary"),
    ]
    track = consolidate(members, "c0")
    assert track.label == "Car" and track.attributes == {"Moving": "Dynamic"}
    # Frames 0 and 3 have two of three members (kept, median of two); 1 and 2 all three.
    assert sorted(track.boxes) == [0, 1, 2, 3]
    assert track.boxes[0] == (1.0, 0.0, 10.0, 10.0)
    assert track.boxes[1] == (3.0, 0.0, 10.0, 10.0)  # median of 1, 3 and 11
    only_one = consolidate(
        [
            members[2],
            Track("x", "Truck", {1: (0, 0, 1, 1), 5: (0, 0, 1, 1)}),
            Track("y", "Truck", {6: (0, 0, 1, 1)}),
        ],
        "c1",
    )
    assert sorted(only_one.boxes) == [1]  # frames 2, 5 and 6 have one of three members


def test_consensus_of_three_workers() -> None:
    car = moving("car", (0, 0), (1, 0), range(10))
    bike = moving("bike", (50, 50), (0, 1), range(10), "Bike")
    by_worker = {
        "w1": [car, bike],
        "w2": [
            moving("c2", (0.5, 0), (1, 0), range(10)),
            moving("b2", (50, 50), (0, 1), range(10), "Bike"),
        ],
        "w3": [moving("c3", (0, 0.5), (1, 0), range(10))],  # missed the bike
        "w4": [],  # a worker who drew nothing
    }
    groups = consensus(by_worker)
    assert [sorted(t.worker for t in g.members) for g in groups] == [
        ["w1", "w2", "w3"],
        ["w1", "w2"],
    ]
    car_group, bike_group = groups
    assert car_group.consolidated.label == "Car" and bike_group.consolidated.label == "Bike"
    workers = list(by_worker)
    assert agreement(car_group, workers[:3]) > 0.85
    assert agreement(bike_group, workers[:3]) == pytest.approx(1 / 3)
    assert agreement(car_group, ["w1"]) == 1.0
    assert pair_agreement(groups, "w1", "w2") > 0.85
    assert pair_agreement(groups, "w1", "w3") < 0.5  # w3 missed the bike
    assert pair_agreement(groups, "w4", "w4") == 1.0  # nothing drawn, nothing to disagree on


def test_consensus_of_nobody_is_empty() -> None:
    assert consensus({}) == [] and consensus({"w1": [], "w2": []}) == []


def test_three_simulated_workers_consolidate_to_better_than_the_worst() -> None:
    """Three first-level workers label one generated clip; their consensus scores against
    the clip's truth at least as well as the best of them, and the SeqLabel frames
    made from it hold every consolidated box."""
    import numpy as np

    from labellake.workflows.labeling.simulation import build_team, label_clip
    from labellake.workflows.quality.gold import Clip, score
    from labellake.workflows.quality.tracks import from_frames, to_frames
    from labellake.workflows.samples.synthetic import render_clip

    _, truth = render_clip(np.random.default_rng(5), 40, 640, 360, "clip-01")
    names = [f.frame for f in truth.frames]
    class_ids, class_map = {"Vehicle": 0}, {"0": "Vehicle"}
    gold = [Track(f"g-{track}", "Vehicle", boxes) for track, boxes in _truth_tracks(truth).items()]
    workers = build_team("first-level", "us-east-1", seed=3)[:3]
    by_worker = {}
    for worker in workers:
        frames, _ = label_clip(truth, names, "box", class_ids, worker, "job", "clip-01_seq.json")
        by_worker[worker.worker_id] = from_frames(frames, class_map, worker.worker_id)
    groups = consensus(by_worker)
    consolidated = [g.consolidated for g in groups if len(g.members) >= 2]
    singles = [score([Clip(len(names), gold, tracks)]).idf1 for tracks in by_worker.values()]
    together = score([Clip(len(names), gold, consolidated)]).idf1
    assert together >= max(singles) > min(singles)  # better than each of them here
    frames = to_frames(consolidated, names, class_ids)
    assert sum(len(f.shapes) for f in frames) == sum(len(t.boxes) for t in consolidated)
    assert from_frames(frames, class_map)[0].boxes == consolidated[0].boxes


def _truth_tracks(truth):  # type: ignore[no-untyped-def]
    tracks: dict[str, dict[int, tuple[float, float, float, float]]] = {}
    for number, frame in enumerate(truth.frames):
        for obj in frame.objects:
            if obj.kind == "box":
                tracks.setdefault(obj.track_id, {})[number] = obj.box
    return tracks
