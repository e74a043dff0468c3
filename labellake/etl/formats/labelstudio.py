"""Label Studio JSON exports <-> the lake's `annotations` rows.

An export is a list of tasks (or one task object, as cloud target storage writes them),
each with its `data` (the image or video it shows), `annotations` (people's work, each a
`result` list of regions) and `predictions` (model output). The tasks are streamed one at
a time, so an export of any size is read in bounded memory.

What is imported:

- the annotations of a task, one row per region (per frame for video), except those
  marked `was_cancelled` (the person skipped the task): noted, not imported;
- a task's predictions only when it has no annotation at all, with `confidence` set from
  the score; on an annotated task the annotations are the labels and the predictions are
  noted, not imported;
- rectangles, polygons (an open polygon, `closed: false`, is a polyline), keypoints and
  video rectangles; results that share a region's id (per-region choices, text areas,
  numbers, ratings) become that region's `attributes`, keyed by their `from_name`;
- brush masks, ellipses, vectors and bitmasks are regions the lake cannot hold: seen and
  dropped with a reason; task-level results (choices, text areas, relations, ...) are not
  shapes and are noted once per type.

A video rectangle is a `sequence` of keyframes (frames from 1, coordinates in percent),
expanded the way Label Studio's editor draws it (`VideoRectangleRegion.getShape` and
`VideoRegion.isInLifespan`): from an enabled keyframe the box is interpolated linearly
up to the next keyframe; a disabled keyframe shows on its own frame only; the last
keyframe, when enabled, holds until the video's last frame (`framesCount`).

Written back (`to_labelstudio`), a data object with rows on more than one frame is a video
task: each track is a video rectangle whose every row is a keyframe, enabled while the
next row is on the next frame, so a gap or the track's end is a disabled keyframe
(a disabled keyframe still shows on its own frame). Video tasks hold rectangles only.
Other data objects are image tasks; a polyline is an open polygon, a keypoint row with
several points one Label Studio keypoint per point, and attributes without a place of
their own are per-region text areas. Rows imported from predictions go back to
`predictions`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import Any, BinaryIO

import ijson
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from labellake.errors import LabellakeError
from labellake.etl.export import (
    BATCH_ROWS,
    SHAPE_COLUMNS,
    Pieces,
    joined,
    rows_of,
    values_of,
)
from labellake.etl.formats import CHUNK_ROWS, Chunk, ImportLog
from labellake.etl.labeling import AnnotationRows, creation_time, integer, number
from labellake.lake import get_table

SHAPES = {
    "rectanglelabels": "box",
    "rectangle": "box",
    "polygonlabels": "polygon",
    "polygon": "polygon",
    "keypointlabels": "keypoint",
    "keypoint": "keypoint",
    "videorectangle": "box",
}
# Regions the lake has no shape for; each is a shape lost, so it is dropped with a reason.
UNHELD = ("brushlabels", "brush", "ellipselabels", "ellipse", "vectorlabels", "vector")
UNHELD_PREFIXES = ("bitmask", "magicwand")
RESERVED = ("rotation", "labels", "annotation_id", "model_version")  # attributes with a place


@dataclass(frozen=True)
class Keyframe:
    """One item of a video rectangle's sequence: frame from 1, box in percent."""

    frame: int
    enabled: bool
    x: float
    y: float
    width: float
    height: float
    rotation: float = 0.0


def covered_frames(keys: Iterable[tuple[int, bool]], frames_count: int | None) -> int:
    """How many frames a track shows on, from its keyframes' (frame, enabled).

    >>> covered_frames([(1, True), (5, False), (8, True)], 10)
    8
    """
    ordered = sorted(dict(keys).items())
    total = 0
    for index, (frame, enabled) in enumerate(ordered):
        if not enabled:
            total += 1
        elif index + 1 < len(ordered):
            total += ordered[index + 1][0] - frame
        else:
            total += max((frames_count or 0) - frame + 1, 1)
    return total


def expand(keyframes: list[Keyframe], frames_count: int | None) -> Iterator[tuple[Keyframe, bool]]:
    """Every frame a track shows on, as (box on that frame, drawn by a person)."""
    ordered = sorted({key.frame: key for key in keyframes}.values(), key=lambda k: k.frame)
    for index, key in enumerate(ordered):
        yield key, True
        if not key.enabled:
            continue
        if index + 1 < len(ordered):
            after = ordered[index + 1]
            for frame in range(key.frame + 1, after.frame):
                yield _between(key, after, frame), False
        else:
            for frame in range(key.frame + 1, (frames_count or 0) + 1):
                yield (
                    Keyframe(frame, True, key.x, key.y, key.width, key.height, key.rotation),
                    False,
                )


