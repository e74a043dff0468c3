"""COCO instances JSON <-> the lake's `annotations` rows.

A COCO file holds `images`, `categories` and (for video datasets in the CocoVID or TAO
style) `videos` beside one large `annotations` array. The small lists are read first,
then the file is read again and the annotations are streamed one at a time (ijson with
its C backend), so a file of a million boxes never sits in memory as Python objects.

Each annotation becomes:

- one polygon row per polygon of its `segmentation` (a COCO object may have several
  parts; each is a shape and shares the object's id), or else one box row from `bbox`;
  an RLE mask (crowd regions) is kept as its box and noted, since the lake holds no masks;
- one keypoint row with the labeled keypoints (visibility > 0) when it has any; keypoints
  written by labellake for a polyline (attribute shape=polyline) come back as a polyline.

object_id is the track id (`track_id`, or CocoVID's `instance_id`) where there is one,
else the annotation id. With a track id and an image that belongs to a video, the row's
source_ref is the video's name and frame_no the image's frame index; otherwise
source_ref is the image's file_name and frame_no 0.

Written back (`to_coco_instances`), categories keep the rows' class ids where each label
has one of its own; rows without a label go to a category named `unlabeled`. A text
object id (a Label Studio region id, say) gets a numeric track_id. Images need their
size: a frame of unknown size is refused, not written with a null width.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

import ijson
import pyarrow as pa
import pyarrow.compute as pc

from labellake.errors import LabellakeError
from labellake.etl.export import SHAPE_COLUMNS, Pieces, batches_of, joined
from labellake.etl.formats import CHUNK_ROWS, Chunk, ImportLog
from labellake.etl.labeling import AnnotationRows, integer, number

UNLABELED = "unlabeled"  # the category exported for rows without a label


@dataclass(frozen=True)
class Image:
    """What an annotation needs of its image."""

    file_name: str | None
    width: int | None
    height: int | None
    video: str | None
    frame_no: int | None


@dataclass
class Index:
    """A COCO file's images, categories and videos, by id."""

    images: dict[int, Image] = field(default_factory=dict)
    categories: dict[int, str] = field(default_factory=dict)


def polygons(segmentation: Any) -> list[list[float]] | None:
    """The polygons of a segmentation as flat coordinate lists; None for an RLE mask.

    >>> polygons([[0, 0, 4, 0, 4, 3]])
    [[0.0, 0.0, 4.0, 0.0, 4.0, 3.0]]
    """
    if not isinstance(segmentation, list):
        return None
    parts = []
    for part in segmentation:
        if isinstance(part, list):
            values = [number(v) for v in part]
            parts.append([v if v is not None else float("nan") for v in values])
    return parts


def keypoints(values: Any) -> list[dict[str, float]]:
    """The labeled keypoints (visibility > 0) of a COCO keypoints list (x, y, v, ...)."""
    if not isinstance(values, list):
        return []
    points = []
    for start in range(0, len(values) - 2, 3):
        x, y, visible = (number(v) for v in values[start : start + 3])
        if x is not None and y is not None and visible:
            points.append({"x": x, "y": y})
    return points


def points_only(annotation: dict[str, Any]) -> bool:
    """Whether an annotation is only its keypoints, its bbox derived from them: labellake
    writes a keypoint or polyline shape so, naming it in attributes.shape."""
    attributes = annotation.get("attributes")
    return isinstance(attributes, dict) and attributes.get("shape") in ("keypoint", "polyline")


def shape_count(annotation: dict[str, Any]) -> int:
    """How many shapes an annotation holds: its polygons (or its box) and its keypoints."""
    has_points = bool(keypoints(annotation.get("keypoints")))
    if has_points and points_only(annotation):
        return 1
    parts = polygons(annotation.get("segmentation"))
    return (len(parts) if parts else 1) + has_points


@contextmanager
def rewindable(stream: BinaryIO) -> Iterator[IO[bytes]]:
    """``stream`` itself when it can seek, else a temporary copy of it that can: the
    annotations are read after the images, which a COCO file may list after them."""
    if stream.seekable():
        yield stream
        return
    with tempfile.TemporaryFile() as copy:
        shutil.copyfileobj(stream, copy, 1 << 20)
        yield copy


def _items(stream: IO[bytes], prefix: str) -> Iterator[Any]:
    stream.seek(0)
    return ijson.items(stream, prefix, use_float=True)


