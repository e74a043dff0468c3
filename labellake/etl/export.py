"""The lake's annotations -> training formats (COCO, YOLO, MOTChallenge) and other labeling
tools' formats (CVAT for video and for images, Label Studio).

Pure functions from `annotations` rows (as an Arrow table) and the frames'
locations and sizes to the files a training pipeline takes, returned as
{relative path: text}; the caller writes them. What is exported is chosen by job:
`leaf_jobs` picks a batch's last job of each chain, `job_annotations` reads their
shapes from the lake, `export_jobs` turns them into one format's files.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from labellake import sql
from labellake.aws_clients import AwsTarget, store_options
from labellake.errors import LabellakeError
from labellake.lake import Lake

FORMATS = ("coco", "yolo", "mot", "cvat-video", "cvat-images", "labelstudio")
BATCH_ROWS = 10_000  # rows made Python objects at a time: a writer holds a batch, not the table
TAKE_ROWS = 100_000  # rows gathered at a time into another order: a take costs much per call


@dataclass(frozen=True)
class Frame:
    source_ref: str
    frame_no: int
    image_uri: str
    width: int | None
    height: int | None


FrameLookup = Callable[[str, int, str | None], Frame]
# Relative path -> the file's text in pieces, in order: what a writer makes before `joined`,
# so that the rows can be let go before the texts are whole.
Pieces = dict[str, list[str]]


UNLABELED = "unlabeled"  # the class of shapes that have no label


def safe_name(text: str) -> str:
    """``text`` as a file or folder name every system can store: characters other than
    letters, digits, '.', '_' and '-' (a ':' from a file name, say) become '_'.

    >>> safe_name("2026-11-20_10:13:55 clip")
    '2026-11-20_10_13_55_clip'
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "clip"


def _clip_name(source_ref: str) -> str:
    name = source_ref.rstrip("/").rsplit("/", 1)[-1]
    for suffix in ("_seq.json", ".json", ".jpg", ".jpeg", ".png"):
        name = name.removesuffix(suffix)
    return safe_name(name)


def label_of(row: dict) -> str:  # type: ignore[type-arg]
    """The class a row is exported under: its label, or `UNLABELED`."""
    return UNLABELED if row["label"] is None else str(row["label"])


def _is_sequence(source_ref: str) -> bool:
    """A source_ref that names a clip of frames (a sequence file or a folder of frames),
    not a single image."""
    return source_ref.endswith(".json") or source_ref.endswith("/")


def joined(files: Pieces) -> dict[str, str]:
    """Each file's text whole, file by file, letting go of its pieces as it goes.

    >>> joined({"a.txt": ["1 ", "2"], "b.txt": []})
    {'a.txt': '1 2', 'b.txt': ''}
    """
    return {path: "".join(files.pop(path)) for path in list(files)}


def batches_of(
    annotations: pa.Table, columns: Sequence[str], order: np.ndarray | None = None
) -> Iterator[pa.RecordBatch | pa.Table]:
    """``columns`` of the rows, `BATCH_ROWS` at a time, in table order or in ``order`` (row
    positions): the writers turn one batch at a time into Python objects."""
    table = annotations.select(list(columns))
    if order is None or (len(order) == table.num_rows and bool(np.all(np.diff(order) == 1))):
        yield from table.to_batches(max_chunksize=BATCH_ROWS)
        return
    for start in range(0, len(order), TAKE_ROWS):
        yield from table.take(order[start : start + TAKE_ROWS]).to_batches(BATCH_ROWS)


def rows_of(
    annotations: pa.Table, columns: Sequence[str], order: np.ndarray | None = None
) -> Iterator[dict[str, Any]]:
    """The rows as dicts of ``columns``, a batch at a time (see `batches_of`)."""
    for batch in batches_of(annotations, columns, order):
        yield from batch.to_pylist()


def values_of(
    annotations: pa.Table, columns: Sequence[str], order: np.ndarray | None = None
) -> Iterator[tuple[Any, ...]]:
    """The rows as tuples of the values of ``columns`` (cheaper than dicts), a batch at a time."""
    for batch in batches_of(annotations, columns, order):
        yield from _values(batch)


