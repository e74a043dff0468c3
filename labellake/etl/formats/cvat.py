"""CVAT XML ("CVAT for video 1.1", "CVAT for images 1.1") <-> the lake's `annotations` rows.

Reading streams the file with ``iterparse`` and handles one child of ``<annotations>`` at a
time (``<meta>``, a ``<track>``, an ``<image>``), clearing it once its rows are built, so
memory holds one track or image, never the whole file.

How CVAT's elements become rows:

- ``<box>`` is shape ``box`` (left = xtl, top = ytl, width = xbr - xtl, height = ybr - ytl);
  ``<polygon>`` and ``<polyline>`` keep their vertices in ``points``; ``<points>`` is shape
  ``keypoint``. ``<mask>``, ``<ellipse>``, ``<cuboid>`` and unknown shapes are refused, each
  with a reason; ``<tag>`` (a label of a whole frame) is not a shape and is only noted.
- object_id is the track id (video) or, for images, the shape's ``id`` attribute or else its
  position among the image's shapes; object_name is ``<label>:<object_id>``, as Ground Truth
  names objects. A skeleton's nodes become ``keypoint`` rows labelled with the node's label,
  sharing the skeleton's object_id, with object_name ``<skeleton label>:<object_id>``.
- class_id is the label's position in the ``<meta>`` label list; source_ref is the video's
  ``<meta>`` source (or task name, or else the file) and each image's name (prefixed with
  its subset in project exports, as CVAT lays out their folders).
- A shape with ``outside="1"`` marks where an object leaves the frame; it is not a shape.
- A track that lists its interpolated frames (any ``keyframe="0"``), as CVAT's own export
  does, is taken as written. A track of keyframes only is expanded the way CVAT does: box
  corners, and the vertices of polylines, polygons and single points, move linearly between
  consecutive keyframes on the task's frames (start_frame, step of frame_filter); nothing
  is drawn after an outside keyframe until the next keyframe; after the last keyframe the
  shape stays until stop_frame; interpolated frames copy the previous keyframe's
  attributes, occluded and z_order. Multi-point ``<points>`` are copied, as CVAT does;
  polylines and polygons whose vertex count changes are copied too, where CVAT resamples.

Writing gives the same dialect, as ``xml.etree.ElementTree`` would indent and write it: a
track per object, label and shape (one per skeleton, its nodes as nested tracks, as CVAT
writes them), numbered by object_id where that is a free number; every row is a frame of its
track, with an ``outside="1"`` keyframe on the task frame after each run of rows; images keep
their frame number as id where it tells them apart. Rows without a label are written under
the label ``unlabeled``. The rows are read a batch at a time, track after track (or image
after image), and each track or image is written as text, so memory holds a batch of rows
and the text, never a tree of every element.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import reduce
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from labellake.errors import LabellakeError
from labellake.etl import formats
from labellake.etl.export import Pieces, joined, rows_of, values_of
from labellake.etl.labeling import AnnotationRows

if TYPE_CHECKING:
    from labellake.etl.export import FrameLookup

# CVAT shape element -> the lake's shape, and back.
SHAPES = {"box": "box", "polygon": "polygon", "polyline": "polyline", "points": "keypoint"}
ELEMENTS = {shape: tag for tag, shape in SHAPES.items()}
LABEL_TYPES = {
    "box": "rectangle",
    "polygon": "polygon",
    "polyline": "polyline",
    "keypoint": "points",
}
BOX = ("box_left", "top", "width", "height")  # the lake's box columns
UNLABELED = "unlabeled"  # the label rows without one are exported under
DOCUMENT = "annotations.xml"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,40}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{port}{i}" for port in ("COM", "LPT") for i in range(10)
}
INT32 = 2**31 - 1  # frame numbers, sizes and z_order are int32 columns
MAX_TRACK_FRAMES = 1_000_000  # a keyframe-only track that would expand past this is refused


# ---------------------------------------------------------------- values


def coordinate(text: str | None) -> float | None:
    """A finite number from an attribute; None when missing or not a number."""
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def integer(text: str | None) -> int | None:
    """A whole number ("12", "12.0") that fits an int32 column; None otherwise."""
    value = coordinate(text)
    return int(value) if value is not None and value.is_integer() and abs(value) <= INT32 else None


def flag(text: str | None) -> bool | None:
    """CVAT's 0/1 (or False/True) flags; None when absent."""
    if text is None:
        return None
    return text.strip().lower() in ("1", "true")


def parse_points(text: str | None) -> list[dict[str, float]] | None:
    """``"x1,y1;x2,y2"`` as vertices; None when empty or any pair is not two numbers."""
    points = []
    for pair in (text or "").split(";"):
        parts = pair.split(",")
        x, y = (coordinate(p) for p in parts) if len(parts) == 2 else (None, None)
        if x is None or y is None:
            return None
        points.append({"x": x, "y": y})
    return points


def geometry(element: ET.Element) -> dict[str, Any] | None:
    """The coordinate columns of a shape element; None when a coordinate is unreadable."""
    if element.tag != "box":
        points = parse_points(element.get("points"))
        return None if points is None else {"points": points}
    xtl, ytl, xbr, ybr = (coordinate(element.get(k)) for k in ("xtl", "ytl", "xbr", "ybr"))
    if xtl is None or ytl is None or xbr is None or ybr is None:
        return None
    return {"box_left": xtl, "top": ytl, "width": xbr - xtl, "height": ybr - ytl}


def interpolate(first: dict[str, Any], last: dict[str, Any], t: float) -> dict[str, Any]:
    """The shape a fraction ``t`` of the way from one keyframe to the next, as CVAT draws it."""
    if "points" not in first:
        return {k: first[k] + (last[k] - first[k]) * t for k in BOX}
    a, b = first["points"], last["points"]
    if len(a) != len(b):
        return first
    return {
        "points": [
            {"x": p["x"] + (q["x"] - p["x"]) * t, "y": p["y"] + (q["y"] - p["y"]) * t}
            for p, q in zip(a, b, strict=True)
        ]
    }