def _between(start: Keyframe, end: Keyframe, frame: int) -> Keyframe:
    share = (frame - start.frame) / (end.frame - start.frame)

    def mix(a: float, b: float) -> float:
        return a + (b - a) * share

    return Keyframe(
        frame,
        True,
        mix(start.x, end.x),
        mix(start.y, end.y),
        mix(start.width, end.width),
        mix(start.height, end.height),
        mix(start.rotation, end.rotation),
    )


def pixel_box(
    x: float, y: float, width: float, height: float, size: tuple[int, int]
) -> tuple[float, float, float, float]:
    """A box in percent of the frame -> left, top, width, height in pixels; Label Studio
    keeps the corner a person started from, so a width or height may be negative."""
    left, top = x * size[0] / 100, y * size[1] / 100
    w, h = width * size[0] / 100, height * size[1] / 100
    if w < 0:
        left, w = left + w, -w
    if h < 0:
        top, h = top + h, -h
    return left, top, w, h


def _keyframe(item: Any) -> Keyframe | None:
    if not isinstance(item, dict):
        return None
    frame = integer(item.get("frame"))
    x, y, width, height = (number(item.get(k)) for k in ("x", "y", "width", "height"))
    if frame is None or frame < 1 or x is None or y is None or width is None or height is None:
        return None
    enabled = item.get("enabled", True)
    enabled = enabled if isinstance(enabled, bool) else str(enabled).lower() == "true"
    return Keyframe(frame, enabled, x, y, width, height, number(item.get("rotation")) or 0.0)


def _frame_keys(sequence: list[Any]) -> list[tuple[int, bool]]:
    """(frame, enabled) of the items that name a frame; an item without one counts alone."""
    keys = []
    for position, item in enumerate(sequence):
        frame = integer(item.get("frame")) if isinstance(item, dict) else None
        enabled = bool(item.get("enabled", True)) if isinstance(item, dict) else False
        keys.append((frame if frame and frame >= 1 else -1 - position, enabled))
    return keys


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return json.dumps(value, default=str)


def _region_attribute(result: dict[str, Any]) -> tuple[str, str] | None:
    """A per-region result (choices, text, number, ...) as (from_name, text)."""
    value = result.get("value")
    if not isinstance(value, dict):
        return None
    key = str(result.get("from_name") or result.get("type") or "value")
    kind = str(result.get("type") or "")
    if kind == "textarea" and isinstance(value.get("text"), list):
        return key, "\n".join(str(t) for t in value["text"])
    if kind in value:
        return key, _text(value[kind])
    return key, _text(value)


def _source(data: Any, to_name: Any, video: bool) -> str | None:
    if not isinstance(data, dict):
        return None
    keys = ("video", "image") if video else ("image", "video")
    for key in (*keys, to_name):
        value = data.get(key) if isinstance(key, str) else None
        if isinstance(value, str) and value:
            return value
    strings = [v for v in data.values() if isinstance(v, str) and v]
    return strings[0] if len(strings) == 1 else None


def frame_name(source_ref: str) -> str:
    """The image file name of a task's data value (a URL, a path or `?d=dir/name.jpg`)."""
    tail = source_ref.split("?d=", 1)[-1] if "?d=" in source_ref else source_ref.split("?")[0]
    return tail.rstrip("/").rsplit("/", 1)[-1]


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 64 else text[:61] + "..."


@dataclass
class _Reading:
    """What one file's read has seen so far, for the notes at its end."""

    path: str
    job_name: str
    batch_id: str | None
    video_size: tuple[int, int] | None
    rows: AnnotationRows = field(default_factory=AnnotationRows)
    workers: list[dict[str, Any]] = field(default_factory=list)
    classes: dict[str, int] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    predictions_skipped: int = 0
    no_worker: int = 0
    other_types: Counter[str] = field(default_factory=Counter)
    unheld: Counter[str] = field(default_factory=Counter)
    unheld_tasks: list[str] = field(default_factory=list)
    not_tasks: int = 0  # objects with neither annotations nor predictions: not this format
    ready: list[Chunk] = field(default_factory=list)

    def class_id(self, label: str | None) -> int | None:
        return None if label is None else self.classes.setdefault(label, len(self.classes))

    def add(self, **columns: Any) -> None:
        """One row; a full chunk is set aside, so no chunk passes CHUNK_ROWS rows."""
        self.rows.add(**columns)
        if len(self.rows) >= CHUNK_ROWS:
            self.ready.append(_chunk(self))

    def drain(self) -> Iterator[Chunk]:
        """The chunks set aside so far."""
        ready, self.ready = self.ready, []
        yield from ready