def _values(batch: pa.RecordBatch | pa.Table) -> Iterator[tuple[Any, ...]]:
    return zip(*(column.to_pylist() for column in batch.columns), strict=True)


def _is_box(annotations: pa.Table) -> pa.ChunkedArray:
    return pc.fill_null(pc.equal(annotations["shape"], "box"), False)


def _box_classes(annotations: pa.Table) -> dict[str, int]:
    """Class index by name, in name order, of the labels boxes have (`UNLABELED` for none)."""
    labels = pc.unique(annotations["label"].filter(_is_box(annotations))).to_pylist()
    names = sorted({UNLABELED if label is None else str(label) for label in labels})
    return {name: index for index, name in enumerate(names)}


SHAPE_COLUMNS = [  # what the shape exporters (COCO, Label Studio) write a shape from
    "source_ref",
    "frame_no",
    "frame",
    "object_id",
    "label",
    "shape",
    "box_left",
    "top",
    "width",
    "height",
    "points",
    "attributes",
    "confidence",
]

_YOLO_COLUMNS = [
    "source_ref",
    "frame_no",
    "frame",
    "label",
    "shape",
    "box_left",
    "top",
    "width",
    "height",
]


def to_yolo(annotations: pa.Table, frame: FrameLookup) -> dict[str, str]:
    """labels/<clip>/<frame>.txt with `class cx cy w h` normalized, plus classes.txt.

    YOLO holds boxes only; a frame of unknown size cannot be normalized and is an error.
    """
    return joined(yolo_pieces(annotations, frame))


def yolo_pieces(annotations: pa.Table, frame: FrameLookup) -> Pieces:
    """`to_yolo`'s files, in pieces."""
    categories = _box_classes(annotations)
    files: dict[str, list[str]] = {}  # path -> its lines, a piece of text per batch
    place: tuple[tuple[str, int, str | None], str, int, int] | None = None
    for batch in batches_of(annotations, _YOLO_COLUMNS):
        lines: dict[str, list[str]] = {}
        for source_ref, frame_no, name, label, shape, left, top, width, height in _values(batch):
            if shape != "box":
                continue
            if place is None or place[0] != (source_ref, frame_no, name):  # rows come by frame
                place = _yolo_place(source_ref, frame_no, name, frame)
            _, path, frame_width, frame_height = place
            class_ = categories[UNLABELED if label is None else str(label)]
            cx = (left + width / 2) / frame_width
            cy = (top + height / 2) / frame_height
            lines.setdefault(path, []).append(
                f"{class_} {cx:.6f} {cy:.6f} {width / frame_width:.6f} {height / frame_height:.6f}"
            )
        for path, added in lines.items():
            files.setdefault(path, []).append("\n".join(added) + "\n")
    out = dict(sorted(files.items()))
    out["classes.txt"] = [f"{name}\n" for name in categories]
    return out


def _yolo_place(
    source_ref: str, frame_no: int, name: str | None, frame: FrameLookup
) -> tuple[tuple[str, int, str | None], str, int, int]:
    """A frame's labels file and size; LabellakeError when the size is unknown."""
    info = frame(source_ref, frame_no, name)
    if not info.width or not info.height:
        raise LabellakeError(
            f"frame {frame_no} of {source_ref} has no known size; YOLO needs it: pass --map or "
            "--image-size"
        )
    stem = safe_name((name or f"{frame_no:06d}").rsplit(".", 1)[0])
    if _is_sequence(source_ref):
        path = f"labels/{_clip_name(source_ref)}/{stem}.txt"
    else:
        path = f"labels/{stem}.txt"  # a single image: its labels file beside the others
    return (source_ref, frame_no, name), path, info.width, info.height


@dataclass
class _Clip:
    """What MOT's seqinfo.ini says of a clip: its first row's frame, its length, the first
    frame file name."""

    first: tuple[int, str | None]
    length: int
    named: str | None


def to_mot(
    annotations: pa.Table, frame: FrameLookup, frame_rate: float | None = None
) -> dict[str, str]:
    """<clip>/gt/gt.txt (frame, id, left, top, width, height, conf, class, visibility) and
    <clip>/seqinfo.ini per clip; boxes only. The frame rate is written when known."""
    return joined(mot_pieces(annotations, frame, frame_rate))


