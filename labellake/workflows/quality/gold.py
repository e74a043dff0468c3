"""Scores of a worker's tracks against gold tracks (clips whose right answer is known).

The tracking metrics come from motrics (MIT; its HOTA matches TrackEval's, its CLEAR and
Identity metrics match py-motmetrics'): IDF1, MOTA, ID switches, and HOTA with its
detection (DetA) and association (AssA) parts, at IoU 0.5 as MOTChallenge scores them.
Several clips are scored as one sequence, one after another with their own objects, so
each metric pools its counts over the clips the way TrackEval combines sequences, rather
than averaging per-clip scores.

Two figures are labellake's own, over the worker's tracks matched one-to-one to the gold
ones by sequence IoU (``tracks.match``): the mean box IoU on the frames both are on, and
attribute accuracy (each gold attribute against the matched track's value, the majority
over its frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import motrics

from labellake.workflows.quality.tracks import Track, box_iou, match


@dataclass(frozen=True)
class GoldScore:
    clips: int
    frames: int
    gold_objects: int
    idf1: float
    mota: float
    hota: float
    deta: float
    assa: float
    id_switches: int
    false_positives: int
    misses: int
    box_iou: float | None  # mean over the matched tracks' shared frames; None: no match
    attribute_accuracy: float | None  # None: no gold attribute on a matched track


@dataclass(frozen=True)
class Clip:
    """One gold clip: its frame count, the gold tracks and the worker's."""

    frames: int
    gold: list[Track]
    worker: list[Track]


def _frames(clips: list[Clip], side: str) -> motrics.Frames:
    ids: list[list[int]] = []
    boxes: list[list[list[float]]] = []
    numbers: dict[tuple[int, str], int] = {}
    for index, clip in enumerate(clips):
        tracks: list[Track] = getattr(clip, side)
        start = len(ids)
        ids += [[] for _ in range(clip.frames)]
        boxes += [[] for _ in range(clip.frames)]
        for track in tracks:
            number = numbers.setdefault((index, track.object_id), len(numbers) + 1)
            for frame, box in track.boxes.items():
                if 0 <= frame < clip.frames:
                    ids[start + frame].append(number)
                    boxes[start + frame].append([float(v) for v in box])
    return motrics.Frames(ids=ids, boxes=boxes)


def score(clips: list[Clip], iou_threshold: float = 0.5) -> GoldScore:
    """The worker's score over the gold clips they labeled."""
    result = motrics.evaluate(
        _frames(clips, "gold"),
        _frames(clips, "worker"),
        iou_threshold=iou_threshold,
        box_format="xywh",
    )
    ious: list[float] = []
    right = asked = 0
    for clip in clips:
        for gold_index, worker_index, _ in match(clip.gold, clip.worker, iou_threshold):
            gold, worker = clip.gold[gold_index], clip.worker[worker_index]
            ious += [
                box_iou(gold.boxes[f], worker.boxes[f])
                for f in gold.boxes.keys() & worker.boxes.keys()
            ]
            for name, value in gold.attributes.items():
                asked += 1
                right += worker.attributes.get(name) == value
    return GoldScore(
        clips=len(clips),
        frames=sum(c.frames for c in clips),
        gold_objects=sum(len(c.gold) for c in clips),
        idf1=float(result.identity.idf1),
        mota=float(result.clear.mota),
        hota=float(result.hota.hota),
        deta=float(result.hota.deta),
        assa=float(result.hota.assa),
        id_switches=int(result.clear.num_switches),
        false_positives=int(result.clear.num_false_positives),
        misses=int(result.clear.num_misses),
        box_iou=sum(ious) / len(ious) if ious else None,
        attribute_accuracy=right / asked if asked else None,
    )


def read_mot(text: str) -> tuple[int, list[Track]]:
    """A MOTChallenge 2D file (frame, id, left, top, width, height, ...; frames from 1)
    as tracks on frames from 0; returns the last frame number and the tracks."""
    boxes: dict[str, dict[int, tuple[float, float, float, float]]] = {}
    last = 0
    for line in text.splitlines():
        parts = line.replace(" ", "").split(",")
        if len(parts) < 6 or not parts[0]:
            continue
        frame = int(float(parts[0]))
        last = max(last, frame)
        box = tuple(float(v) for v in parts[2:6])
        boxes.setdefault(str(int(float(parts[1]))), {})[frame - 1] = box  # type: ignore[assignment]
    return last, [Track(object_id, "", frames) for object_id, frames in boxes.items()]