def attributes(element: ET.Element) -> dict[str, str]:
    """The ``<attribute name="...">value</attribute>`` children of an element."""
    return {a.get("name", ""): a.text or "" for a in element.findall("attribute") if a.get("name")}


def object_name(label: str | None, object_id: str) -> str | None:
    """``<label>:<id>``, the way Ground Truth names objects."""
    return None if label is None else f"{label}:{object_id}"


def _where(kind: str, given: str | None, ordinal: int) -> str:
    # Name a track or image by its id when that is a plain number, else by its position:
    # reasons never quote the file's text.
    return f"{kind} {given}" if given and given.isdigit() else f"{kind} #{ordinal} in the file"


def _tag(element: ET.Element) -> str:
    return f"<{element.tag}>" if _NAME.fullmatch(element.tag) else "an unknown element"


# ---------------------------------------------------------------- meta


@dataclass(frozen=True)
class Grid:
    """The frames a task holds: start, start + step, ... up to stop (open when unknown)."""

    start: int = 0
    stop: int | None = None
    step: int = 1

    def between(self, first: int, last: int) -> range:
        """Task frames strictly between two frames."""
        return range(self._after(first), last, self.step)

    def following(self, frame: int) -> range:
        """Task frames after ``frame`` up to the last one; none when that is unknown."""
        return range(self._after(frame), (frame if self.stop is None else self.stop) + 1, self.step)

    def _after(self, frame: int) -> int:
        return frame + 1 + (self.start - frame - 1) % self.step


@dataclass(frozen=True)
class Meta:
    """What ``<meta>`` says about every shape of the file."""

    labels: dict[tuple[str | None, str | None], int] = field(default_factory=dict)
    source_ref: str | None = None
    width: int | None = None
    height: int | None = None
    grid: Grid = Grid()


def read_meta(meta: ET.Element) -> Meta:
    """Labels (with skeleton parents), source, frame size and task frames of a ``<meta>``."""
    labels: dict[tuple[str | None, str | None], int] = {}
    for label in meta.iter("label"):
        labels.setdefault((label.findtext("parent") or None, label.findtext("name")), len(labels))
    task = next((t for k in ("task", "job", "project") if (t := meta.find(k)) is not None), meta)
    start = integer(task.findtext("start_frame")) or 0
    step = integer((task.findtext("frame_filter") or "").partition("step=")[2].strip()) or 1
    stop = integer(task.findtext("stop_frame"))
    size = integer(task.findtext("size"))
    if stop is None and size:
        stop = start + (size - 1) * step
    source = (meta.findtext("source") or task.findtext("name") or "").strip()
    return Meta(
        labels=labels,
        source_ref=source or None,
        width=integer(meta.findtext(".//original_size/width")),
        height=integer(meta.findtext(".//original_size/height")),
        grid=Grid(start, stop, max(step, 1)),
    )


# ---------------------------------------------------------------- tracks


@dataclass(frozen=True)
class Key:
    """One shape element of a track: a keyframe, an interpolated frame or an outside mark."""

    frame: int
    outside: bool
    keyframe: bool
    element: ET.Element


def covered_frames(keys: list[Key], grid: Grid) -> int:
    """How many frames a keyframe-only track covers once expanded, from its keyframes alone."""
    total = 0
    for key, following in zip(keys, [*keys[1:], None], strict=True):
        if not key.outside:
            span = (
                grid.following(key.frame)
                if following is None
                else grid.between(key.frame, following.frame)
            )
            total += 1 + len(span)
    return total


def _row(
    base: dict[str, Any],
    frame_no: int,
    shape: dict[str, Any],
    element: ET.Element,
    keyframe: bool | None,
    values: dict[str, str],
) -> dict[str, Any]:
    return {
        **base,
        **shape,
        "frame_no": frame_no,
        "occluded": flag(element.get("occluded")),
        "z_order": integer(element.get("z_order")),
        "keyframe": keyframe,
        "attributes": list(values.items()) or None,
    }


def unsupported(element: ET.Element) -> str:
    """Why a shape of a kind the lake has no column for was not imported."""
    return (
        f"{_tag(element)} shapes are not supported (box, polygon, polyline, points and skeleton "
        "are); convert them in CVAT or leave them out of the export"
    )


def unreadable(element: ET.Element, what: str = "coordinate") -> str:
    """Why a shape with a value that is not a number was not imported."""
    return f"the {_tag(element)} has a missing or non-numeric {what}; fix it and export again"