def mot_pieces(
    annotations: pa.Table, frame: FrameLookup, frame_rate: float | None = None
) -> Pieces:
    """`to_mot`'s files, in pieces."""
    categories = _box_classes(annotations)
    is_box = _is_box(annotations)
    clips: dict[str, _Clip] = {}
    for source_ref, frame_no, name, shape in values_of(
        annotations, ["source_ref", "frame_no", "frame", "shape"]
    ):
        if shape != "box":
            continue
        clip = clips.get(source_ref)
        if clip is None:
            clips[source_ref] = _Clip((frame_no, name), frame_no + 1, name or None)
        else:
            clip.length = max(clip.length, frame_no + 1)
            clip.named = clip.named or name or None
    # gt.txt lists a clip's boxes by frame and object, whatever order the rows come in
    keys = pa.table(
        {
            "source_ref": annotations["source_ref"],
            "frame_no": annotations["frame_no"],
            "object_id": pc.fill_null(annotations["object_id"], "None"),
        }
    ).filter(is_box)
    boxes = np.flatnonzero(is_box.to_numpy(zero_copy_only=False))
    ranked = pc.sort_indices(keys, sort_keys=[(name, "ascending") for name in keys.column_names])
    order = boxes[ranked.to_numpy()]
    texts: dict[str, list[str]] = {}  # clip -> its gt.txt lines, a piece of text per batch
    tracks: dict[str, dict[str, int]] = {}
    columns = ["source_ref", "frame_no", "object_id", "box_left", "top", "width", "height"]
    for batch in batches_of(annotations, [*columns, "label"], order):
        lines: dict[str, list[str]] = {}
        for source_ref, frame_no, object_id, left, top, width, height, label in _values(batch):
            ids = tracks.setdefault(source_ref, {})
            track = ids.setdefault(str(object_id), len(ids) + 1)
            class_ = categories[UNLABELED if label is None else str(label)] + 1
            lines.setdefault(source_ref, []).append(
                f"{frame_no + 1},{track},{left:.2f},{top:.2f},{width:.2f},{height:.2f},1,{class_},1"
            )
        for source_ref, added in lines.items():
            texts.setdefault(source_ref, []).append("\n".join(added) + "\n")
    out: Pieces = {}
    for source_ref, clip in sorted(clips.items()):
        name = _clip_name(source_ref)
        first = frame(source_ref, *clip.first)
        if not first.width or not first.height:
            raise LabellakeError(
                f"the frames of {source_ref} have no known size; MOT's seqinfo.ini needs it: "
                "pass --map or --image-size"
            )
        named = clip.named
        extension = "." + named.rsplit(".", 1)[-1] if named and "." in named else ".jpg"
        rate = f"frameRate={frame_rate:g}\n" if frame_rate else ""  # unknown: left out
        out[f"{name}/gt/gt.txt"] = texts.pop(source_ref)
        out[f"{name}/seqinfo.ini"] = [
            f"[Sequence]\nname={name}\nimDir=img1\n{rate}seqLength={clip.length}\n"
            f"imWidth={first.width}\nimHeight={first.height}\nimExt={extension}\n"
        ]
    return out


def _foreign(module: str, name: str) -> Callable[[pa.Table, FrameLookup], Any]:
    """The writer ``name`` of another tool's format, in labellake.etl.formats.<module>."""

    def write(annotations: pa.Table, frame: FrameLookup) -> Any:
        from importlib import import_module

        writer = getattr(import_module(f"labellake.etl.formats.{module}"), name)
        return writer(annotations, frame)

    return write


EXPORTERS: dict[str, Callable[[pa.Table, FrameLookup], dict[str, str]]] = {
    "coco": _foreign("coco", "to_coco_instances"),
    "yolo": to_yolo,
    "mot": to_mot,
    "cvat-video": _foreign("cvat", "to_cvat_video"),
    "cvat-images": _foreign("cvat", "to_cvat_images"),
    "labelstudio": _foreign("labelstudio", "to_labelstudio"),
}
# The same writers' files in pieces, for `export_jobs`.
_PIECES: dict[str, Callable[[pa.Table, FrameLookup], Pieces]] = {
    "coco": _foreign("coco", "instances_pieces"),
    "yolo": yolo_pieces,
    "mot": mot_pieces,
    "cvat-video": _foreign("cvat", "video_pieces"),
    "cvat-images": _foreign("cvat", "images_pieces"),
    "labelstudio": _foreign("labelstudio", "tasks_pieces"),
}


