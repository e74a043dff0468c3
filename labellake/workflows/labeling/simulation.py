"""The simulated workforce: deterministic workers who label from ground truth.

Each worker has a speed (seconds per object per frame) and an accuracy
profile. First-level workers add jitter and inject the errors real annotators
make (misses, false positives, ID switches, sudden position or size jumps,
gaps, duplicates, boxes out of the image, polyline vertex noise) and record
every error they inject. Some errors no QA check can see (``QUIET_KINDS``): a
missed track, a track labeled with another class, an attribute given another value,
two crossing tracks whose ids swap where they cross, a box drifting sideways by
1% of its width per frame (at most 40%). Their rates are fixed per worker (in
``build_team``: 3%, 5%, 5% and 5% of tracks, times the worker's care factor).
Second-level workers audit: they fix what deviates from the ground truth beyond a
tolerance, and mark each object Pass or Fail.
Everything here is pure: same seed, same labels.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from labellake.etl.geometry import box_iou
from labellake.workflows.labeling.formats import FrameLabels, Shape
from labellake.workflows.samples.truth import ClipTruth, TruthObject

ERROR_KINDS = (
    "missed",
    "false_positive",
    "id_switch",
    "position_jump",
    "size_jump",
    "gap",
    "duplicate",
    "out_of_image",
    "vertex_noise",
    "too_few_vertices",
    # Errors no QA check sees (QUIET_KINDS): only an audit, gold or consensus finds them.
    "label_swap",
    "attribute_error",
    "crossing_switch",
    "drift",
)
QUIET_KINDS = ("missed", "label_swap", "attribute_error", "crossing_switch", "drift")
# How far a drifting box moves per frame (share of its width), and at most.
DRIFT_PER_FRAME, DRIFT_MAX = 0.01, 0.4


@dataclass(frozen=True)
class Worker:
    worker_id: str
    sub: str
    team: str
    name: str
    seconds_per_object_frame: float
    jitter: float  # edge error as a share of the box's size
    miss_rate: float = 0.0
    false_positive_rate: float = 0.0
    id_switch_rate: float = 0.0
    position_jump_rate: float = 0.0
    size_jump_rate: float = 0.0
    gap_rate: float = 0.0
    duplicate_rate: float = 0.0
    out_of_image_rate: float = 0.0
    vertex_noise_px: float = 0.0
    lane_miss_rate: float = 0.0
    label_swap_rate: float = 0.0  # a track labeled with another class
    attribute_error_rate: float = 0.0  # one attribute of a track given another value
    crossing_switch_rate: float = 0.0  # two crossing tracks swap ids where they cross
    drift_rate: float = 0.0  # a track's box creeps sideways, a little more each frame
    return_rate: float = 0.0  # share of tasks taken and then returned
    decline_rate: float = 0.0  # share of tasks declined before starting


@dataclass(frozen=True)
class InjectedError:
    kind: str
    object_id: str
    frame_no: int
    detail: str = ""


def clip_key(source_ref: str) -> str:
    """A data object's name without its location, so a moved lake labels the same way."""
    return source_ref.rstrip("/").rsplit("/", 1)[-1]


def seeded(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def team_name(workteam_arn: str) -> str:
    """arn:...:workteam/private-crowd/first-level -> first-level."""
    return workteam_arn.rstrip("/").rsplit("/", 1)[-1]


def build_team(team: str, region: str, seed: int = 0, size: int | None = None) -> list[Worker]:
    """The workers of a team; `second-level` (and any name with "audit" or "expert") are experts."""
    expert = team == "second-level" or "audit" in team or "expert" in team
    size = size or (3 if expert else 5)
    workers = []
    for i in range(size):
        rng = seeded("worker", seed, team, i)
        worker_id = f"private.{region}.{_hex(rng, 16)}"
        sub = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if expert:
            workers.append(
                Worker(
                    worker_id=worker_id,
                    sub=sub,
                    team=team,
                    name=f"{team}-auditor-{i + 1}",
                    seconds_per_object_frame=rng.uniform(1.5, 3.0),
                    jitter=rng.uniform(0.004, 0.01),
                    vertex_noise_px=0.5,
                    return_rate=0.02,
                    decline_rate=0.01,
                )
            )
            continue
        care = rng.uniform(0.5, 1.5)  # >1: sloppier than average
        workers.append(
            Worker(
                worker_id=worker_id,
                sub=sub,
                team=team,
                name=f"{team}-worker-{i + 1}",
                seconds_per_object_frame=rng.uniform(3.0, 8.0),
                jitter=rng.uniform(0.01, 0.02) * care,
                miss_rate=0.03 * care,
                false_positive_rate=0.15 * care,
                id_switch_rate=0.06 * care,
                position_jump_rate=0.08 * care,
                size_jump_rate=0.08 * care,
                gap_rate=0.06 * care,
                duplicate_rate=0.05 * care,
                out_of_image_rate=0.04 * care,
                vertex_noise_px=1.5 * care,
                lane_miss_rate=0.04 * care,
                label_swap_rate=0.03 * care,
                attribute_error_rate=0.05 * care,
                crossing_switch_rate=0.05 * care,
                drift_rate=0.05 * care,
                return_rate=0.05 * care,
                decline_rate=0.03 * care,
            )
        )
    return workers


def object_id(job: str, track: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"labellake:{job}:{track}"))


