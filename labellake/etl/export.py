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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from labellake import sql
from labellake.aws_clients import AwsTarget, store_options
from labellake.errors import LabellakeError
from labellake.lake import Lake

FORMATS = ("coco", "yolo", "mot", "cvat-video", "cvat-images", "labelstudio")


@dataclass(frozen=True)
class Frame:
    source_ref: str
    frame_no: int
    image_uri: str
    width: int | None
    height: int | None


FrameLookup = Callable[[str, int, str | None], Frame]


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


def _categories(rows: list[dict]) -> dict[str, int]:  # type: ignore[type-arg]
    labels = sorted({label_of(r) for r in rows})
    return {label: index for index, label in enumerate(labels)}


def _is_sequence(source_ref: str) -> bool:
    """A source_ref that names a clip of frames (a sequence file or a folder of frames),
    not a single image."""
    return source_ref.endswith(".json") or source_ref.endswith("/")


def to_yolo(annotations: pa.Table, frame: FrameLookup) -> dict[str, str]:
    """labels/<clip>/<frame>.txt with `class cx cy w h` normalized, plus classes.txt.

    YOLO holds boxes only; a frame of unknown size cannot be normalized and is an error.
    """
    rows = [r for r in annotations.to_pylist() if r["shape"] == "box"]
    categories = _categories(rows)
    files: dict[str, list[str]] = {}
    for row in rows:
        info = frame(row["source_ref"], row["frame_no"], row["frame"])
        if not info.width or not info.height:
            raise LabellakeError(
                f"frame {row['frame_no']} of {row['source_ref']} has no known size; YOLO "
                "needs it: pass --map or --image-size"
            )
        stem = safe_name((row["frame"] or f"{row['frame_no']:06d}").rsplit(".", 1)[0])
        if _is_sequence(row["source_ref"]):
            path = f"labels/{_clip_name(row['source_ref'])}/{stem}.txt"
        else:
            path = f"labels/{stem}.txt"  # a single image: its labels file beside the others
        cx = (row["box_left"] + row["width"] / 2) / info.width
        cy = (row["top"] + row["height"] / 2) / info.height
        files.setdefault(path, []).append(
            f"{categories[label_of(row)]} {cx:.6f} {cy:.6f} "
            f"{row['width'] / info.width:.6f} {row['height'] / info.height:.6f}"
        )
    out = {path: "\n".join(lines) + "\n" for path, lines in sorted(files.items())}
    out["classes.txt"] = "".join(f"{name}\n" for name in categories)
    return out


def to_mot(
    annotations: pa.Table, frame: FrameLookup, frame_rate: float | None = None
) -> dict[str, str]:
    """<clip>/gt/gt.txt (frame, id, left, top, width, height, conf, class, visibility) and
    <clip>/seqinfo.ini per clip; boxes only. The frame rate is written when known."""
    rows = [r for r in annotations.to_pylist() if r["shape"] == "box"]
    categories = _categories(rows)
    out: dict[str, str] = {}
    by_clip: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for row in rows:
        by_clip.setdefault(row["source_ref"], []).append(row)
    for source_ref, clip_rows in sorted(by_clip.items()):
        name = _clip_name(source_ref)
        ids: dict[str, int] = {}
        lines = []
        for row in sorted(clip_rows, key=lambda r: (r["frame_no"], str(r["object_id"]))):
            track = ids.setdefault(str(row["object_id"]), len(ids) + 1)
            lines.append(
                f"{row['frame_no'] + 1},{track},{row['box_left']:.2f},{row['top']:.2f},"
                f"{row['width']:.2f},{row['height']:.2f},1,"
                f"{categories[label_of(row)] + 1},1"
            )
        first = frame(source_ref, clip_rows[0]["frame_no"], clip_rows[0]["frame"])
        if not first.width or not first.height:
            raise LabellakeError(
                f"the frames of {source_ref} have no known size; MOT's seqinfo.ini needs it: "
                "pass --map or --image-size"
            )
        length = max(r["frame_no"] for r in clip_rows) + 1
        names = [r["frame"] for r in clip_rows if r["frame"]]
        extension = "." + names[0].rsplit(".", 1)[-1] if names and "." in names[0] else ".jpg"
        rate = f"frameRate={frame_rate:g}\n" if frame_rate else ""  # unknown: left out
        out[f"{name}/gt/gt.txt"] = "\n".join(lines) + "\n"
        out[f"{name}/seqinfo.ini"] = (
            f"[Sequence]\nname={name}\nimDir=img1\n{rate}seqLength={length}\n"
            f"imWidth={first.width}\nimHeight={first.height}\nimExt={extension}\n"
        )
    return out


def _foreign(module: str, name: str) -> Callable[[pa.Table, FrameLookup], dict[str, str]]:
    """The writer ``name`` of another tool's format, in labellake.etl.formats.<module>."""

    def write(annotations: pa.Table, frame: FrameLookup) -> dict[str, str]:
        from importlib import import_module

        writer = getattr(import_module(f"labellake.etl.formats.{module}"), name)
        return writer(annotations, frame)  # type: ignore[no-any-return]

    return write


EXPORTERS: dict[str, Callable[[pa.Table, FrameLookup], dict[str, str]]] = {
    "coco": _foreign("coco", "to_coco_instances"),
    "yolo": to_yolo,
    "mot": to_mot,
    "cvat-video": _foreign("cvat", "to_cvat_video"),
    "cvat-images": _foreign("cvat", "to_cvat_images"),
    "labelstudio": _foreign("labelstudio", "to_labelstudio"),
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
    annotations = lake.query(sql.load("export_annotations"), [",".join(job_names)])
    found = set(annotations.column("job_name").to_pylist())
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
        from labellake.lake.store import read_uri

        for prefix, local in self.uri_map.items():
            if uri.startswith(prefix):
                uri = local.rstrip("/") + "/" + uri[len(prefix) :].lstrip("/")
                break
        bucket = "s3://" + uri[5:].split("/", 1)[0] if uri.startswith("s3://") else None
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
    unknown = [
        key
        for key in keys.to_pylist()
        if not frames(key["source_ref"], key["frame_no"], key["frame"]).width
    ]
    if not unknown:
        return
    first = unknown[0]
    where = (
        f"; {', '.join(sorted(frames.unreachable))} could not be reached"
        if frames.unreachable
        else ""
    )
    raise LabellakeError(
        f"{len(unknown)} of {keys.num_rows} frame(s) have no known size (first: frame "
        f"{first['frame_no']} of {first['source_ref']}){where}. Nothing was written: pass "
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
    unlabeled = annotations["label"].null_count
    if fmt == "mot":
        files = to_mot(annotations, frames, frame_rate)
    else:
        files = EXPORTERS[fmt](annotations, frames)
    return Exported(annotations.num_rows, files, unlabeled)


def known_sizes(annotations: pa.Table) -> dict[tuple[str, int], tuple[int, int]]:
    """Frame sizes the annotations already carry (from the manifest or the ground truth)."""
    sizes = {}
    for row in annotations.select(
        ["source_ref", "frame_no", "image_width", "image_height"]
    ).to_pylist():
        if row["image_width"] and row["image_height"]:
            sizes[(row["source_ref"], row["frame_no"])] = (row["image_width"], row["image_height"])
    return sizes