def leaf_jobs(jobs: Iterable[Mapping[str, Any]]) -> list[str]:
    """The last job of each chain: the jobs (state store rows with ``job_name`` and
    ``chain_from``) that no other job chains from, names compared case-blind.

    >>> leaf_jobs([
    ...     {"job_name": "b-vehicle", "chain_from": None},
    ...     {"job_name": "b-vehicle-audit", "chain_from": "B-Vehicle"},
    ...     {"job_name": "b-lane", "chain_from": None},
    ... ])
    ['b-vehicle-audit', 'b-lane']
    """
    jobs = list(jobs)
    parents = {job["chain_from"].lower() for job in jobs if job["chain_from"]}
    return [job["job_name"] for job in jobs if job["job_name"].lower() not in parents]


def job_annotations(lake: Lake, job_names: list[str]) -> pa.Table:
    """The shapes of ``job_names`` from the lake, ordered by data object, frame, job and
    object; a job with none is an error that names it."""
    query = sql.load("export_annotations")
    if lake.athena is not None:
        annotations = lake.query(query, [",".join(job_names)])
    else:
        # A session of its own, closed once read: the lake's shared session keeps a small
        # table's rows (every job's) in memory for as long as the process runs.
        with lake.connect({"annotations"}) as session:
            session.check_readable({"annotations"})
            annotations = session.execute(query, [",".join(job_names)])
    found = set(pc.unique(annotations["job_name"]).to_pylist())
    missing = [name for name in job_names if name not in found]
    if missing:
        raise LabellakeError(
            f"no annotations in the lake for job(s) {', '.join(missing)}; "
            "run `labellake etl run` or check the job names"
        )
    return annotations


class ObjectFrames:
    """Frame locations from sequence files and sizes from the image headers, cached.

    ``uri_map`` reads s3:// prefixes from local copies (like import's --map). A bucket
    that cannot be reached is tried once, then left alone for the rest of the export
    (`unreachable`); frames whose size stays unknown take ``default_size``, if given.
    """

    def __init__(
        self,
        sizes: dict[tuple[str, int], tuple[int, int]] | None = None,
        *,
        aws: AwsTarget | None = None,
        uri_map: dict[str, str] | None = None,
        default_size: tuple[int, int] | None = None,
    ) -> None:
        self._where = store_options(aws)  # where read_uri finds S3
        self.known_sizes = dict(sizes or {})
        self.uri_map = dict(uri_map or {})
        self.default_size = default_size
        self.unreachable: set[str] = set()
        self._prefixes: dict[str, str] = {}
        self._sizes: dict[str, tuple[int, int] | None] = {}

    def _read(self, uri: str) -> bytes | None:
        """The bytes at ``uri`` (through the map), or None; a bucket that fails to answer
        is not asked again."""
        from labellake.errors import NotFoundError
        from labellake.etl.jobs import location, resolve
        from labellake.lake.store import read_uri

        uri = resolve(uri, self.uri_map)
        bucket = location(uri)
        if bucket in self.unreachable:
            return None
        try:
            return read_uri(uri, **self._where)
        except NotFoundError:
            return None
        except (LabellakeError, OSError, ValueError):
            if bucket is not None:
                self.unreachable.add(bucket)
            return None

    def __call__(self, source_ref: str, frame_no: int, frame_name: str | None) -> Frame:
        if source_ref not in self._prefixes:
            prefix = source_ref.rsplit("/", 1)[0] + "/"
            if source_ref.endswith(".json"):
                data = self._read(source_ref)
                with contextlib.suppress(ValueError, AttributeError):
                    prefix = (json.loads(data) if data else {}).get("prefix") or prefix
            self._prefixes[source_ref] = prefix
        if source_ref.endswith("/") or source_ref.endswith(".json"):
            uri = self._prefixes[source_ref] + (frame_name or f"{frame_no + 1:06d}.jpg")
        else:
            uri = source_ref  # a single image
        size = self.known_sizes.get((source_ref, frame_no)) or self._size(uri) or self.default_size
        return Frame(source_ref, frame_no, uri, *(size or (None, None)))

    def _size(self, uri: str) -> tuple[int, int] | None:
        if uri not in self._sizes:
            import io

            from PIL import Image, UnidentifiedImageError

            data = self._read(uri)
            try:
                with Image.open(io.BytesIO(data or b"")) as image:
                    self._sizes[uri] = image.size
            except (OSError, UnidentifiedImageError, ValueError):
                self._sizes[uri] = None
        return self._sizes[uri]