class _FileReader:
    """The rows of one CVAT file, one top-level element at a time; counts go to ``log``."""

    def __init__(self, path: str, job_name: str, batch_id: str | None, log: formats.ImportLog):
        self.path, self.log = path, log
        self.common = {"batch_id": batch_id, "job_name": job_name}
        self.meta = Meta()
        self.counts = {"track": 0, "image": 0, "tag": 0}

    def drop(self, reason: str, shapes: int = 1) -> None:
        """``shapes`` seen shapes that will not become rows."""
        if shapes:
            self.log.drop(self.path, None, reason, shapes)  # line numbers: iterparse has none

    def rows(self, element: ET.Element) -> Iterable[dict[str, Any]]:
        """The rows of one child of ``<annotations>``."""
        if element.tag in self.counts:
            self.counts[element.tag] += 1
        if element.tag == "meta":
            self.meta = read_meta(element)
        elif element.tag == "track":
            return self.track_rows(element)
        elif element.tag == "image":
            return self.image_rows(element)
        elif element.tag in SHAPES or element.tag == "skeleton":
            self.log.saw(self.path)
            self.drop(
                f"a {_tag(element)} outside any <track> or <image> has no frame; move it "
                "into the track or image it belongs to"
            )
        elif element.tag not in ("version", "tag"):
            self.log.note(self.path, None, f"{_tag(element)} under <annotations> was ignored")
        return ()

    def finish(self) -> None:
        """Say what was left out that is not a shape."""
        if self.counts["tag"]:
            self.log.note(
                self.path,
                None,
                f"{self.counts['tag']} <tag> element(s) label a whole "
                "frame or image; they are not shapes and were not imported",
            )

    # -- video

    def track_rows(self, track: ET.Element) -> Iterator[dict[str, Any]]:
        """Every frame of a track, or of each node of a skeleton track."""
        track_id = track.get("id") or str(self.counts["track"] - 1)
        where = _where("track", track.get("id"), self.counts["track"])
        label = track.get("label")
        base = {
            **self.common,
            "source_ref": self.meta.source_ref or self.path,
            "image_width": self.meta.width,
            "image_height": self.meta.height,
            "object_id": track_id,
            "object_name": object_name(label, track_id),
        }
        nodes = track.findall("track") or node_tracks(track.findall("skeleton"))
        if not nodes:
            labels = {"label": label, "class_id": self.meta.labels.get((None, label))}
            yield from self.frames(track, {**base, **labels}, where)
        for number, node in enumerate(nodes, start=1):
            node_label = node.get("label")
            labels = {"label": node_label, "class_id": self.meta.labels.get((label, node_label))}
            yield from self.frames(node, {**base, **labels}, f"{where}, skeleton node {number}")

    def keys(self, elements: list[ET.Element], where: str) -> list[Key]:
        """A track's shape elements by frame; one of another kind or without a frame is lost."""
        keys = []
        for element in elements:
            frame, outside = integer(element.get("frame")), flag(element.get("outside")) is True
            if element.tag == elements[0].tag and frame is not None:
                keyframe = flag(element.get("keyframe")) is not False
                keys.append(Key(frame, outside, keyframe, element))
            elif not outside:
                self.log.saw(self.path)
                self.drop(
                    f"{where}: "
                    + (
                        unreadable(element, "frame number")
                        if element.tag == elements[0].tag
                        else f"a {_tag(element)} is mixed into a track of {_tag(elements[0])} "
                        "shapes; a CVAT track holds one kind of shape, so move it to its own track"
                    )
                )
        return sorted(keys, key=lambda k: k.frame)

    def frames(
        self, track: ET.Element, base: dict[str, Any], where: str
    ) -> Iterator[dict[str, Any]]:
        """The rows of one track of shapes: as written, or expanded from its keyframes."""
        keys = self.keys(
            [e for e in track if e.tag not in ("attribute", "track", "skeleton")], where
        )
        dense = any(not k.keyframe for k in keys)
        seen = sum(not k.outside for k in keys) if dense else covered_frames(keys, self.meta.grid)
        self.log.saw(self.path, seen)
        if not keys:
            return
        if keys[0].element.tag not in SHAPES:
            self.drop(f"{where}: {unsupported(keys[0].element)}", seen)
        elif seen > MAX_TRACK_FRAMES:
            self.drop(
                f"{where} was not imported: its keyframes would cover {seen} frames, more "
                f"than the {MAX_TRACK_FRAMES} a track may; check start_frame, stop_frame "
                "and frame_filter in <meta>",
                seen,
            )
        elif dense:
            yield from self.as_written(keys, base, attributes(track), where)
        else:
            yield from self.expanded(keys, base, attributes(track), where, seen)

    def as_written(
        self, keys: list[Key], base: dict[str, Any], carried: dict[str, str], where: str
    ) -> Iterator[dict[str, Any]]:
        """One row per visible shape of a track that lists all its frames."""
        base = {**base, "shape": SHAPES[keys[0].element.tag]}
        for key in (k for k in keys if not k.outside):
            shape = geometry(key.element)
            if shape is None:
                self.drop(f"{where}, frame {key.frame}: {unreadable(key.element)}")
                continue
            values = {**carried, **attributes(key.element)}
            yield _row(base, key.frame, shape, key.element, key.keyframe, values)

    def expanded(
        self, keys: list[Key], base: dict[str, Any], carried: dict[str, str], where: str, seen: int
    ) -> Iterator[dict[str, Any]]:
        """Keyframes and the frames CVAT interpolates between and after them."""
        base = {**base, "shape": SHAPES[keys[0].element.tag]}
        found = [geometry(k.element) for k in keys]
        if None in found:
            broken = keys[found.index(None)]
            reason = (
                f"{where} was not imported: its {_tag(broken.element)} keyframe at frame "
                f"{broken.frame} has a missing or non-numeric coordinate, and the frames "
                "interpolated from it depend on it; fix it and export again"
            )
            self.drop(reason, seen)
            return
        shapes = [s for s in found if s is not None]
        moves = base["shape"] != "keypoint" or all(len(s["points"]) == 1 for s in shapes)
        for i, (key, shape) in enumerate(zip(keys, shapes, strict=True)):
            carried = {**carried, **attributes(key.element)}
            if key.outside:
                continue
            yield _row(base, key.frame, shape, key.element, True, carried)
            if i + 1 == len(keys):
                for frame in self.meta.grid.following(key.frame):
                    yield _row(base, frame, shape, key.element, False, carried)
                continue
            following, last = keys[i + 1].frame, shapes[i + 1]
            for frame in self.meta.grid.between(key.frame, following):
                t = (frame - key.frame) / (following - key.frame)
                moved = interpolate(shape, last, t) if moves else shape
                yield _row(base, frame, moved, key.element, False, carried)

    # -- images

    def image_rows(self, image: ET.Element) -> Iterator[dict[str, Any]]:
        """One row per shape of an image, and per visible node of its skeletons."""
        name, subset, frame_no = image.get("name"), image.get("subset"), integer(image.get("id"))
        base = {
            **self.common,
            "source_ref": f"{subset}/{name}" if subset and name else name,
            "frame": name,
            "image_width": integer(image.get("width")),
            "image_height": integer(image.get("height")),
        }
        where_image = _where("image", image.get("id"), self.counts["image"])
        frame_no = self.counts["image"] - 1 if frame_no is None else frame_no
        self.counts["tag"] += len(image.findall("tag"))
        shapes = [e for e in image if e.tag not in ("tag", "attribute")]
        for position, element in enumerate(shapes):
            object_id, label = element.get("id") or str(position), element.get("label")
            where = f"{where_image}, shape {position + 1}"
            if element.tag == "skeleton":
                named = {
                    **base,
                    "object_id": object_id,
                    "object_name": object_name(label, object_id),
                }
                yield from self.skeleton_rows(element, named, frame_no, where)
                continue
            self.log.saw(self.path)
            shape = geometry(element) if element.tag in SHAPES else None
            if shape is None:
                self.drop(
                    f"{where}: "
                    + (unreadable(element) if element.tag in SHAPES else unsupported(element))
                )
                continue
            row_base = {
                **base,
                "object_id": object_id,
                "object_name": object_name(label, object_id),
                "label": label,
                "class_id": self.meta.labels.get((None, label)),
                "shape": SHAPES[element.tag],
            }
            yield _row(row_base, frame_no, shape, element, None, attributes(element))

    def skeleton_rows(
        self, skeleton: ET.Element, base: dict[str, Any], frame_no: int, where: str
    ) -> Iterator[dict[str, Any]]:
        """The visible nodes of an image's skeleton, as keypoints."""
        label, carried = skeleton.get("label"), attributes(skeleton)
        for number, node in enumerate(skeleton.findall("points"), start=1):
            if flag(node.get("outside")):
                continue
            self.log.saw(self.path)
            shape = geometry(node)
            if shape is None:
                self.drop(f"{where}, skeleton node {number}: {unreadable(node)}")
                continue
            node_label = node.get("label")
            row_base = {
                **base,
                "label": node_label,
                "class_id": self.meta.labels.get((label, node_label)),
                "shape": "keypoint",
            }
            yield _row(row_base, frame_no, shape, node, None, {**carried, **attributes(node)})