def read_index(stream: IO[bytes]) -> Index:
    """Images, categories and videos of a COCO file (a pass over the whole file each)."""
    videos = {
        integer(v.get("id")): str(v.get("name") or v.get("file_name") or v.get("id"))
        for v in _items(stream, "videos.item")
        if isinstance(v, dict)
    }
    index = Index()
    for category in _items(stream, "categories.item"):
        category_id = integer(category.get("id")) if isinstance(category, dict) else None
        if category_id is not None:
            index.categories[category_id] = str(category.get("name"))
    for image in _items(stream, "images.item"):
        image_id = integer(image.get("id")) if isinstance(image, dict) else None
        if image_id is None:
            continue
        video = videos.get(integer(image.get("video_id")))
        if video is None and isinstance(image.get("video"), str):
            video = image["video"]  # TAO names the video on the image
        frame = integer(image.get("frame_id", image.get("frame_index")))
        index.images[image_id] = Image(
            None if image.get("file_name") is None else str(image["file_name"]),
            integer(image.get("width")),
            integer(image.get("height")),
            video,
            frame,
        )
    return index


def _attributes(annotation: dict[str, Any]) -> dict[str, str]:
    attributes = annotation.get("attributes")
    out = {}
    if isinstance(attributes, dict):
        for key, value in attributes.items():
            out[str(key)] = value if isinstance(value, str) else json.dumps(value)
    if "iscrowd" in annotation:
        out["iscrowd"] = "1" if annotation["iscrowd"] in (1, True, "1", "true") else "0"
    return out


@dataclass
class _Reading:
    path: str
    job_name: str
    batch_id: str | None
    index: Index
    rows: AnnotationRows = field(default_factory=AnnotationRows)
    masks: int = 0
    unknown_categories: set[int] = field(default_factory=set)
    ready: list[Chunk] = field(default_factory=list)

    def add(self, **columns: Any) -> None:
        """One row; a full chunk is set aside, so no chunk passes CHUNK_ROWS rows."""
        self.rows.add(**columns)
        if len(self.rows) >= CHUNK_ROWS:
            self.ready.append(_chunk(self))


def read_coco(
    path: str, stream: BinaryIO, *, job_name: str, batch_id: str | None, log: ImportLog
) -> Iterator[Chunk]:
    """`annotations` rows of a COCO instances (or CocoVID/TAO) file, in chunks."""
    log.tally(path)
    with rewindable(stream) as file:
        yield from _read_file(path, file, job_name=job_name, batch_id=batch_id, log=log)


def _read_file(
    path: str, stream: IO[bytes], *, job_name: str, batch_id: str | None, log: ImportLog
) -> Iterator[Chunk]:
    try:
        index = read_index(stream)
    except ijson.JSONError:
        log.note(path, None, "not valid JSON: the file is truncated or damaged; nothing was read")
        return
    reading = _Reading(path, job_name, batch_id, index)
    count = 0
    try:
        for count, annotation in enumerate(_items(stream, "annotations.item"), start=1):
            if not isinstance(annotation, dict):
                log.note(path, None, f"annotation {count} is not a JSON object")
                continue
            _read_annotation(reading, annotation, count, log)
            yield from reading.ready
            reading.ready = []
    except ijson.JSONError:
        log.note(
            path,
            None,
            f"not valid JSON after annotation {count}: the file is truncated "
            "or damaged; export it again (the annotations before it were read)",
        )
    if len(reading.rows):
        yield _chunk(reading)
    if reading.masks:
        log.note(
            path,
            None,
            f"{reading.masks} RLE mask(s) (crowd regions) kept as their bbox: "
            "the lake holds no masks",
        )
    if reading.unknown_categories:
        ids = ", ".join(str(i) for i in sorted(reading.unknown_categories)[:5])
        log.note(path, None, f"category_id {ids} not in categories: those rows have no label")


def _chunk(reading: _Reading) -> Chunk:
    table = reading.rows.table()
    reading.rows = AnnotationRows()
    return Chunk(reading.path, table)