def read_labelstudio(
    path: str,
    stream: BinaryIO,
    *,
    job_name: str,
    batch_id: str | None,
    log: ImportLog,
    video_size: tuple[int, int] | None = None,
) -> Iterator[Chunk]:
    """`annotations` and `worker_responses` rows of a Label Studio JSON export, in chunks.

    ``video_size`` (width, height) places regions whose results carry no
    original_width/original_height (video rectangles, most often).
    """
    reading = _Reading(path, job_name, batch_id, video_size)
    log.tally(path)
    tasks = 0
    try:
        for position, task in enumerate(_tasks(stream), start=1):
            tasks = position
            if not isinstance(task, dict):
                log.note(path, None, f"item {position} of the task list is not a JSON object")
                continue
            yield from _read_task(reading, task, position, log)
    except ijson.JSONError:
        log.note(
            path,
            None,
            f"not valid JSON after {tasks} task(s): the file is truncated or damaged; "
            "export it again from Label Studio (the tasks before it were read)",
        )
    if reading.rows or reading.workers:
        yield _chunk(reading)
    _closing_notes(reading, log)


def _tasks(stream: BinaryIO) -> Iterator[Any]:
    """The tasks of an export, one at a time: a list of tasks, or one task object."""
    head = stream.read(1)
    while head and (head.isspace() or head in (b"\xef", b"\xbb", b"\xbf")):  # blanks, BOM
        head = stream.read(1)
    if not head:
        raise ijson.common.IncompleteJSONError("empty file")
    replay = _Replay(head, stream)
    yield from ijson.items(replay, "item" if head == b"[" else "", use_float=True)