def node_tracks(skeletons: list[ET.Element]) -> list[ET.Element]:
    """Per-node tracks from skeletons that hold their nodes' ``<points>`` frame by frame."""
    nodes: dict[str | None, ET.Element] = {}
    for skeleton in skeletons:
        for point in skeleton.findall("points"):
            for name in ("frame", "keyframe"):
                if point.get(name) is None and skeleton.get(name) is not None:
                    point.set(name, skeleton.get(name, ""))
            if point.get("label") not in nodes:
                nodes[point.get("label")] = ET.Element("track", {"label": point.get("label", "")})
            nodes[point.get("label")].append(point)
    return list(nodes.values())


# ---------------------------------------------------------------- reading


def children(stream: BinaryIO, path: str) -> Iterator[ET.Element]:
    """Each child of the root ``<annotations>`` once complete; cleared after it is used."""
    depth, root = 0, None
    for event, element in ET.iterparse(stream, events=("start", "end")):
        if event == "start":
            depth += 1
            if root is None:
                root = element
                if element.tag != "annotations":
                    raise LabellakeError(
                        f"{path}: not a CVAT XML file (the root element is not <annotations>); "
                        "export it from CVAT as 'CVAT for video 1.1' or 'CVAT for images 1.1'"
                    )
            continue
        depth -= 1
        if depth == 1 and root is not None:
            yield element
            root.clear()


def _read(
    path: str,
    stream: BinaryIO,
    job_name: str,
    batch_id: str | None,
    log: formats.ImportLog,
    expected: str | None,
) -> Iterator[formats.Chunk]:
    reader = _FileReader(path, job_name, batch_id, log)
    seen_before, rows = log.tally(path).seen, AnnotationRows()
    try:
        for element in children(stream, path):
            for row in reader.rows(element):
                rows.add(**row)
                if len(rows) >= formats.CHUNK_ROWS:
                    yield formats.Chunk(path, annotations=rows.table())
                    rows = AnnotationRows()
    except ET.ParseError as error:
        line, column = error.position
        if log.tally(path).seen == seen_before:
            raise LabellakeError(
                f"{path}: line {line}, column {column}: not well-formed XML, nothing could be "
                "read; export the annotations from CVAT again"
            ) from None
        log.note(
            path,
            line,
            f"not well-formed XML at line {line}, column {column}: the rest of "
            "the file was not read (shapes after it are not counted); export it again",
        )
    if len(rows):
        yield formats.Chunk(path, annotations=rows.table())
    reader.finish()
    other = {"video": "image", "images": "track"}.get(expected or "")
    if other and reader.counts[other]:
        log.note(
            path,
            None,
            f"read as CVAT for {expected}, but the file holds <{other}> "
            f"elements; they were read as they are (format 'cvat' reads either kind)",
        )


def read_cvat(
    path: str, stream: BinaryIO, *, job_name: str, batch_id: str | None, log: formats.ImportLog
) -> Iterator[formats.Chunk]:
    """Either kind of CVAT XML: tracks are read as video, images as images, as they come."""
    yield from _read(path, stream, job_name, batch_id, log, None)


def read_cvat_video(
    path: str, stream: BinaryIO, *, job_name: str, batch_id: str | None, log: formats.ImportLog
) -> Iterator[formats.Chunk]:
    """A "CVAT for video 1.1" export: tracks, expanded to every frame they cover."""
    yield from _read(path, stream, job_name, batch_id, log, "video")


def read_cvat_images(
    path: str, stream: BinaryIO, *, job_name: str, batch_id: str | None, log: formats.ImportLog
) -> Iterator[formats.Chunk]:
    """A "CVAT for images 1.1" export: the shapes of each image."""
    yield from _read(path, stream, job_name, batch_id, log, "images")


# ---------------------------------------------------------------- writing