@dataclass(frozen=True)
class Exported:
    """The files of one export, {relative path: text}, and the shapes they hold."""

    shapes: int
    files: dict[str, str]
    unlabeled: int = 0  # shapes without a label, exported under UNLABELED


def _check_sizes(annotations: pa.Table, frames: ObjectFrames) -> None:
    """LabellakeError when a frame's size is still unknown: every format needs it (YOLO and
    Label Studio to normalise, COCO, CVAT and MOT to describe the images)."""
    keys = (
        annotations.select(["source_ref", "frame_no", "frame"])
        .group_by(["source_ref", "frame_no", "frame"])
        .aggregate([])
    )
    unknown = [key for key in _values(keys) if not frames(*key).width]
    if not unknown:
        return
    source_ref, frame_no, _ = unknown[0]
    where = (
        f"; {', '.join(sorted(frames.unreachable))} could not be reached"
        if frames.unreachable
        else ""
    )
    raise LabellakeError(
        f"{len(unknown)} of {keys.num_rows} frame(s) have no known size (first: frame "
        f"{frame_no} of {source_ref}){where}. Nothing was written: pass "
        "--map S3PREFIX=DIR to read the frames from a local copy, or --image-size WxH"
    )


def export_jobs(
    lake: Lake,
    job_names: list[str],
    fmt: str,
    *,
    aws: AwsTarget | None = None,
    uri_map: dict[str, str] | None = None,
    image_size: tuple[int, int] | None = None,
    frame_rate: float | None = None,
) -> Exported:
    """The annotations of ``job_names`` in format ``fmt``; frames are found (and sized,
    where the lake does not know their size) through the sequence files and images,
    ``uri_map`` and ``image_size``. Refuses, writing nothing, when a size stays unknown."""
    if fmt not in EXPORTERS:
        raise LabellakeError(f"unknown format '{fmt}'; known formats: {', '.join(EXPORTERS)}")
    annotations = job_annotations(lake, job_names)
    frames = ObjectFrames(
        known_sizes(annotations), aws=aws, uri_map=uri_map, default_size=image_size
    )
    _check_sizes(annotations, frames)
    pool = pa.default_memory_pool()
    pool.release_unused()  # what the checks' Arrow work freed, kept by the pool otherwise
    shapes, unlabeled = annotations.num_rows, annotations["label"].null_count
    if fmt == "mot":
        pieces = mot_pieces(annotations, frames, frame_rate)
    else:
        pieces = _PIECES[fmt](annotations, frames)
    del annotations  # the rows go before the texts are made whole: a text is the rows' size
    pool.release_unused()
    return Exported(shapes, joined(pieces), unlabeled)


def known_sizes(annotations: pa.Table) -> dict[tuple[str, int], tuple[int, int]]:
    """Frame sizes the annotations already carry (from the manifest or the ground truth); a
    frame given two sizes takes its last row's."""
    columns = ["source_ref", "frame_no", "image_width", "image_height"]
    width, height = annotations["image_width"], annotations["image_height"]
    sized = pc.and_(
        pc.fill_null(pc.not_equal(width, 0), False), pc.fill_null(pc.not_equal(height, 0), False)
    )
    rows = annotations.select(columns).append_column(
        "row", pa.array(np.arange(annotations.num_rows))
    )
    sizes = rows.filter(sized).group_by(columns, use_threads=False).aggregate([("row", "max")])
    return {
        (size["source_ref"], size["frame_no"]): (size["image_width"], size["image_height"])
        for size in sizes.sort_by("row_max").to_pylist()
    }