def _read_annotation(
    reading: _Reading, annotation: dict[str, Any], position: int, log: ImportLog
) -> None:
    shapes = shape_count(annotation)
    log.saw(reading.path, shapes)
    name = f"annotation {str(annotation.get('id', f'at position {position}'))[:64]}"
    image_id = integer(annotation.get("image_id"))
    image = None if image_id is None else reading.index.images.get(image_id)
    if image is None:
        log.drop(
            reading.path,
            None,
            f"{name}: its image_id is not in images; add the image or remove the annotation",
            shapes,
        )
        return
    if image.file_name is None and image.video is None:
        log.drop(reading.path, None, f"{name}: its image has no file_name; add it", shapes)
        return
    category = integer(annotation.get("category_id"))
    label = reading.index.categories.get(category) if category is not None else None
    if category is not None and label is None:
        reading.unknown_categories.add(category)
    track = annotation.get("track_id", annotation.get("instance_id"))
    on_video = track is not None and image.video is not None
    attributes = _attributes(annotation)
    occluded = attributes.get("occluded")
    common = {
        "batch_id": reading.batch_id,
        "job_name": reading.job_name,
        "source_ref": image.video if on_video else image.file_name,
        "frame_no": (image.frame_no or 0) if on_video else 0,
        "frame": None if image.file_name is None else image.file_name.rsplit("/", 1)[-1],
        "object_id": str(track if track is not None else annotation.get("id", position)),
        "class_id": category,
        "label": label,
        "image_width": image.width,
        "image_height": image.height,
        "confidence": number(annotation.get("score")),
        "occluded": None if occluded is None else occluded.lower() in ("true", "1"),
    }
    for problem, lost in _add_shapes(reading, annotation, attributes, common):
        log.drop(reading.path, None, f"{name}: {problem}", lost)


def _add_shapes(
    reading: _Reading,
    annotation: dict[str, Any],
    attributes: dict[str, str],
    common: dict[str, Any],
) -> list[tuple[str, int]]:
    """Rows for an annotation's shapes; the problems of those that cannot be rows."""
    problems = []
    listed = [(k, v) for k, v in attributes.items() if k != "shape"]
    parts = polygons(annotation.get("segmentation"))
    points = keypoints(annotation.get("keypoints"))
    if points and points_only(annotation):
        pass
    elif parts:
        for number_, part in enumerate(parts, start=1):
            if len(part) < 6 or len(part) % 2 or any(v != v for v in part):
                problems.append(
                    (
                        f"polygon {number_} has fewer than 3 points or a coordinate "
                        "that is not a number",
                        1,
                    )
                )
                continue
            vertices = [{"x": part[i], "y": part[i + 1]} for i in range(0, len(part), 2)]
            reading.add(**common, shape="polygon", points=vertices, attributes=list(listed) or None)
    else:
        if isinstance(annotation.get("segmentation"), dict):
            reading.masks += 1
        box = annotation.get("bbox")
        values = [number(v) for v in box] if isinstance(box, list) and len(box) == 4 else []
        if len(values) != 4 or any(v is None for v in values):
            problems.append(("bbox is missing or not four numbers; fix it", 1))
        else:
            left, top, width, height = values
            reading.add(
                **common,
                shape="box",
                box_left=left,
                top=top,
                width=width,
                height=height,
                attributes=list(listed) or None,
            )
    if points:
        shape = "polyline" if attributes.get("shape") == "polyline" else "keypoint"
        reading.add(**common, shape=shape, points=points, attributes=listed or None)
    return problems


# Export