# Escapes as ElementTree writes them: in attribute values, and in the text of an element.
_IN_ATTRIBUTE = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\r": "&#13;",
        "\n": "&#10;",
        "\t": "&#09;",
    }
)
_IN_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
HEADER = '<?xml version="1.0" encoding="utf-8"?>\n'
_LINE = "\n  "  # before each child of <annotations>
_END = "\n</annotations>\n"
# What a document is written from: the rows' shapes, and their frames and labels.
_COLUMNS = [
    "source_ref",
    "frame_no",
    "frame",
    "object_id",
    "object_name",
    "class_id",
    "label",
    "shape",
    *BOX,
    "points",
    "attributes",
    "image_width",
    "image_height",
    "occluded",
    "keyframe",
    "z_order",
]
# What <meta> and the order of the tracks or images are found from.
_OUTLINE = [
    "source_ref",
    "frame_no",
    "object_id",
    "object_name",
    "label",
    "shape",
    "class_id",
    "attributes",
]


def _number(value: float) -> str:
    return repr(float(value))


def _points_text(points: list[dict[str, float]] | None) -> str:
    return ";".join(f"{_number(p['x'])},{_number(p['y'])}" for p in points or [])


def _label(value: str | None) -> str:
    return UNLABELED if value is None else value


def skeleton_of(row: dict[str, Any]) -> str | None:
    """The skeleton a keypoint row is a node of: the label its object_name names, if not its own."""
    return _skeleton(row.get("object_name"), row["label"], row["shape"])


def _skeleton(object_name: str | None, label: str | None, shape: str | None) -> str | None:
    if shape != "keypoint":
        return None
    head, colon, _ = (object_name or "").rpartition(":")
    return None if not colon or head == _label(label) else head


def _group(
    rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Hashable]
) -> dict[Any, list[dict[str, Any]]]:
    groups: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return groups


def _id_order(value: str | None) -> tuple[int, int, str]:
    text = value or ""
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


@dataclass
class LabelSpec:
    """A label as ``<meta>`` declares it."""

    name: str
    parent: str | None
    kind: str
    class_id: int | None
    attributes: dict[str, None] = field(default_factory=dict)  # names, in order


class LabelSpecs:
    """The labels rows use, gathered row by row, as ``<meta>`` declares them."""

    def __init__(self) -> None:
        self.specs: dict[tuple[str | None, str], LabelSpec] = {}
        self._seen: set[tuple[Any, ...]] = set()  # what was added: adding it again changes nothing

    def _spec(self, parent: str | None, name: str, kind: str, class_id: int | None) -> LabelSpec:
        found = self.specs.setdefault((parent, name), LabelSpec(name, parent, kind, class_id))
        found.kind = found.kind if found.kind == kind else "any"
        if class_id is not None and (found.class_id is None or class_id < found.class_id):
            found.class_id = class_id
        return found

    def add(
        self,
        skeleton: str | None,
        label: str | None,
        shape: str | None,
        class_id: int | None,
        attributes: list[tuple[str, str]] | None,
    ) -> None:
        """The label of a row (a node of ``skeleton``, when given) with these values."""
        names = tuple(name for name, _ in attributes or ())
        if (seen := (skeleton, label, shape, class_id, names)) in self._seen:
            return
        self._seen.add(seen)
        if skeleton is not None:
            self._spec(None, skeleton, "skeleton", None)
        kind = LABEL_TYPES.get(shape or "", "any")
        found = self._spec(skeleton, _label(label), kind, class_id)
        found.attributes.update(dict.fromkeys(names))

    def ordered(self) -> list[LabelSpec]:
        """The labels, skeleton nodes after their skeleton, in class-id order."""
        specs = self.specs
        for parent in [s for s in specs.values() if s.kind == "skeleton" and s.class_id is None]:
            # a skeleton's own class id is on no row: place it just before its nodes
            nodes = [s.class_id for s in specs.values() if s.parent == parent.name]
            parent.class_id = min((i for i in nodes if i is not None), default=None)

        def order(s: LabelSpec) -> tuple[bool, int, str]:
            return (s.class_id is None, s.class_id or 0, s.name)

        top = sorted((s for s in specs.values() if s.parent is None), key=order)
        return [
            x
            for s in top
            for x in [s, *sorted((c for c in specs.values() if c.parent == s.name), key=order)]
        ]