@dataclass
class _Track:
    truth_id: str
    object_id: str
    object_name: str
    class_id: int
    attributes: dict[str, str]
    frames: dict[int, TruthObject] = field(default_factory=dict)  # frame index -> truth


def _tracks(
    truth: ClipTruth, frame_names: list[str], kind: str, class_ids: dict[str, int], job: str
) -> list[_Track]:
    wanted = "polyline" if kind == "polyline" else "box"
    by_name = {f.frame: f for f in truth.frames}
    tracks: dict[str, _Track] = {}
    for index, name in enumerate(frame_names):
        frame = by_name.get(name)
        if frame is None:
            continue
        for obj in frame.objects:
            if obj.kind != wanted:
                continue
            track = tracks.get(obj.track_id)
            if track is None:
                label = obj.label if obj.label in class_ids else next(iter(class_ids))
                track = _Track(
                    obj.track_id,
                    object_id(job, obj.track_id),
                    f"{label}:{len(tracks) + 1}",
                    class_ids[label],
                    dict(obj.attributes),
                )
                tracks[obj.track_id] = track
            track.frames[index] = obj
    return list(tracks.values())


def _jitter(
    box: tuple[float, float, float, float], rng: random.Random, share: float
) -> tuple[float, float, float, float]:
    """The box with each edge off by a normal error of ``share`` of the box's size."""
    left, top, width, height = box
    sigma = share * (width * height) ** 0.5
    return (
        left + rng.gauss(0, sigma),
        top + rng.gauss(0, sigma),
        max(2.0, width + rng.gauss(0, sigma)),
        max(2.0, height + rng.gauss(0, sigma)),
    )


def _shape(
    track: _Track,
    kind: str,
    box=None,
    vertices=None,
    object_id_=None,  # type: ignore[no-untyped-def]
    attributes=None,
) -> Shape:
    if kind in ("polygon", "keypoint") and box is not None:
        left, top, width, height = box
        vertices = (
            [(left, top), (left + width, top), (left + width, top + height), (left, top + height)]
            if kind == "polygon"
            else [(left + width / 2, top + height / 2)]
        )
        box = None
    return Shape(
        object_id=object_id_ or track.object_id,
        object_name=track.object_name,
        class_id=track.class_id,
        kind=kind,
        box=box,
        vertices=vertices,
        attributes=dict(track.attributes if attributes is None else attributes),
    )