def _categories(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Category ids by name: the rows' class ids where each name has one of its own, else
    1.. in name order. Rows without a label go to the category `unlabeled`."""
    names: dict[str, set[int | None]] = {}
    for row in rows:
        if row["label"] is not None:
            names.setdefault(str(row["label"]), set()).add(row["class_id"])
    single = {name: next(iter(ids)) for name, ids in sorted(names.items()) if len(ids) == 1}
    own = {name: i for name, i in single.items() if isinstance(i, int) and i > 0}
    if len(own) == len(names) and len(set(own.values())) == len(own):
        categories = own
    else:
        categories = {name: number_ for number_, name in enumerate(sorted(names), start=1)}
    if any(row["label"] is None for row in rows) and UNLABELED not in categories:
        categories[UNLABELED] = max(categories.values(), default=0) + 1
    return categories


def to_coco_instances(annotations: pa.Table, frame: Any) -> dict[str, str]:
    """One COCO instances file: categories, images with their size, boxes as bbox,
    polygons as segmentation, keypoints (and polylines) as keypoints, a track_id per
    object; video data objects are listed in `videos` with each image's frame_id."""
    return joined(instances_pieces(annotations, frame))


def instances_pieces(annotations: pa.Table, frame: Any) -> Pieces:
    """`to_coco_instances`' file, in pieces: the rows are read and written a batch at a
    time."""
    labels = annotations.select(["label", "class_id"]).group_by(["label", "class_id"])
    categories = _categories(labels.aggregate([]).to_pylist())
    videos = _videos(annotations)
    images: dict[tuple[str, int], dict[str, Any]] = {}
    tracks: dict[tuple[str, str], int] = {}
    entries: list[str] = []  # the annotations as JSON text, a piece per batch of rows
    count = 0
    for batch in batches_of(annotations, SHAPE_COLUMNS):
        written = []
        for row in batch.to_pylist():
            key = (str(row["source_ref"]), int(row["frame_no"]))
            if key not in images:
                images[key] = _image(len(images) + 1, row, frame, videos.get(key[0]))
            count += 1
            written.append(_annotation(count, row, images[key]["id"], categories, tracks))
        if written:
            if entries:
                entries.append(", ")
            entries.append(json.dumps(written)[1:-1])
    document = {
        "info": {"description": "exported by labellake"},
        "videos": [{"id": i, "name": name} for name, i in videos.items()],
        "images": list(images.values()),
        "annotations": [],
        "categories": [{"id": i, "name": name} for name, i in categories.items()],
    }
    if not videos:
        del document["videos"]
    # The text json.dumps(document) would be with the entries in it, without holding them
    # all as dicts: no string value holds the key's unescaped quotes.
    head, _, tail = json.dumps(document).partition('"annotations": []')
    return {"instances.json": [head, '"annotations": [', *entries, "]", tail]}


def _videos(annotations: pa.Table) -> dict[str, int]:
    """Video ids of the data objects that have frames other than 0, in order of their first
    row."""
    sources: dict[Any, None] = {}
    for batch in batches_of(annotations, ["source_ref"]):
        sources.update(dict.fromkeys(batch.column(0).to_pylist()))
    later = pc.fill_null(pc.not_equal(annotations["frame_no"], 0), False)
    clips = {str(s) for s in pc.unique(annotations["source_ref"].filter(later)).to_pylist()}
    names = (name for name in dict.fromkeys(str(s) for s in sources) if name in clips)
    return {name: i for i, name in enumerate(names, start=1)}


def _image(image_id: int, row: dict[str, Any], frame: Any, video: int | None) -> dict[str, Any]:
    info = frame(row["source_ref"], row["frame_no"], row["frame"])
    if not info.width or not info.height:
        raise LabellakeError(
            f"the size of frame {row['frame_no']} of {row['source_ref']} is unknown and COCO "
            "images need width and height; pass --image-size or --map"
        )
    image = {
        "id": image_id,
        "file_name": info.image_uri,
        "width": info.width,
        "height": info.height,
    }
    if video is not None:
        image.update(video_id=video, frame_id=row["frame_no"])
    return image


def _track(row: dict[str, Any], tracks: dict[tuple[str, str], int]) -> int:
    text = str(row["object_id"])
    if text.isdigit():
        return int(text)
    return tracks.setdefault((str(row["source_ref"]), text), 1_000_000_000 + len(tracks) + 1)


def _annotation(
    annotation_id: int,
    row: dict[str, Any],
    image_id: int,
    categories: dict[str, int],
    tracks: dict[tuple[str, str], int],
) -> dict[str, Any]:
    attributes = dict(row["attributes"] or [])
    crowd = attributes.pop("iscrowd", "0") == "1"
    entry: dict[str, Any] = {
        "id": annotation_id,
        "image_id": image_id,
        "category_id": categories[row["label"] or UNLABELED],
        "iscrowd": int(crowd),
        "track_id": _track(row, tracks),
    }
    if row["confidence"] is not None:
        entry["score"] = row["confidence"]
    if row["shape"] == "box":
        entry.update(
            bbox=[row["box_left"], row["top"], row["width"], row["height"]],
            area=row["width"] * row["height"],
            segmentation=[],
        )
    else:
        points = [(p["x"], p["y"]) for p in row["points"] or []]
        xs, ys = [x for x, _ in points] or [0.0], [y for _, y in points] or [0.0]
        entry["bbox"] = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        entry["area"] = entry["bbox"][2] * entry["bbox"][3]
        if row["shape"] == "polygon":
            entry["segmentation"] = [[c for point in points for c in point]]
        else:
            entry.update(
                segmentation=[],
                keypoints=[c for x, y in points for c in (x, y, 2)],
                num_keypoints=len(points),
            )
            attributes["shape"] = row["shape"]
    if attributes:
        entry["attributes"] = attributes
    return entry
