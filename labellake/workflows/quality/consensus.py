"""Consensus of k workers on one clip: their tracks matched (sequence IoU, Hungarian
assignment, ``tracks.consensus``), one consolidated answer, and how much they agreed.

- The consolidated answer keeps the objects at least half the workers drew, each the
  per-frame median box of its matched tracks with the majority label and attributes
  (``tracks.consolidate``); frame attributes take the majority value per frame.
- An object's agreement is the mean sequence IoU over every pair of the k workers, a
  worker who did not draw it counting 0 (``tracks.agreement``). Below ``minAgreement``
  (qaFilter mode consensus) it goes to the next level.
- A pair of workers' agreement on the clip is the mean, over the objects either drew, of
  their tracks' sequence IoU (``tracks.pair_agreement``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from labellake.workflows.labeling.formats import FrameLabels
from labellake.workflows.quality import tracks

MATCH_IOU = 0.5  # sequence IoU two workers' tracks need to be one object


@dataclass(frozen=True)
class ClipConsensus:
    frames: list[FrameLabels]  # the consolidated answer
    objects: list[dict[str, Any]]  # consensus_objects rows
    pairs: list[dict[str, Any]]  # consensus_agreement rows


def clip_consensus(
    answers: dict[str, list[FrameLabels]],
    frame_names: list[str],
    class_ids: dict[str, int],
    job_name: str,
    source_ref: str,
) -> ClipConsensus:
    """The consolidated labels of one clip from each worker's frames (box tracks)."""
    workers = sorted(answers)
    class_map = {str(cid): label for label, cid in class_ids.items()}
    by_worker = {w: tracks.from_frames(answers[w], class_map, w) for w in workers}
    groups = tracks.consensus(by_worker, MATCH_IOU)
    kept: list[tracks.Track] = []
    objects = []
    for group in groups:
        drawn = sorted({t.worker for t in group.members})
        object_id = str(
            uuid.uuid5(
                uuid.NAMESPACE_URL,
                f"labellake:{job_name}:{source_ref}:{group.consolidated.object_id}",
            )
        )
        keep = 2 * len(drawn) >= len(workers)
        labels = Counter(t.label for t in group.members)
        if keep:
            kept.append(
                tracks.Track(
                    object_id,
                    group.consolidated.label,
                    group.consolidated.boxes,
                    group.consolidated.attributes,
                )
            )
        objects.append(
            {
                "job_name": job_name,
                "source_ref": source_ref,
                "object_id": object_id if keep else None,
                "label": group.consolidated.label,
                "workers": len(workers),
                "drawn_by": drawn,
                "agreement": tracks.agreement(group, workers),
                "label_agreement": labels.most_common(1)[0][1] / len(workers),
                "frames": len(group.consolidated.boxes),
                "kept": keep,
            }
        )
    frames = tracks.to_frames(kept, frame_names, class_ids)
    for frame in frames:
        votes = Counter(
            tuple(sorted(f.attributes.items()))
            for w in workers
            for f in answers[w]
            if f.frame_no == frame.frame_no
        )
        if votes:
            frame.attributes = dict(votes.most_common(1)[0][0])
    pairs = [
        {
            "job_name": job_name,
            "source_ref": source_ref,
            "worker_a": a,
            "worker_b": b,
            "objects": sum(1 for g in groups if {a, b} & {t.worker for t in g.members}),
            "agreement": tracks.pair_agreement(groups, a, b),
        }
        for a, b in combinations(workers, 2)
    ]
    return ClipConsensus(frames, objects, pairs)