def _text(parent: ET.Element, tag: str, text: str | int | None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = None if text is None else str(text)
    return element


def meta_element(
    root: ET.Element,
    *,
    name: str,
    mode: str,
    grid: Grid,
    size: int,
    specs: list[LabelSpec],
    original_size: tuple[int | None, int | None] = (None, None),
    source: str | None = None,
) -> ET.Element:
    """``<meta><task>`` with the task's frames and labels (and the video's size and source)."""
    meta = ET.SubElement(root, "meta")
    task = ET.SubElement(meta, "task")
    for tag, value in (
        ("name", name),
        ("size", size),
        ("mode", mode),
        ("overlap", 0),
        ("start_frame", grid.start),
        ("stop_frame", grid.stop),
        ("frame_filter", f"step={grid.step}" if grid.step > 1 else ""),
    ):
        _text(task, tag, value)
    labels = ET.SubElement(task, "labels")
    for spec in specs:
        label = ET.SubElement(labels, "label")
        _text(label, "name", spec.name)
        _text(label, "type", spec.kind)
        specs_element = ET.SubElement(label, "attributes")
        for attribute_name in spec.attributes:
            attribute = ET.SubElement(specs_element, "attribute")
            for tag, value in (
                ("name", attribute_name),
                ("mutable", "True"),
                ("input_type", "text"),
                ("default_value", ""),
                ("values", ""),
            ):
                _text(attribute, tag, value)
        if spec.parent is not None:
            _text(label, "parent", spec.parent)
    width, height = original_size
    if width and height:
        size_element = ET.SubElement(task, "original_size")
        _text(size_element, "width", width)
        _text(size_element, "height", height)
    if source is not None:
        _text(meta, "source", source)
    return meta


def _head(**meta: Any) -> str:
    """A document's text up to its first track or image: ``<annotations>``, its version and
    the ``<meta>`` that ``meta`` describes. Each element after it is written as a line
    (`_LINE` and its text), then `_END`."""
    element = meta_element(ET.Element("annotations"), **meta)
    ET.indent(element, space="  ", level=1)
    return f"{HEADER}<annotations>{_LINE}<version>1.1</version>{_LINE}" + ET.tostring(
        element, encoding="unicode"
    )


def _attributes_text(values: dict[str, str]) -> str:
    return "".join(f' {name}="{value.translate(_IN_ATTRIBUTE)}"' for name, value in values.items())


def _element_text(tag: str, attributes: str, children: list[str], level: int) -> str:
    """An element as ElementTree writes it indented two spaces a level: ``attributes`` is
    the text of its attributes, ``children`` that of its child elements."""
    if not children:
        return f"<{tag}{attributes} />"
    inner = "\n" + "  " * (level + 1)
    parts = [f"<{tag}{attributes}>"]
    for child in children:
        parts += (inner, child)
    parts.append(f"\n{'  ' * level}</{tag}>")
    return "".join(parts)  # one join, no text copied twice: a track is megabytes


def shape_text(tag: str, row: dict[str, Any], head: str, level: int) -> str:
    """One CVAT shape element: ``head`` (the text of its first attributes), occluded,
    coordinates, z_order, and the row's attributes as children."""
    text = f"<{tag}{head}"
    if row["occluded"] is not None:
        text += ' occluded="1"' if row["occluded"] else ' occluded="0"'
    if tag == "box":
        left, top = row["box_left"], row["top"]
        text += (
            f' xtl="{_number(left)}" ytl="{_number(top)}" xbr="{_number(left + row["width"])}"'
            f' ybr="{_number(top + row["height"])}"'
        )
    else:
        text += f' points="{_points_text(row["points"])}"'
    if row["z_order"] is not None:
        text += f' z_order="{row["z_order"]}"'
    if not row["attributes"]:
        return text + " />"
    inner = "\n" + "  " * (level + 1)
    children = "".join(
        f'{inner}<attribute name="{name.translate(_IN_ATTRIBUTE)}"'
        + (f">{str(value).translate(_IN_TEXT)}</attribute>" if value else " />")
        for name, value in row["attributes"]
    )
    return f"{text}>{children}\n{'  ' * level}</{tag}>"


def check_drawable(annotations: pa.Table) -> None:
    """LabellakeError naming some rows, when a row has no shape CVAT can draw."""
    shape = annotations["shape"]
    is_box = pc.fill_null(pc.equal(shape, "box"), False)
    unknown = pc.invert(pc.is_in(shape, value_set=pa.array(list(ELEMENTS))))
    gaps = reduce(pc.or_, [pc.is_null(annotations[column]) for column in BOX])
    no_points = pc.fill_null(pc.equal(pc.list_value_length(annotations["points"]), 0), True)
    broken = pc.or_(unknown, pc.if_else(is_box, gaps, no_points))
    count = pc.sum(broken).as_py() or 0
    if not count:
        return
    first = annotations.select(["object_id", "frame_no", "source_ref"]).filter(broken)
    named = ", ".join(
        f"object {r['object_id']} at frame {r['frame_no']} of {r['source_ref']}"
        for r in first.slice(0, 3).to_pylist()
    )
    raise LabellakeError(
        f"{count} row(s) have no shape CVAT can draw (a box needs box_left, top, "
        f"width and height; other shapes need points), e.g. {named}; fix or filter them "
        "before export"
    )


def _size(row: dict[str, Any], frame: FrameLookup) -> tuple[int | None, int | None]:
    if row["image_width"] and row["image_height"]:
        return row["image_width"], row["image_height"]
    if row["source_ref"] is None:
        return None, None
    found = frame(row["source_ref"], row["frame_no"] or 0, row["frame"])
    return found.width, found.height


def _title(source_ref: str | None) -> str:
    return (source_ref or "clip").rstrip("/").rsplit("/", 1)[-1] or "clip"


def folder_names(source_refs: Iterable[str | None]) -> dict[str | None, str]:
    """A distinct folder name per clip that Windows, macOS and Linux can all store."""
    names: dict[str | None, str] = {}
    used: set[str] = set()
    for ref in source_refs:
        stem = _UNSAFE.sub("_", _title(ref)).strip("._")[:80] or "clip"
        stem = f"{stem}_" if stem.split(".")[0].upper() in _RESERVED else stem
        name, n = stem, 2
        while name.lower() in used:
            name, n = f"{stem}-{n}", n + 1
        used.add(name.lower())
        names[ref] = name
    return names


def track_ids(keys: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], int]:
    """CVAT track ids: the object_id where it is a number not used yet, else the next free one."""
    ids: dict[tuple[Any, ...], int] = {}
    for key in sorted(keys, key=lambda k: _id_order(k[1])):
        if key[1] is not None and key[1].isdigit() and int(key[1]) not in ids.values():
            ids[key] = int(key[1])
    free = max(ids.values(), default=-1) + 1
    for key in keys:
        if key not in ids:
            ids[key], free = free, free + 1
    return ids


def _track_text(head: str, tag: str, rows: Iterable[dict[str, Any]], grid: Grid, level: int) -> str:
    """A track of ``tag`` shapes from its rows in frame order, with an ``outside`` keyframe
    on the task frame after each run of rows."""
    shapes = []
    runs = ((frame_no, list(same)) for frame_no, same in groupby(rows, itemgetter("frame_no")))
    run = next(runs, None)
    while run is not None:
        (frame_no, same_frame), run = run, next(runs, None)
        following = None if run is None else run[0]  # the next frame with rows
        after = frame_no + grid.step
        for number, row in enumerate(same_frame):
            keyframe = "0" if row["keyframe"] is False else "1"
            at = f' frame="{frame_no}" keyframe="{keyframe}" outside="0"'
            shapes.append(shape_text(tag, row, at, level + 1))
            # the task frame after is free when the next run is not on it (rows come in
            # frame order); its mark is written once, after the first row of the run
            if number == 0 and after != following and grid.stop is not None and after <= grid.stop:
                outside = f' frame="{after}" keyframe="1" outside="1"'
                shapes.append(shape_text(tag, row, outside, level + 1))
    return _element_text("track", head, shapes, level)


