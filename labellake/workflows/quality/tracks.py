"""Video tracks compared as wholes: the overlap of two tracks over a clip, one-to-one
matching of two workers' tracks, and the consensus of several workers' tracks on a clip.

A track is one object's boxes over a clip's frames (frames numbered from 0). Two tracks
overlap by their *sequence IoU*: the sum, over the frames where both have a box, of the
boxes' IoU, divided by the number of frames where either has one. A track never drawn on
half its frames overlaps at most 0.5 with the full one, so a worker who splits an object
into two tracks, or switches identities where two objects cross, matches on the part of
the clip where the two agree most and loses the rest.

Matching is a linear assignment (scipy's Hungarian solver) that maximises the summed
sequence IoU; pairs below the threshold stay unmatched. Consensus over k workers grows
groups of tracks one worker at a time: each worker's tracks are matched against the
groups' consolidated tracks so far, a matched track joins its group, an unmatched one
starts a group. A group's consolidated track has, on each frame that at least half the
group's tracks are on, the per-coordinate median of their boxes; its label and each
attribute are the majority of its members' (ties to the first seen). Its agreement is the
mean sequence IoU of its members' worker pairs, a worker without a track in the group
counting 0, so an object only some workers drew agrees little.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy.optimize import linear_sum_assignment

from labellake.workflows.labeling.formats import FrameLabels, Shape

Box = tuple[float, float, float, float]  # left, top, width, height


@dataclass(frozen=True)
class Track:
    object_id: str
    label: str
    boxes: dict[int, Box]  # frame number -> box
    attributes: dict[str, str] = field(default_factory=dict)
    worker: str = ""


def box_iou(a: Box, b: Box) -> float:
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(right - left, 0.0) * max(bottom - top, 0.0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def sequence_iou(a: Track, b: Track) -> float:
    frames = a.boxes.keys() | b.boxes.keys()
    if not frames:
        return 0.0
    shared = a.boxes.keys() & b.boxes.keys()
    return sum(box_iou(a.boxes[f], b.boxes[f]) for f in shared) / len(frames)


def match(
    left: list[Track], right: list[Track], threshold: float = 0.5
) -> list[tuple[int, int, float]]:
    """One-to-one pairs (index in left, index in right, sequence IoU) with the largest
    summed overlap, each at least ``threshold``."""
    if not left or not right:
        return []
    overlap = np.array([[sequence_iou(a, b) for b in right] for a in left])
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    return [
        (int(r), int(c), float(overlap[r, c]))
        for r, c in zip(rows, cols, strict=True)
        if overlap[r, c] >= threshold
    ]


@dataclass
class Group:
    """Tracks of several workers taken for one object."""

    members: list[Track]
    consolidated: Track


def _majority(values: Iterable[str]) -> str:
    counts = Counter(values)
    best = max(counts.values())
    return next(v for v in counts if counts[v] == best)  # ties: the first seen


def consolidate(members: list[Track], object_id: str) -> Track:
    """One track for a group: the per-frame median box where at least half the members
    are, the majority label and attributes."""
    frames = Counter(f for t in members for f in t.boxes)
    boxes = {
        frame: tuple(
            float(v)
            for v in np.median(
                np.array([t.boxes[frame] for t in members if frame in t.boxes]), axis=0
            )
        )
        for frame, seen in sorted(frames.items())
        if 2 * seen >= len(members)
    }
    names = sorted({name for t in members for name in t.attributes})
    attributes = {
        name: _majority(t.attributes[name] for t in members if name in t.attributes)
        for name in names
    }
    return Track(object_id, _majority(t.label for t in members), boxes, attributes)  # type: ignore[arg-type]


def consensus(by_worker: dict[str, list[Track]], threshold: float = 0.5) -> list[Group]:
    """The objects k workers drew on one clip, each a group of matched tracks with its
    consolidated track (object ids ``c0``, ``c1``, ... in the order groups formed)."""
    groups: list[Group] = []
    for worker, tracks in by_worker.items():
        tracks = [Track(t.object_id, t.label, t.boxes, t.attributes, worker) for t in tracks]
        pairs = match([g.consolidated for g in groups], tracks, threshold)
        taken = set()
        for group_index, track_index, _ in pairs:
            group = groups[group_index]
            group.members.append(tracks[track_index])
            group.consolidated = consolidate(group.members, group.consolidated.object_id)
            taken.add(track_index)
        for index, track in enumerate(tracks):
            if index not in taken:
                groups.append(Group([track], consolidate([track], f"c{len(groups)}")))
    return groups


def agreement(group: Group, workers: list[str]) -> float:
    """Mean sequence IoU over every pair of ``workers``; a worker with no track in the
    group counts 0 against each other."""
    if len(workers) < 2:
        return 1.0
    by_worker = {t.worker: t for t in group.members}
    pairs = list(combinations(workers, 2))
    total = sum(
        sequence_iou(by_worker[a], by_worker[b]) if a in by_worker and b in by_worker else 0.0
        for a, b in pairs
    )
    return total / len(pairs)


def pair_agreement(groups: list[Group], a: str, b: str) -> float:
    """How much two workers agree on a clip: the mean, over the objects either drew, of
    their tracks' sequence IoU (0 where one of them did not draw it)."""
    scores = []
    for group in groups:
        by_worker = {t.worker: t for t in group.members}
        if a in by_worker or b in by_worker:
            both = a in by_worker and b in by_worker
            scores.append(sequence_iou(by_worker[a], by_worker[b]) if both else 0.0)
    return sum(scores) / len(scores) if scores else 1.0


def from_frames(
    frames: list[FrameLabels], class_map: dict[str, str], worker: str = ""
) -> list[Track]:
    """A worker's SeqLabel frames as tracks (boxes only; an object's attributes are the
    majority over its frames)."""
    boxes: dict[str, dict[int, Box]] = {}
    labels: dict[str, list[str]] = {}
    values: dict[str, dict[str, list[str]]] = {}
    for frame in frames:
        for shape in frame.shapes:
            if shape.kind != "box" or shape.box is None:
                continue
            boxes.setdefault(shape.object_id, {})[frame.frame_no] = tuple(shape.box)  # type: ignore[assignment]
            labels.setdefault(shape.object_id, []).append(
                class_map.get(str(shape.class_id), str(shape.class_id))
            )
            for name, value in shape.attributes.items():
                values.setdefault(shape.object_id, {}).setdefault(name, []).append(value)
    return [
        Track(
            object_id,
            _majority(labels[object_id]),
            track_boxes,
            {name: _majority(seen) for name, seen in values.get(object_id, {}).items()},
            worker,
        )
        for object_id, track_boxes in boxes.items()
    ]


def to_frames(
    tracks: list[Track], frame_names: list[str], class_ids: dict[str, int]
) -> list[FrameLabels]:
    """Tracks (consolidated ones, say) as SeqLabel frames; object names are
    ``<label>:<n>`` in the order given."""
    frames = [FrameLabels(frame_no=i, frame=name) for i, name in enumerate(frame_names)]
    counts: Counter[str] = Counter()
    for track in tracks:
        counts[track.label] += 1
        name = f"{track.label}:{counts[track.label]}"
        for frame_no, box in sorted(track.boxes.items()):
            if 0 <= frame_no < len(frames):
                frames[frame_no].shapes.append(
                    Shape(
                        track.object_id,
                        name,
                        class_ids[track.label],
                        "box",
                        box,
                        None,
                        dict(track.attributes),
                    )
                )
    return frames