class _Replay:
    """A stream with bytes already read put back in front."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head, self._stream = head, stream

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes the stream's type with read(0)
            return b""
        head, self._head = self._head, b""
        if size is None or size < 0:
            return head + self._stream.read()
        return head + self._stream.read(size - len(head))


def _read_task(
    reading: _Reading, task: dict[str, Any], position: int, log: ImportLog
) -> Iterator[Chunk]:
    task_id = _short(task.get("id", f"at position {position}"))
    if "annotations" not in task and "predictions" not in task:
        reading.not_tasks += 1
    annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict)]
    predictions = [p for p in task.get("predictions") or [] if isinstance(p, dict)]
    if annotations:
        reading.predictions_skipped += len(predictions)
        works = [(a, False) for a in annotations]
    else:
        works = [(p, True) for p in predictions]
    for work, predicted in works:
        work_id = _short(work.get("id", "without id"))
        if not predicted and work.get("was_cancelled"):
            reading.cancelled.append(f"{task_id}/{work_id}")
            continue
        results = [r for r in work.get("result") or [] if isinstance(r, dict)]
        attributes = _attached(results)
        for index, result in enumerate(results):
            where = Where(task_id, "prediction" if predicted else "annotation", work_id, index)
            _read_result(reading, task, where, work, result, attributes, log)
            yield from reading.drain()
        if not predicted:
            _add_worker(reading, task, task_id, work)


def _attached(results: list[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    """Per-region results (those sharing a region's id) by region id."""
    regions = {str(r["id"]) for r in results if r.get("type") in SHAPES and r.get("id")}
    attached: dict[str, list[tuple[str, str]]] = {}
    for result in results:
        region = str(result.get("id"))
        if result.get("type") in SHAPES or region not in regions:
            continue
        pair = _region_attribute(result)
        if pair:
            attached.setdefault(region, []).append(pair)
    return attached


@dataclass(frozen=True)
class Where:
    """Which region of which task a problem is about, for its reason."""

    task: str
    kind: str  # annotation or prediction
    work: str
    index: int  # the result's position in the work's result list

    def region(self, result: dict[str, Any]) -> str:
        return _short(result.get("id") or f"{self.work}-{self.index}")

    def name(self, result: dict[str, Any]) -> str:
        return f"task {self.task}, {self.kind} {self.work}, region {self.region(result)}"


def _read_result(
    reading: _Reading,
    task: dict[str, Any],
    where: Where,
    work: dict[str, Any],
    result: dict[str, Any],
    attached: dict[str, list[tuple[str, str]]],
    log: ImportLog,
) -> None:
    kind = str(result.get("type") or "")
    path = reading.path
    if kind not in SHAPES:
        if kind in UNHELD or kind.startswith(UNHELD_PREFIXES):
            log.saw(path)
            reading.unheld[kind] += 1
            reading.unheld_tasks.append(where.task)
        elif not (result.get("id") and str(result.get("id")) in attached):
            reading.other_types[kind or "(no type)"] += 1
        return
    predicted = where.kind == "prediction"
    name = where.name(result)
    value = result.get("value")
    value = value if isinstance(value, dict) else {}
    video = kind == "videorectangle"
    sequence = value.get("sequence") if video else None
    frames_count = integer(value.get("framesCount"))
    if video:
        sequence = sequence if isinstance(sequence, list) else []
        shapes = covered_frames(_frame_keys(sequence), frames_count) if sequence else 1
    else:
        shapes = 1
    log.saw(path, shapes)
    source = _source(task.get("data"), result.get("to_name"), video)
    if source is None:
        log.drop(
            path,
            None,
            f"{name}: the task has no data value (data.image or data.video) "
            "to name what was labeled; export the tasks with their data",
            shapes,
        )
        return
    size = _size(result) or reading.video_size
    if size is None:
        log.drop(
            path,
            None,
            f"{name}: no original_width/original_height on the result; "
            "pass video_size=(width, height) (the frame size in pixels)",
            shapes,
        )
        return
    labels = value.get(kind) if kind in value else value.get("labels")
    labels = [str(v) for v in labels] if isinstance(labels, list) else []
    attributes = dict(attached.get(str(result.get("id")), []))
    if len(labels) > 1:
        attributes["labels"] = json.dumps(labels)
    if work.get("id") is not None:
        attributes["prediction_id" if predicted else "annotation_id"] = str(work["id"])
    if predicted and work.get("model_version"):
        attributes["model_version"] = str(work["model_version"])
    confidence = number(result.get("score"))
    if confidence is None and predicted:
        confidence = number(work.get("score"))
    common = {
        "batch_id": reading.batch_id,
        "job_name": reading.job_name,
        "source_ref": source,
        "object_id": where.region(result),
        "label": labels[0] if labels else None,
        "class_id": reading.class_id(labels[0] if labels else None),
        "image_width": size[0],
        "image_height": size[1],
        "confidence": confidence,
    }
    if video:
        _add_track(
            reading, sequence or [], frames_count, size, common, attributes, name, shapes, log
        )
        return
    problem = _add_region(reading, SHAPES[kind], value, size, common, attributes, source)
    if problem:
        log.drop(path, None, f"{name}: {problem}", 1)


def _size(result: dict[str, Any]) -> tuple[int, int] | None:
    width, height = integer(result.get("original_width")), integer(result.get("original_height"))
    return (width, height) if width and height and width > 0 and height > 0 else None


def _add_region(
    reading: _Reading,
    shape: str,
    value: dict[str, Any],
    size: tuple[int, int],
    common: dict[str, Any],
    attributes: dict[str, str],
    source: str,
) -> str | None:
    """One image region as a row; the problem, when it cannot be one."""
    base = {**common, "frame_no": 0, "frame": frame_name(source)}
    if shape == "box":
        x, y, w, h = (number(value.get(k)) for k in ("x", "y", "width", "height"))
        if x is None or y is None or w is None or h is None:
            return "x, y, width or height is missing or not a number; fix the region"
        rotation = number(value.get("rotation")) or 0.0
        if rotation:
            attributes["rotation"] = repr(rotation)
        left, top, width, height = pixel_box(x, y, w, h, size)
        reading.add(
            **base,
            shape="box",
            box_left=left,
            top=top,
            width=width,
            height=height,
            attributes=list(attributes.items()) or None,
        )
        return None
    if shape == "keypoint":
        x, y = number(value.get("x")), number(value.get("y"))
        if x is None or y is None:
            return "x or y is missing or not a number; fix the keypoint"
        points = [{"x": x * size[0] / 100, "y": y * size[1] / 100}]
    else:
        points = _polygon_points(value.get("points"), size)
        if points is None or len(points) < 2:
            return "points is missing, has fewer than 2 vertices or a vertex that is not a number"
        if value.get("closed") is False:
            shape = "polyline"
    reading.add(**base, shape=shape, points=points, attributes=list(attributes.items()) or None)
    return None


def _polygon_points(value: Any, size: tuple[int, int]) -> list[dict[str, float]] | None:
    if not isinstance(value, list):
        return None
    points = []
    for vertex in value:
        if not isinstance(vertex, list | tuple) or len(vertex) < 2:
            return None
        x, y = number(vertex[0]), number(vertex[1])
        if x is None or y is None:
            return None
        points.append({"x": x * size[0] / 100, "y": y * size[1] / 100})
    return points


def _add_track(
    reading: _Reading,
    sequence: list[Any],
    frames_count: int | None,
    size: tuple[int, int],
    common: dict[str, Any],
    attributes: dict[str, str],
    name: str,
    shapes: int,
    log: ImportLog,
) -> None:
    """A video rectangle's frames as rows; a sequence with an unusable item is dropped whole,
    since interpolation needs every keyframe."""
    parsed = [_keyframe(item) for item in sequence]
    keyframes = [key for key in parsed if key is not None]
    if not keyframes or len(keyframes) < len(parsed):
        bad = next((i for i, key in enumerate(parsed) if key is None), 0) + 1
        log.drop(
            reading.path,
            None,
            f"{name}: sequence item {bad} has no frame (from 1) or no "
            "numeric x, y, width and height; fix the sequence",
            shapes,
        )
        return
    for key, drawn in expand(keyframes, frames_count):
        left, top, width, height = pixel_box(key.x, key.y, key.width, key.height, size)
        extra = {"rotation": repr(key.rotation)} if key.rotation else {}
        reading.add(
            **common,
            frame_no=key.frame - 1,
            frame=None,
            shape="box",
            box_left=left,
            top=top,
            width=width,
            height=height,
            keyframe=drawn,
            attributes=list({**attributes, **extra}.items()) or None,
        )


def _add_worker(
    reading: _Reading, task: dict[str, Any], task_id: str, work: dict[str, Any]
) -> None:
    who = work.get("completed_by")
    if isinstance(who, dict):
        who = who.get("id", who.get("email"))
    if who is None or who == "":
        reading.no_worker += 1
        return
    submitted = creation_time(work.get("updated_at")) or creation_time(work.get("created_at"))
    spent = number(work.get("lead_time"))
    accepted = submitted - dt.timedelta(seconds=spent) if submitted and spent is not None else None
    reading.workers.append(
        {
            "batch_id": reading.batch_id,
            "job_name": reading.job_name,
            "source_ref": _source(task.get("data"), None, False),
            "data_object_id": str(task.get("id", task_id)),
            "worker_id": str(who),
            "acceptance_time": accepted,
            "submission_time": submitted,
            "time_spent_s": spent,
            "response_uri": f"{reading.path}#task={task_id}",
        }
    )


def _chunk(reading: _Reading) -> Chunk:
    annotations = reading.rows.table() if len(reading.rows) else None
    workers = (
        pa.Table.from_pylist(reading.workers, schema=get_table("worker_responses").schema)
        if reading.workers
        else None
    )
    reading.rows = AnnotationRows()
    reading.workers = []
    return Chunk(reading.path, annotations, workers)


def _closing_notes(reading: _Reading, log: ImportLog) -> None:
    path = reading.path
    if reading.cancelled:
        log.note(
            path,
            None,
            f"{len(reading.cancelled)} annotation(s) marked was_cancelled "
            f"(skipped in Label Studio) not imported: task/annotation {_few(reading.cancelled)}",
        )
    if reading.predictions_skipped:
        log.note(
            path,
            None,
            f"{reading.predictions_skipped} prediction(s) on tasks that have "
            "annotations not imported: the annotations are the labels",
        )
    if reading.not_tasks:
        log.note(
            path,
            None,
            f"{reading.not_tasks} item(s) have neither annotations nor "
            "predictions: export the project as JSON (not JSON-MIN or CSV)",
        )
    if reading.no_worker:
        log.note(
            path,
            None,
            f"{reading.no_worker} annotation(s) without completed_by: no "
            "worker_responses row for them",
        )
    for kind, count in sorted(reading.other_types.items()):
        log.note(
            path,
            None,
            f"{count} result(s) of type {_short(kind)} are not shapes and were "
            "not imported as annotations",
        )
    unheld = sum(reading.unheld.values())
    if unheld:
        kinds = ", ".join(sorted(reading.unheld))
        log.drop(
            path,
            None,
            f"{unheld} region(s) of type {kinds} (tasks {_few(reading.unheld_tasks)})"
            ": masks, ellipses and vectors have no lake shape; export them from Label Studio "
            "as COCO polygons or draw them as polygons",
            unheld,
        )


def _few(names: list[str]) -> str:
    unique = list(dict.fromkeys(names))
    return ", ".join(unique[:5]) + (f" and {len(unique) - 5} more" if len(unique) > 5 else "")


# Export


def to_labelstudio(annotations: pa.Table, frame: Any) -> dict[str, str]:
    """One Label Studio import file of tasks: an image task per single-frame data object,
    a video task (video rectangles) per multi-frame one, coordinates in percent."""
    return joined(tasks_pieces(annotations, frame))


def tasks_pieces(annotations: pa.Table, frame: Any) -> Pieces:
    """`to_labelstudio`'s file, in pieces: the rows are read a batch at a time, task after
    task, work after work and (in a video) track after track, each track in frame order."""
    frame = functools.lru_cache(maxsize=1024)(frame)  # asked per region; rows come by frame
    outline = _Outline.of(annotations)
    keys = (outline.source_of, outline.work_of, outline.track_of)
    order = np.lexsort((np.arange(annotations.num_rows), outline.frame_key, *reversed(keys)))
    rows = zip(
        *(key[order] for key in keys), rows_of(annotations, SHAPE_COLUMNS, order), strict=True
    )
    pieces = ["["]  # the tasks as JSON text: image tasks a batch of rows at a time
    tasks: list[dict[str, Any]] = []
    held = 0

    def flush() -> None:
        if tasks:
            if len(pieces) > 1:
                pieces.append(", ")
            pieces.append(json.dumps(tasks)[1:-1])
            tasks.clear()

    for index, (source, task_rows) in enumerate(groupby(rows, key=itemgetter(0)), start=1):
        name, video = outline.sources[source]
        if not video:
            task, count = _image_task(index, name, outline.works, task_rows, frame)
            tasks.append(task)
            held += count
            if held >= BATCH_ROWS:
                flush()
                held = 0
            continue
        flush()
        if len(pieces) > 1:
            pieces.append(", ")
        pieces.extend(_video_task(index, name, outline.works, task_rows, frame))
    flush()
    pieces.append("]")
    return {"tasks.json": pieces}


@dataclass
class _Work:
    """A person's or a model's work on a task (see `_work_of`), and what its rows hold."""

    kind: str
    work_id: str | None
    model: str | None
    number: int  # its place among the task's works, from 1
    frames: int = 0  # the frames of the video: its highest frame_no + 1
    others: int = 0  # rows that are not boxes, and the first one's shape and source_ref
    first_other: tuple[str | None, Any] | None = None


@dataclass
class _Outline:
    """Where each row goes: its task (data object, in order of their first row, and whether
    it is a video), its work on that task and its track (video tasks only), all numbered
    in order of their first row."""

    sources: list[tuple[str, bool]]
    works: list[_Work]
    source_of: np.ndarray
    work_of: np.ndarray
    track_of: np.ndarray
    frame_key: np.ndarray  # frame_no in a video, 0 elsewhere

    @classmethod
    def of(cls, annotations: pa.Table) -> _Outline:
        sources: dict[str, tuple[int, Any, dict[Any, int]]] = {}  # name -> number, frame, works
        video: list[bool] = []
        works: list[_Work] = []
        source_of = np.empty(annotations.num_rows, dtype=np.int64)
        work_of = np.empty(annotations.num_rows, dtype=np.int64)
        columns = ["source_ref", "frame_no", "shape", "attributes"]
        for position, (source_ref, frame_no, shape, attributes) in enumerate(
            values_of(annotations, columns)
        ):
            name = str(source_ref)
            if name not in sources:
                sources[name] = (len(sources), frame_no, {})
                video.append(False)
            rank, first_frame, source_works = sources[name]
            video[rank] = video[rank] or frame_no != first_frame or bool(frame_no)
            kind, work_id, model = key = _work_of(attributes)
            if key not in source_works:
                source_works[key] = len(works)
                works.append(_Work(kind, work_id, model, len(source_works)))
            work = works[source_works[key]]
            if frame_no is not None:
                work.frames = max(work.frames, frame_no + 1)
            if shape != "box":
                work.others += 1
                work.first_other = work.first_other or (shape, source_ref)
            source_of[position], work_of[position] = rank, source_works[key]
        in_video = np.array(video, dtype=bool)[source_of]
        track_of = np.zeros(annotations.num_rows, dtype=np.int64)
        tracks: dict[tuple[int, str], int] = {}
        video_rows = np.flatnonzero(in_video)
        for position, (object_id,) in zip(
            video_rows, values_of(annotations, ["object_id"], video_rows), strict=True
        ):
            track_of[position] = tracks.setdefault((work_of[position], str(object_id)), len(tracks))
        frame_nos = pc.fill_null(annotations["frame_no"], 0).to_numpy()
        return cls(
            [(name, is_video) for name, is_video in zip(sources, video, strict=True)],
            works,
            source_of,
            work_of,
            track_of,
            np.where(in_video, frame_nos, 0),
        )


def _frame_size(frame: Any, row: dict[str, Any]) -> tuple[int, int]:
    info = frame(row["source_ref"], row["frame_no"], row["frame"])
    if not info.width or not info.height:
        raise LabellakeError(
            f"the size of frame {row['frame_no']} of {row['source_ref']} is unknown, so "
            "Label Studio's percentages cannot be computed; pass --image-size or --map"
        )
    return int(info.width), int(info.height)


def _work_of(
    row_attributes: list[tuple[str, str]] | None,
) -> tuple[str, str | None, str | None]:
    """(annotations or predictions, its id, model version) a row with these attributes was
    imported from."""
    attributes = dict(row_attributes or [])
    if "prediction_id" in attributes:
        return "predictions", attributes["prediction_id"], attributes.get("model_version")
    return "annotations", attributes.get("annotation_id"), None


def _image_task(
    index: int, source: str, works: list[_Work], rows: Iterable[tuple[Any, ...]], frame: Any
) -> tuple[dict[str, Any], int]:
    """An image task, from its rows (task, work, track and row) by work, and how many rows
    it holds."""
    task: dict[str, Any] = {
        "id": index,
        "data": {"image": source},
        "annotations": [],
        "predictions": [],
    }
    count = 0
    for work_number, work_rows in groupby(rows, key=itemgetter(1)):
        work = works[work_number]
        regions = [row for *_, row in work_rows]
        count += len(regions)
        written: dict[str, Any] = {
            "id": integer(work.work_id) or work.number,
            "result": _image_results(regions, frame),
        }
        if work.kind == "predictions":
            written["model_version"] = work.model
        else:
            written.update(was_cancelled=False, ground_truth=False)
        task[work.kind].append(written)
    return task, count


def _video_task(
    index: int, source: str, works: list[_Work], rows: Iterable[tuple[Any, ...]], frame: Any
) -> list[str]:
    """A video task as JSON text, in pieces, from its rows (task, work, track and row) by
    work, track and frame: the text json.dumps would give, without the task as dicts."""
    by_kind: dict[str, list[str]] = {"annotations": [], "predictions": []}
    for work_number, work_rows in groupby(rows, key=itemgetter(1)):
        work = works[work_number]
        if work.others:
            shape, source_ref = work.first_other or (None, None)
            raise LabellakeError(
                f"{work.others} {shape} shape(s) on video {source_ref}: Label Studio's video "
                "tasks hold rectangles only; export this job as coco instead"
            )
        texts = by_kind[work.kind]
        work_id = integer(work.work_id) or work.number
        texts.append(f'{", " if texts else ""}{{"id": {json.dumps(work_id)}, "result": [')
        for count, (_, track_rows) in enumerate(groupby(work_rows, key=itemgetter(2))):
            texts.extend(_track_result(count, (row for *_, row in track_rows), work.frames, frame))
        if work.kind == "predictions":
            texts.append(f'], "model_version": {json.dumps(work.model)}}}')
        else:
            texts.append('], "was_cancelled": false, "ground_truth": false}')
    head = json.dumps({"id": index, "data": {"video": source}})[:-1]
    return [
        f'{head}, "annotations": [',
        *by_kind["annotations"],
        '], "predictions": [',
        *by_kind["predictions"],
        "]}",
    ]


def _track_result(count: int, rows: Iterable[dict[str, Any]], frames: int, frame: Any) -> list[str]:
    """A track's video rectangle (and its attributes' text areas) as JSON text, in pieces,
    from its rows in frame order; ``count`` tracks came before it in the result list."""
    sequence: list[str] = []  # the keyframes' JSON text, a piece per batch
    keyframes: list[dict[str, Any]] = []

    def flush() -> None:
        if sequence:
            sequence.append(", ")
        sequence.append(json.dumps(keyframes)[1:-1])
        keyframes.clear()

    first: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    for row in rows:
        if previous is None:
            first = row
        else:
            keyframes.append(_sequence_item(previous, row["frame_no"], frames, frame))
        previous = row
        if len(keyframes) >= BATCH_ROWS:
            flush()
    assert first is not None and previous is not None  # a track has a row
    keyframes.append(_sequence_item(previous, None, frames, frame))
    flush()
    track_id = str(first["object_id"])
    attributes = dict(first["attributes"] or [])
    size = _frame_size(frame, first)
    result = {
        "id": track_id,
        "from_name": "box",
        "to_name": "video",
        "type": "videorectangle",
        "origin": "manual",
        "original_width": size[0],
        "original_height": size[1],
        "value": {"framesCount": frames, "sequence": [], "labels": _labels(first, attributes)},
    }
    # no string value holds the key's unescaped quotes
    head, _, tail = json.dumps(result).partition('"sequence": []')
    texts = [f'{", " if count else ""}{head}"sequence": [', *sequence, f"]{tail}"]
    texts.extend(", " + json.dumps(r) for r in _attribute_results(track_id, attributes, "video"))
    return texts


def _sequence_item(
    row: dict[str, Any], following: int | None, frames: int, frame: Any
) -> dict[str, Any]:
    """A row of a track as a keyframe, enabled while the track's next row is on the next
    frame (or this is the video's last frame)."""
    last_frame = following is None and row["frame_no"] == frames - 1
    rotation = float(dict(row["attributes"] or []).get("rotation", 0))
    return {
        "frame": row["frame_no"] + 1,
        "enabled": following == row["frame_no"] + 1 or last_frame,
        "rotation": rotation,
        **_percent_box(row, _frame_size(frame, row)),
    }


def _attribute_results(
    region_id: str, attributes: dict[str, str], to_name: str
) -> list[dict[str, Any]]:
    """The attributes that have no place of their own, as per-region text areas."""
    return [
        {
            "id": region_id,
            "from_name": key,
            "to_name": to_name,
            "type": "textarea",
            "value": {"text": [value]},
        }
        for key, value in attributes.items()
        if key not in RESERVED and key != "prediction_id"
    ]


def _labels(row: dict[str, Any], attributes: dict[str, str]) -> list[str]:
    if "labels" in attributes:
        return [str(v) for v in json.loads(attributes["labels"])]
    return [] if row["label"] is None else [str(row["label"])]


def _percent_box(row: dict[str, Any], size: tuple[int, int]) -> dict[str, float]:
    return {
        "x": row["box_left"] * 100 / size[0],
        "y": row["top"] * 100 / size[1],
        "width": row["width"] * 100 / size[0],
        "height": row["height"] * 100 / size[1],
    }


def _image_results(rows: list[dict[str, Any]], frame: Any) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for count, row in enumerate(rows):
        size = _frame_size(frame, row)
        attributes = dict(row["attributes"] or [])
        region_id = str(row["object_id"] or f"region{count}")
        base = {
            "original_width": size[0],
            "original_height": size[1],
            "image_rotation": 0,
            "from_name": "label",
            "to_name": "image",
            "origin": "manual",
        }
        if row["confidence"] is not None:
            base["score"] = row["confidence"]
        labels = _labels(row, attributes)
        points = [(p["x"] * 100 / size[0], p["y"] * 100 / size[1]) for p in row["points"] or []]
        if row["shape"] == "box":
            value = {
                **_percent_box(row, size),
                "rotation": float(attributes.get("rotation", 0)),
                "rectanglelabels": labels,
            }
            results.append({**base, "id": region_id, "type": "rectanglelabels", "value": value})
        elif row["shape"] in ("polygon", "polyline"):
            value = {
                "points": [list(p) for p in points],
                "closed": row["shape"] == "polygon",
                "polygonlabels": labels,
            }
            results.append({**base, "id": region_id, "type": "polygonlabels", "value": value})
        else:  # keypoint: one Label Studio keypoint per vertex
            for vertex, (x, y) in enumerate(points):
                point_id = region_id if len(points) == 1 else f"{region_id}:{vertex}"
                value = {"x": x, "y": y, "width": 0.5, "keypointlabels": labels}
                results.append({**base, "id": point_id, "type": "keypointlabels", "value": value})
        if attributes:
            results.extend(_attribute_results(region_id, attributes, "image"))
    return results