def _skeleton_track_text(head: str, rows: list[dict[str, Any]], grid: Grid, level: int) -> str:
    """A skeleton's track from its rows in table order: its frames, then a nested track
    per node."""
    by_frame = _group(rows, lambda r: r["frame_no"])
    children = []
    for frame_no in sorted(by_frame):
        keyframe = any(r["keyframe"] is not False for r in by_frame[frame_no])
        children.append(
            f'<skeleton frame="{frame_no}" keyframe="{"1" if keyframe else "0"}" outside="0" />'
        )
        after = frame_no + grid.step
        if after not in by_frame and grid.stop is not None and after <= grid.stop:
            children.append(f'<skeleton frame="{after}" keyframe="1" outside="1" />')
    nodes = _group(
        sorted(rows, key=lambda r: (r["class_id"] is None, r["class_id"] or 0)),
        lambda r: _label(r["label"]),
    )
    for number, (label, node_rows) in enumerate(nodes.items()):
        node = _attributes_text({"id": str(number), "label": label})
        by_frame_no = sorted(node_rows, key=itemgetter("frame_no"))
        children.append(_track_text(node, "points", by_frame_no, grid, level + 1))
    return _element_text("track", head, children, level)


@dataclass
class _Clip:
    """What a video's ``<meta>`` says, gathered from its rows, and its tracks."""

    first: int  # its first row, for the video's size
    origin: int  # that row's frame
    low: int = 0  # its first and last frame, and the step between its frames
    high: int = 0
    step: int = 0
    labels: LabelSpecs = field(default_factory=LabelSpecs)
    tracks: dict[tuple[Any, ...], int] = field(default_factory=dict)  # key -> number

    def grid(self) -> Grid:
        return Grid(self.low, self.high, self.step or 1)

    def head(self, source_ref: str | None, first: dict[str, Any], frame: FrameLookup) -> str:
        grid = self.grid()
        return _head(
            name=_title(source_ref),
            mode="interpolation",
            grid=grid,
            size=len(range(grid.start, self.high + 1, grid.step)),
            specs=self.labels.ordered(),
            original_size=_size(first, frame),
            source=source_ref,
        )


def _clips(annotations: pa.Table) -> tuple[dict[str | None, _Clip], list[Any], np.ndarray]:
    """The videos of the rows in order of their first row; their tracks (video and key:
    a skeleton's nodes form one track, any other shape a track per object, label and
    shape), in order of their first row; and each row's track."""
    clips: dict[str | None, _Clip] = {}
    tracks: list[tuple[str | None, tuple[Any, ...]]] = []
    track_of = np.empty(annotations.num_rows, dtype=np.int64)
    for position, values in enumerate(values_of(annotations, _OUTLINE)):
        source_ref, frame_no, object_id, object_name, label, shape, class_id, attributes = values
        frame_no = frame_no or 0
        clip = clips.get(source_ref)
        if clip is None:
            clip = clips[source_ref] = _Clip(position, frame_no, frame_no, frame_no)
        clip.low, clip.high = min(clip.low, frame_no), max(clip.high, frame_no)
        clip.step = math.gcd(clip.step, frame_no - clip.origin)
        skeleton = _skeleton(object_name, label, shape)
        clip.labels.add(skeleton, label, shape, class_id, attributes)
        if skeleton is not None:
            key: tuple[Any, ...] = (True, object_id, skeleton, None)
        else:
            key = (False, object_id, _label(label), shape)
        if key not in clip.tracks:
            clip.tracks[key] = len(tracks)
            tracks.append((source_ref, key))
        track_of[position] = clip.tracks[key]
    return clips, tracks, track_of


_SIZED = ["source_ref", "frame_no", "frame", "image_width", "image_height"]  # for `_size`


