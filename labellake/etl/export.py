"""The lake's annotations -> training formats: COCO, YOLO and MOTChallenge.

Pure functions from `annotations` rows (as an Arrow table) and the frames'
locations and sizes to the files a training pipeline takes, returned as
{relative path: text}; the caller writes them. What is exported is chosen by job:
`leaf_jobs` picks a batch's last job of each chain, `job_annotations` reads their
shapes from the lake, `export_jobs` turns them into one format's files.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from labellake import sql
from labellake.aws_clients import AwsTarget, store_options
from labellake.errors import LabellakeError
from labellake.lake import Lake

FORMATS = ("coco", "yolo", "mot")


@dataclass(frozen=True)
class Frame:
    source_ref: str
    frame_no: int
    image_uri: str
    width: int | None
    height: int | None


FrameLookup = Callable[[str, int, str | None], Frame]


def _clip_name(source_ref: str) -> str:
    name = source_ref.rstrip("/").rsplit("/", 1)[-1]
    for suffix in ("_seq.json", ".json", ".jpg", ".jpeg", ".png"):
        name = name.removesuffix(suffix)
    return name


def _categories(rows: list[dict]) -> dict[str, int]:  # type: ignore[type-arg]
    labels = sorted({str(r["label"]) for r in rows if r["label"] is not None})
    return {label: index for index, label in enumerate(labels)}


def to_coco(annotations: pa.Table, frame: FrameLookup) -> dict[str, str]:
    """One COCO file: images per frame, boxes as bbox, polygons as segmentation, polylines and
    keypoints as keypoints (with their shape named in `attributes`)."""
    rows = annotations.to_pylist()
    categories = _categories(rows)
    images: dict[tuple[str, int], dict] = {}  # type: ignore[type-arg]
    tracks: dict[tuple[str, str], int] = {}
    coco_annotations = []
    for row in rows:
        key = (row["source_ref"], row["frame_no"])
        if key not in images:
            info = frame(row["source_ref"], row["frame_no"], row["frame"])
            images[key] = {
                "id": len(images) + 1,
                "file_name": info.image_uri,
                "width": info.width,
                "height": info.height,
                "sequence": _clip_name(row["source_ref"]),
                "frame_no": row["frame_no"],
            }
        track = tracks.setdefault((row["source_ref"], str(row["object_id"])), len(tracks) + 1)
        entry = {
            "id": len(coco_annotations) + 1,
            "image_id": images[key]["id"],
            "category_id": categories.get(str(row["label"]), 0) + 1,
            "iscrowd": 0,
            "track_id": track,
            "attributes": {**dict(row["attributes"] or []), "shape": row["shape"]},
        }
        if row["shape"] == "box":
            entry["bbox"] = [row["left"], row["top"], row["width"], row["height"]]
            entry["area"] = row["width"] * row["height"]
        else:
            points = [(p["x"], p["y"]) for p in row["points"] or []]
            if not points:
                continue
            xs, ys = [x for x, _ in points], [y for _, y in points]
            entry["bbox"] = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
            entry["area"] = entry["bbox"][2] * entry["bbox"][3]
            if row["shape"] == "polygon":
                entry["segmentation"] = [[c for point in points for c in point]]
            else:
                entry["keypoints"] = [c for x, y in points for c in (x, y, 2)]
                entry["num_keypoints"] = len(points)
        coco_annotations.append(entry)
    document = {
        "info": {"description": "exported by labellake"},
        "images": list(images.values()),
        "annotations": coco_annotations,
        "categories": [{"id": i + 1, "name": name} for name, i in categories.items()],
    }
    return {"annotations.json": json.dumps(document)}


def to_yolo(annotations: pa.Table, frame: FrameLookup) -> dict[str, str]:
    """labels/<clip>/<frame>.txt with `class cx cy w h` normalized, plus classes.txt.

    YOLO holds boxes only; frames of unknown size cannot be normalized and are skipped.
    """
    rows = [r for r in annotations.to_pylist() if r["shape"] == "box"]
    categories = _categories(rows)
    files: dict[str, list[str]] = {}
    for row in rows:
        info = frame(row["source_ref"], row["frame_no"], row["frame"])
        if not info.width or not info.height:
            continue
        stem = (row["frame"] or f"{row['frame_no']:06d}").rsplit(".", 1)[0]
        path = f"labels/{_clip_name(row['source_ref'])}/{stem}.txt"
        cx = (row["left"] + row["width"] / 2) / info.width
        cy = (row["top"] + row["height"] / 2) / info.height
        files.setdefault(path, []).append(
            f"{categories[str(row['label'])]} {cx:.6f} {cy:.6f} "
            f"{row['width'] / info.width:.6f} {row['height'] / info.height:.6f}"
        )
    out = {path: "\n".join(lines) + "\n" for path, lines in sorted(files.items())}
    out["classes.txt"] = "".join(f"{name}\n" for name in categories)
    return out


def to_mot(annotations: pa.Table, frame: FrameLookup) -> dict[str, str]:
    """<clip>/gt/gt.txt (frame, id, left, top, width, height, conf, class, visibility) and
    <clip>/seqinfo.ini per clip; boxes only."""
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
                f"{row['frame_no'] + 1},{track},{row['left']:.2f},{row['top']:.2f},"
                f"{row['width']:.2f},{row['height']:.2f},1,"
                f"{categories[str(row['label'])] + 1},1"
            )
        first = frame(source_ref, clip_rows[0]["frame_no"], clip_rows[0]["frame"])
        length = max(r["frame_no"] for r in clip_rows) + 1
        out[f"{name}/gt/gt.txt"] = "\n".join(lines) + "\n"
        out[f"{name}/seqinfo.ini"] = (
            f"[Sequence]\nname={name}\nimDir=img1\nframeRate=10\nseqLength={length}\n"
            f"imWidth={first.width or 0}\nimHeight={first.height or 0}\nimExt=.jpg\n"
        )
    return out


EXPORTERS = {"coco": to_coco, "yolo": to_yolo, "mot": to_mot}


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
    """Frame locations from sequence files and sizes from the image headers, cached."""

    def __init__(
        self,
        sizes: dict[tuple[str, int], tuple[int, int]] | None = None,
        *,
        aws: AwsTarget | None = None,
    ) -> None:
        self._where = store_options(aws)  # where read_uri finds S3
        self.known_sizes = dict(sizes or {})
        self._prefixes: dict[str, str] = {}
        self._sizes: dict[str, tuple[int, int] | None] = {}

    def __call__(self, source_ref: str, frame_no: int, frame_name: str | None) -> Frame:
        from labellake.lake.store import read_uri

        if source_ref not in self._prefixes:
            prefix = source_ref.rsplit("/", 1)[0] + "/"
            if source_ref.endswith(".json"):
                with contextlib.suppress(OSError, ValueError, LookupError):
                    prefix = json.loads(read_uri(source_ref, **self._where)).get("prefix") or prefix
            self._prefixes[source_ref] = prefix
        if source_ref.endswith(".json"):
            uri = self._prefixes[source_ref] + (frame_name or f"{frame_no + 1:06d}.jpg")
        else:
            uri = source_ref  # a single image
        size = self.known_sizes.get((source_ref, frame_no)) or self._size(uri)
        return Frame(source_ref, frame_no, uri, *(size or (None, None)))

    def _size(self, uri: str) -> tuple[int, int] | None:
        if uri not in self._sizes:
            import io

            from PIL import Image, UnidentifiedImageError

            from labellake.lake.store import read_uri

            try:
                with Image.open(io.BytesIO(read_uri(uri, **self._where))) as image:
                    self._sizes[uri] = image.size
            except (OSError, UnidentifiedImageError, LookupError, ValueError):
                self._sizes[uri] = None
        return self._sizes[uri]


@dataclass(frozen=True)
class Exported:
    """The files of one export, {relative path: text}, and the shapes they hold."""

    shapes: int
    files: dict[str, str]


def export_jobs(
    lake: Lake, job_names: list[str], fmt: str, *, aws: AwsTarget | None = None
) -> Exported:
    """The annotations of ``job_names`` in training format ``fmt``; frames are found (and
    sized, where the lake does not know their size) through the sequence files and images."""
    annotations = job_annotations(lake, job_names)
    frames = ObjectFrames(known_sizes(annotations), aws=aws)
    return Exported(annotations.num_rows, EXPORTERS[fmt](annotations, frames))


def known_sizes(annotations: pa.Table) -> dict[tuple[str, int], tuple[int, int]]:
    """Frame sizes the annotations already carry (from the manifest or the ground truth)."""
    sizes = {}
    for row in annotations.select(
        ["source_ref", "frame_no", "image_width", "image_height"]
    ).to_pylist():
        if row["image_width"] and row["image_height"]:
            sizes[(row["source_ref"], row["frame_no"])] = (row["image_width"], row["image_height"])
    return sizes