def label_clip(
    truth: ClipTruth,
    frame_names: list[str],
    kind: str,
    class_ids: dict[str, int],
    worker: Worker,
    job: str,
    source_ref: str,
) -> tuple[list[FrameLabels], list[InjectedError]]:
    """A first-level worker's labels for one clip, and the errors they injected."""
    rng = seeded("label", job, clip_key(source_ref), worker.worker_id)
    frames = [FrameLabels(frame_no=i, frame=name) for i, name in enumerate(frame_names)]
    errors: list[InjectedError] = []
    tracks = _tracks(truth, frame_names, kind, class_ids, job)
    width = truth.width or 10**6
    if kind == "polyline":
        for track in tracks:
            if rng.random() < worker.lane_miss_rate:
                errors.append(InjectedError("missed", track.object_id, min(track.frames)))
                continue
            sparse_frame = (
                min(track.frames) + rng.randrange(len(track.frames))
                if (rng.random() < worker.lane_miss_rate)
                else None
            )
            for index, obj in track.frames.items():
                vertices = [
                    (
                        x + rng.gauss(0, worker.vertex_noise_px),
                        y + rng.gauss(0, worker.vertex_noise_px),
                    )
                    for x, y in obj.vertices or []
                ]
                if index == sparse_frame and index in track.frames:
                    vertices = vertices[:1]
                    errors.append(InjectedError("too_few_vertices", track.object_id, index))
                frames[index].shapes.append(_shape(track, kind, vertices=vertices))
        return frames, errors

    boxes: dict[str, dict[int, tuple[float, float, float, float]]] = {}
    for track in tracks:
        if rng.random() < worker.miss_rate:
            errors.append(InjectedError("missed", track.object_id, min(track.frames)))
            continue
        boxes[track.object_id] = {
            i: _jitter(obj.box, rng, worker.jitter)  # type: ignore[arg-type]
            for i, obj in track.frames.items()
        }
    by_id = {t.object_id: t for t in tracks}
    ids: dict[str, dict[int, str]] = {oid: {i: oid for i in track} for oid, track in boxes.items()}
    extra: list[tuple[int, Shape]] = []
    for oid in list(boxes):
        track_boxes = boxes[oid]
        indices = sorted(track_boxes)
        if len(indices) < 6:
            continue
        inner = indices[2:-2]
        # The gap first, so every later error lands on a frame that is still there.
        if rng.random() < worker.gap_rate and len(inner) > 6:
            start = rng.choice(inner[:-4])
            for k in range(start, start + 3):
                track_boxes.pop(k, None)
            errors.append(InjectedError("gap", oid, start + 3, "3 frames left out"))
            inner = [i for i in inner if i in track_boxes]
        if rng.random() < worker.size_jump_rate:
            k = rng.choice(inner)
            left, top, w, h = track_boxes[k]
            scale = rng.choice((0.45, 1.8))
            track_boxes[k] = (
                left + w * (1 - scale) / 2,
                top + h * (1 - scale) / 2,
                w * scale,
                h * scale,
            )
            errors.append(InjectedError("size_jump", oid, k, f"scale {scale}"))
        if rng.random() < worker.position_jump_rate:
            k = rng.choice(inner)
            left, top, w, h = track_boxes[k]
            track_boxes[k] = (left + 1.6 * w * rng.choice((-1, 1)), top, w, h)
            errors.append(InjectedError("position_jump", oid, k, "shifted 1.6 widths"))
        if rng.random() < worker.out_of_image_rate and truth.width:
            k = rng.choice(inner)
            left, top, w, h = track_boxes[k]
            track_boxes[k] = (width - w * 0.4, top, w, h)
            errors.append(InjectedError("out_of_image", oid, k, "box crosses the right edge"))
        if rng.random() < worker.duplicate_rate:
            k = rng.choice(inner)
            if k in track_boxes:
                dup = _jitter(track_boxes[k], rng, 0.01)
                dup_id = object_id(job, f"{oid}-duplicate-{k}")
                extra.append((k, _shape(by_id[oid], kind, box=dup, object_id_=dup_id)))
                errors.append(InjectedError("duplicate", dup_id, k, f"duplicates {oid}"))
    # ID switches: two tracks that overlap in time swap ids from a frame on.
    if len(boxes) >= 2:
        for oid in list(boxes):
            if rng.random() >= worker.id_switch_rate:
                continue
            partners = [p for p in boxes if p != oid and len(set(boxes[p]) & set(boxes[oid])) > 6]
            if not partners:
                continue
            other = rng.choice(partners)
            shared = sorted(set(boxes[oid]) & set(boxes[other]))
            k = shared[len(shared) // 2]
            for i in shared[shared.index(k) :]:
                ids[oid][i], ids[other][i] = ids[other][i], ids[oid][i]
            errors.append(InjectedError("id_switch", oid, k, f"swapped with {other}"))
            errors.append(InjectedError("id_switch", other, k, f"swapped with {oid}"))
    errors += _quiet_errors(truth, tracks, boxes, ids, by_id, class_ids, worker, job, source_ref)
    for oid, track_boxes in boxes.items():
        for i, box in track_boxes.items():
            shown = by_id[ids[oid][i]]
            frames[i].shapes.append(_shape(shown, kind, box=box, object_id_=shown.object_id))
    for i, shape in extra:
        frames[i].shapes.append(shape)
    if frame_names and rng.random() < worker.false_positive_rate * 3:
        start = rng.randrange(len(frame_names))
        fake_id = object_id(job, f"{clip_key(source_ref)}-false-positive-{start}")
        fake = _Track(
            "none",
            fake_id,
            f"{next(iter(class_ids))}:fp",
            0,
            dict(tracks[0].attributes) if tracks else {},
        )
        w, h = 0.06 * (truth.width or 640), 0.05 * (truth.width or 640)
        left, top = (
            rng.uniform(0, (truth.width or 640) - w),
            rng.uniform(0, (truth.height or 360) - h),
        )
        for i in range(start, min(len(frame_names), start + 2)):
            frames[i].shapes.append(_shape(fake, kind, box=(left, top, w, h)))
        errors.append(InjectedError("false_positive", fake_id, start, "2-frame spurious track"))
    for frame in frames:
        if kind == "box":
            frame.attributes = {"Number_Of_Vehicles": str(len(frame.shapes))}
    return frames, errors


def _quiet_errors(
    truth: ClipTruth,
    tracks: list[_Track],
    boxes: dict[str, dict[int, tuple[float, float, float, float]]],
    ids: dict[str, dict[int, str]],
    by_id: dict[str, _Track],
    class_ids: dict[str, int],
    worker: Worker,
    job: str,
    source_ref: str,
) -> list[InjectedError]:
    """Label swaps, attribute errors, switches where two tracks cross and slow drift, on
    the worker's tracks (``boxes``, ``ids`` and ``by_id`` are changed in place). Drawn
    from their own seeded stream, so the other errors stay as they were."""
    rng = seeded("quiet", job, clip_key(source_ref), worker.worker_id)
    errors: list[InjectedError] = []
    classes = sorted(set(class_ids.values()))
    seen_values: dict[str, set[str]] = defaultdict(set)
    for track in tracks:
        for name, value in track.attributes.items():
            seen_values[name].add(value)
    for oid in sorted(boxes):
        track = by_id[oid]
        first = min(boxes[oid])
        if rng.random() < worker.label_swap_rate and len(classes) > 1:
            other = rng.choice([c for c in classes if c != track.class_id])
            track = by_id[oid] = _Track(
                track.truth_id, oid, track.object_name, other, dict(track.attributes), track.frames
            )
            errors.append(InjectedError("label_swap", oid, first, f"class {other}"))
        if rng.random() < worker.attribute_error_rate and track.attributes:
            name = rng.choice(sorted(track.attributes))
            others = sorted(seen_values[name] - {track.attributes[name]})
            if others:
                value = rng.choice(others)
                by_id[oid] = _Track(
                    track.truth_id,
                    oid,
                    track.object_name,
                    track.class_id,
                    {**track.attributes, name: value},
                    track.frames,
                )
                errors.append(InjectedError("attribute_error", oid, first, f"{name}={value}"))
        if rng.random() < worker.drift_rate and len(boxes[oid]) >= 8:
            indices = sorted(boxes[oid])
            start = indices[len(indices) // 4]
            for i in indices:
                if i <= start:
                    continue
                left, top, w, h = boxes[oid][i]
                shift = min(DRIFT_PER_FRAME * (i - start), DRIFT_MAX) * w
                boxes[oid][i] = (left + shift, top, w, h)
            errors.append(InjectedError("drift", oid, start, f"{DRIFT_PER_FRAME:g} width/frame"))
    # Where two tracks' boxes cross, the worker follows the wrong one from there on.
    switched: set[str] = set()  # a pair swaps once (twice would undo it)
    for oid in sorted(boxes):
        if rng.random() >= worker.crossing_switch_rate or oid in switched:
            continue
        crossings = [
            (i, other)
            for other in sorted(boxes)
            if other != oid and other not in switched
            for i in sorted(set(boxes[oid]) & set(boxes[other]))
            # Boxes that mostly overlap: the swap moves each id less than QA's IoU check sees.
            if box_iou(boxes[oid][i], boxes[other][i]) > 0.5
        ]
        if not crossings:
            continue
        k, other = crossings[0]
        switched |= {oid, other}
        for i in sorted(set(boxes[oid]) & set(boxes[other])):
            if i >= k:
                ids[oid][i], ids[other][i] = ids[other][i], ids[oid][i]
        errors.append(InjectedError("crossing_switch", oid, k, f"swapped with {other}"))
        errors.append(InjectedError("crossing_switch", other, k, f"swapped with {oid}"))
    return errors


def audit_clip(
    parent: list[FrameLabels],
    truth: ClipTruth,
    frame_names: list[str],
    kind: str,
    class_ids: dict[str, int],
    auditor: Worker,
    job: str,
    source_ref: str,
    tolerance_iou: float = 0.6,
    tolerance_px: float = 8.0,
    only: set[str] | None = None,
) -> tuple[list[FrameLabels], int]:
    """An auditor's pass over the parent's labels: fixes deviations (geometry beyond the
    tolerance, another track's id, a wrong class or attribute), marks Pass or Fail.

    ``only``: the objects routed to this audit. The auditor checks just those, and leaves
    the others as they were with no verdict; objects nobody drew are still added.
    Returns the adjusted frames and how many shapes were changed, added or removed.
    """
    rng = seeded("audit", job, clip_key(source_ref), auditor.worker_id)
    tracks = {t.truth_id: t for t in _tracks(truth, frame_names, kind, class_ids, job)}
    parent_by_index = {f.frame_no: f for f in parent}
    matches: dict[int, list[tuple[Shape, str | None]]] = {}
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for index in range(len(frame_names)):
        frame = parent_by_index.get(index, FrameLabels(index, frame_names[index]))
        truths = [(tid, t.frames[index]) for tid, t in tracks.items() if index in t.frames]
        taken: set[str] = set()
        pairs: list[tuple[Shape, str | None]] = []
        for shape in frame.shapes:
            best, best_score = None, 0.0
            for tid, obj in truths:
                if tid in taken:
                    continue
                score = _similarity(shape, obj)
                if score > best_score:
                    best, best_score = tid, score
            if best is not None and best_score >= 0.3:
                taken.add(best)
                votes[shape.object_id][best] += 1
            else:
                best = None
            pairs.append((shape, best))
        matches[index] = pairs
    owner = {oid: counts.most_common(1)[0][0] for oid, counts in votes.items()}
    id_for_truth: dict[str, str] = {}
    for oid, tid in sorted(owner.items(), key=lambda item: -votes[item[0]][item[1]]):
        id_for_truth.setdefault(tid, oid)
    failed: set[str] = set()
    changes = 0
    out: list[FrameLabels] = []
    for index, name in enumerate(frame_names):
        source = parent_by_index.get(index, FrameLabels(index, name))
        frame = FrameLabels(frame_no=index, frame=name, attributes=dict(source.attributes))
        seen_truth: set[str] = set()
        for shape, tid in matches[index]:
            if only is not None and shape.object_id not in only:
                frame.shapes.append(shape)  # not routed to this audit: left as it was
                if tid is not None:
                    seen_truth.add(tid)
                continue
            if tid is None:
                changes += 1  # a false positive or a duplicate: removed
                failed.add(shape.object_id)
                continue
            keep_id, target = id_for_truth.get(tid, shape.object_id), tid
            if only is not None:
                # The object keeps its id; where it follows another track, it is redrawn
                # on the track it mostly follows, or removed where that track is absent.
                keep_id, target = shape.object_id, owner.get(shape.object_id, tid)
            seen_truth.add(tid)
            if target not in tracks or index not in tracks[target].frames:
                changes += 1
                failed.add(shape.object_id)
                continue
            truth_track = tracks[target]
            truth_obj = truth_track.frames[index]
            fixed = shape
            if (
                keep_id != shape.object_id
                or target != tid
                or not _acceptable(shape, truth_obj, tolerance_iou, tolerance_px)
                or shape.class_id != truth_track.class_id
                or any(shape.attributes.get(k) != v for k, v in truth_track.attributes.items())
            ):
                fixed = _from_truth(truth_track, truth_obj, kind, rng, auditor, keep_id)
                changes += 1
                failed.add(keep_id)
            frame.shapes.append(fixed)
        for tid, track in tracks.items():
            if index in track.frames and tid not in seen_truth:
                keep_id = id_for_truth.get(tid, track.object_id)
                if only is not None and tid in id_for_truth and keep_id not in only:
                    continue  # a gap in an object this audit does not check
                frame.shapes.append(
                    _from_truth(track, track.frames[index], kind, rng, auditor, keep_id)
                )
                changes += 1
                failed.add(keep_id)
        out.append(frame)
    for frame in out:
        for shape in frame.shapes:
            if only is not None and shape.object_id not in only and shape.object_id not in failed:
                continue
            shape.attributes = {
                **shape.attributes,
                "audit": "Fail" if shape.object_id in failed else "Pass",
            }
    return out, changes


def _distance(shape: Shape, obj: TruthObject) -> float:
    """Mean distance in pixels from the shape's vertices to the nearest true vertex."""
    if not shape.vertices or not obj.vertices:
        return float("inf")
    distances = [
        min(((x - tx) ** 2 + (y - ty) ** 2) ** 0.5 for tx, ty in obj.vertices)
        for x, y in shape.vertices
    ]
    return sum(distances) / len(distances)


def _similarity(shape: Shape, obj: TruthObject) -> float:
    """How well a shape matches a true object, 0..1: IoU for boxes, a distance score otherwise.

    Polygons and keypoints are derived from boxes and always match their object.
    """
    if shape.kind == "box" and shape.box and obj.box:
        return box_iou(shape.box, obj.box)
    if shape.kind == "polyline":
        distance = _distance(shape, obj)
        return max(0.0, 1 - distance / 40.0)
    return 1.0


def _acceptable(shape: Shape, obj: TruthObject, tolerance_iou: float, tolerance_px: float) -> bool:
    if shape.kind == "box":
        return _similarity(shape, obj) >= tolerance_iou
    if shape.kind == "polyline":
        return len(shape.vertices or []) >= 2 and _distance(shape, obj) <= tolerance_px
    return True


def _from_truth(
    track: _Track, obj: TruthObject, kind: str, rng: random.Random, auditor: Worker, keep_id: str
) -> Shape:
    if kind == "polyline":
        vertices = [
            (x + rng.gauss(0, auditor.vertex_noise_px), y + rng.gauss(0, auditor.vertex_noise_px))
            for x, y in obj.vertices or []
        ]
        return _shape(track, kind, vertices=vertices, object_id_=keep_id)
    return _shape(
        track,
        kind,
        box=_jitter(obj.box, rng, auditor.jitter),  # type: ignore[arg-type]
        object_id_=keep_id,
    )


def parse_seqlabel(document: dict, kind: str) -> list[FrameLabels]:  # type: ignore[type-arg]
    """A SeqLabel.json document back into frames (for auditing a parent job's output)."""
    entries = document.get("tracking-annotations") or document.get("detection-annotations") or []
    frames = []
    for position, entry in enumerate(entries):
        frame = FrameLabels(
            frame_no=int(entry.get("frame-no", position)),
            frame=str(entry.get("frame", "")),
            attributes=dict(entry.get("frame-attributes") or {}),
        )
        for key, shape_kind in (
            ("annotations", "box"),
            ("polylines", "polyline"),
            ("polygons", "polygon"),
            ("keypoints", "keypoint"),
        ):
            for item in entry.get(key) or []:
                box = None
                if shape_kind == "box":
                    box = (
                        float(item["left"]),
                        float(item["top"]),
                        float(item["width"]),
                        float(item["height"]),
                    )
                vertices = [(float(v["x"]), float(v["y"])) for v in item.get("vertices") or []]
                frame.shapes.append(
                    Shape(
                        object_id=str(item.get("object-id", "")),
                        object_name=str(item.get("object-name", "")),
                        class_id=int(item.get("class-id", item.get("class_id", 0)) or 0),
                        kind=shape_kind,
                        box=box,
                        vertices=vertices or None,
                        attributes={
                            k: v
                            for k, v in (item.get("label-category-attributes") or {}).items()
                            if k != "audit"
                        },
                    )
                )
        frames.append(frame)
    return frames