def _frames_from_0(rows: Iterable[tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
    """The rows of (track, position, row) tuples, a row without a frame_no on frame 0."""
    for *_, row in rows:
        row["frame_no"] = row["frame_no"] or 0
        yield row


def to_cvat_video(annotations: pa.Table, frame: FrameLookup) -> dict[str, str]:
    """CVAT for video 1.1: annotations.xml, or <clip>/annotations.xml per clip when several."""
    return joined(video_pieces(annotations, frame))


def video_pieces(annotations: pa.Table, frame: FrameLookup) -> Pieces:
    """`to_cvat_video`'s files, in pieces: the rows are read a batch at a time, track after
    track (each in frame order), and each track is written as text."""
    check_drawable(annotations)
    clips, tracks, track_of = _clips(annotations)
    if not clips:
        head = _head(name="clip", mode="interpolation", grid=Grid(0, 0, 1), size=1, specs=[])
        return {DOCUMENT: [head, _END]}
    ids: list[int] = [0] * len(tracks)
    place = np.empty(len(tracks), dtype=np.int64)  # where each track is written
    written = 0
    for clip in clips.values():
        numbers = track_ids(list(clip.tracks))
        for key in sorted(clip.tracks, key=numbers.__getitem__):
            ids[clip.tracks[key]], place[clip.tracks[key]] = numbers[key], written
            written += 1
    frame_nos = pc.fill_null(annotations["frame_no"], 0).to_numpy()
    order = np.lexsort((np.arange(len(track_of)), frame_nos, place[track_of]))
    pieces: dict[str | None, list[str]] = {ref: [] for ref in clips}
    rows = zip(track_of[order], order, rows_of(annotations, _COLUMNS, order), strict=True)
    for track, track_rows in groupby(rows, key=itemgetter(0)):
        source_ref, (is_skeleton, _, label, shape) = tracks[track]
        grid = clips[source_ref].grid()
        head = _attributes_text({"id": str(ids[track]), "label": label})
        if is_skeleton:  # its rows in table order
            in_order = list(_frames_from_0(sorted(track_rows, key=itemgetter(1))))
            text = _skeleton_track_text(head, in_order, grid, 1)
        else:
            tag = ELEMENTS.get(shape, "points")
            text = _track_text(head, tag, _frames_from_0(track_rows), grid, 1)
        pieces[source_ref] += (_LINE, text)
    firsts = annotations.select(_SIZED).take(
        pa.array([c.first for c in clips.values()], pa.int64())
    )
    documents = {
        ref: [clip.head(ref, first, frame), *pieces[ref], _END]
        for (ref, clip), first in zip(clips.items(), firsts.to_pylist(), strict=True)
    }
    if len(documents) == 1:
        return {DOCUMENT: next(iter(documents.values()))}
    names = folder_names(documents)
    return {f"{names[ref]}/{DOCUMENT}": text for ref, text in documents.items()}


def _subset(source_ref: str | None, name: str) -> str | None:
    prefix, slash, rest = (source_ref or "").rpartition("/")
    return (
        prefix
        if slash and rest == name and prefix and "/" not in prefix and ":" not in prefix
        else None
    )


def image_ids(keys: list[tuple[str | None, int | None]], names: list[str]) -> list[int]:
    """The images' ids: their frame numbers where those tell them apart, else 0, 1, 2, ..."""
    pairs = [
        (_subset(ref, name), frame_no) for (ref, frame_no), name in zip(keys, names, strict=True)
    ]
    if all(f is not None for _, f in pairs) and len(set(pairs)) == len(pairs):
        return [f for _, f in pairs]  # type: ignore[misc]
    return list(range(len(keys)))


def image_text(attributes: dict[str, str], rows: list[dict[str, Any]]) -> str:
    """An ``<image>`` with its shapes in object order; ``id`` where the position differs."""
    objects = _group(
        sorted(rows, key=lambda r: _id_order(r["object_id"])),
        lambda r: (r["object_id"], skeleton_of(r)) if skeleton_of(r) else id(r),
    )
    shapes = []
    for position, group in enumerate(objects.values()):
        first = group[0]
        head = (
            {}
            if first["object_id"] == str(position) or first["object_id"] is None
            else {"id": first["object_id"]}
        )
        skeleton = skeleton_of(first)
        if skeleton is None:
            values = _attributes_text({"label": _label(first["label"]), **head})
            shapes.append(shape_text(ELEMENTS.get(first["shape"], "points"), first, values, 2))
            continue
        values = {"label": skeleton, **head}
        if first["z_order"] is not None:
            values["z_order"] = str(first["z_order"])
        nodes = [
            shape_text(
                "points", row, _attributes_text({"label": _label(row["label"]), "outside": "0"}), 3
            )
            for row in group
        ]
        shapes.append(_element_text("skeleton", _attributes_text(values), nodes, 2))
    return _element_text("image", _attributes_text(attributes), shapes, 1)


def _image_name(row: dict[str, Any], position: int) -> str:
    if row["frame"]:
        return str(row["frame"])
    return _title(row["source_ref"]) if row["source_ref"] else f"frame_{position:06d}"


def to_cvat_images(annotations: pa.Table, frame: FrameLookup) -> dict[str, str]:
    """CVAT for images 1.1: one annotations.xml with an <image> per frame and its shapes."""
    return joined(images_pieces(annotations, frame))


def images_pieces(annotations: pa.Table, frame: FrameLookup) -> Pieces:
    """`to_cvat_images`' file, in pieces: the rows are read a batch at a time, image after
    image, and each image is written as text."""
    check_drawable(annotations)
    labels = LabelSpecs()
    images: dict[tuple[str | None, int | None], int] = {}  # key -> number, by first row
    firsts: list[int] = []  # each image's first row
    image_of = np.empty(annotations.num_rows, dtype=np.int64)
    for position, values in enumerate(values_of(annotations, _OUTLINE)):
        source_ref, frame_no, _, object_name, label, shape, class_id, attributes = values
        labels.add(_skeleton(object_name, label, shape), label, shape, class_id, attributes)
        if (source_ref, frame_no) not in images:
            images[source_ref, frame_no] = len(firsts)
            firsts.append(position)
        image_of[position] = images[source_ref, frame_no]
    first_rows = annotations.select(_SIZED).take(pa.array(firsts, pa.int64())).to_pylist()
    keys = list(images)
    ranked = sorted(
        range(len(keys)), key=lambda i: (keys[i][1] is None, keys[i][1] or 0, keys[i][0] or "")
    )
    names = [_image_name(first_rows[i], n) for n, i in enumerate(ranked)]
    ids = image_ids([keys[i] for i in ranked], names)
    place = np.empty(len(keys), dtype=np.int64)  # where each image is written
    place[ranked] = np.arange(len(keys))
    order = np.argsort(place[image_of], kind="stable")
    pieces = []
    rows = zip(image_of[order], rows_of(annotations, _COLUMNS, order), strict=True)
    for n, (image, image_rows) in enumerate(groupby(rows, key=itemgetter(0))):
        attributes = {"id": str(ids[n]), "name": names[n]}
        subset = _subset(keys[image][0], names[n])
        if subset:
            attributes["subset"] = subset
        width, height = _size(first_rows[image], frame)
        if width and height:
            attributes.update(width=str(width), height=str(height))
        pieces += (_LINE, image_text(attributes, [row for _, row in image_rows]))
    head = _head(
        name="labellake export",
        mode="annotation",
        grid=Grid(0, max(len(keys) - 1, 0)),
        size=len(keys),
        specs=labels.ordered(),
    )
    return {DOCUMENT: [head, *pieces, _END]}
