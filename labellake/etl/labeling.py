"""Ground Truth labeling outputs -> the `labels` and `annotations` tables.

Pure functions: they take parsed JSON (or text) and return Arrow tables plus
the problems they met. They dispatch on the shape of each value (a string is a
ref to a SeqLabel file, an object with "annotations" is an inline image
result), never on the metadata `type`, which real files get wrong. Unknown
fields are ignored, numbers written as strings are accepted, and so are the
spelling variants real files use (`class_id` for `class-id`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from labellake.etl.reconcile import ImportLog, Problem
from labellake.lake import get_table

# SeqLabel frame keys and the shape each holds.
SHAPE_KEYS = (
    ("annotations", "box"),
    ("boxes", "box"),
    ("polylines", "polyline"),
    ("polygons", "polygon"),
    ("keypoints", "keypoint"),
)


@dataclass
class ManifestLine:
    number: int  # from 1
    entry: dict[str, Any]

    @property
    def source_ref(self) -> str | None:
        value = self.entry.get("source-ref") or self.entry.get("source")
        return None if value is None else str(value)


def json_lines(text: str, source: str) -> tuple[list[tuple[int, Any]], list[Problem]]:
    """(line number, value) of every non-empty JSON line; a line that does not parse is a
    Problem (a truncated file, most often)."""
    values, problems = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            values.append((number, json.loads(raw)))
        except json.JSONDecodeError as exc:
            problems.append(Problem(source, number, f"not JSON ({exc.msg}); truncated line?"))
    return values, problems


def read_manifest(text: str, source: str) -> tuple[list[ManifestLine], list[Problem]]:
    """Output manifest lines; a line that is not a JSON object becomes a Problem."""
    values, problems = json_lines(text, source)
    lines = []
    for number, entry in values:
        if isinstance(entry, dict):
            lines.append(ManifestLine(number, entry))
        else:
            problems.append(Problem(source, number, "not a JSON object"))
    return lines, problems


def number(value: Any) -> float | None:
    """A number from a number or a numeric string; None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def integer(value: Any) -> int | None:
    parsed = number(value)
    return None if parsed is None else int(parsed)


def creation_time(value: Any) -> dt.datetime | None:
    """creation-date as Ground Truth writes it (no zone means UTC)."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def label_attributes(entry: dict[str, Any]) -> list[str]:
    """Keys of a manifest line that carry a label: those with a `<key>-metadata` beside them."""
    return [key for key in entry if f"{key}-metadata" in entry and not key.endswith("-metadata")]


def metadata_job(metadata: dict[str, Any]) -> str | None:
    """labeling-job/drive-0042-vehicle -> drive-0042-vehicle."""
    name = metadata.get("job-name") or metadata.get("job_name")
    return str(name).rsplit("/", 1)[-1] if name else None


def same_job(a: str | None, b: str | None) -> bool:
    """Job names compared as Ground Truth treats them: case-blind (it writes the metadata
    job-name in lower case and keeps the label attribute's case)."""
    return a is not None and b is not None and a.casefold() == b.casefold()


def own_attribute(entry: dict[str, Any], job_name: str) -> str | None:
    """The attribute a job wrote on a line: named after it, or whose metadata names it."""
    attributes = label_attributes(entry)
    for key in attributes:
        if same_job(key, job_name) or same_job(key, f"{job_name}-ref"):
            return key
    for key in attributes:
        metadata = entry.get(f"{key}-metadata")
        if isinstance(metadata, dict) and same_job(metadata_job(metadata), job_name):
            return key
    return None


@dataclass(frozen=True)
class JobAttribute:
    """The label attribute a job wrote in its output manifest, and how it was found."""

    key: str | None
    named_by_manifest: str | None = None  # set when the job's own name matched nothing


def job_attribute(lines: Iterable[ManifestLine], job_name: str) -> JobAttribute:
    """The job's label attribute in its manifest: the one named after the job or whose
    metadata names it (case-blind); else, when the folder or --job-name differs from the
    job-name Ground Truth wrote, the newest attribute on the lines (the job that wrote the
    manifest labeled last; a chained job's lines also carry its parents' labels)."""
    newest: tuple[dt.datetime, int, str, str | None] | None = None
    order = 0
    for line in lines:
        key = own_attribute(line.entry, job_name)
        if key is not None:
            return JobAttribute(key)
        for candidate in label_attributes(line.entry):
            metadata = line.entry.get(f"{candidate}-metadata")
            metadata = metadata if isinstance(metadata, dict) else {}
            order += 1
            created = creation_time(metadata.get("creation-date")) or dt.datetime.min.replace(
                tzinfo=dt.UTC
            )
            if newest is None or (created, order) > newest[:2]:
                newest = (created, order, candidate, metadata_job(metadata))
    if newest is None:
        return JobAttribute(None)
    return JobAttribute(newest[2], newest[3] or newest[2].removesuffix("-ref"))


def _yes(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("yes", "true", "1")


def labels_table(
    lines: Iterable[ManifestLine], job_name: str, batch_id: str | None = None
) -> pa.Table:
    """One row per (data object, label attribute) of an augmented output manifest."""
    rows = []
    for line in lines:
        for key in label_attributes(line.entry):
            metadata = line.entry.get(f"{key}-metadata")
            metadata = metadata if isinstance(metadata, dict) else {}
            value = line.entry.get(key)
            class_map = metadata.get("class-map") or metadata.get("class_map") or {}
            rows.append(
                {
                    "batch_id": batch_id,
                    "job_name": job_name,
                    "source_ref": line.source_ref,
                    "label_attribute": key,
                    "ref": value if isinstance(value, str) else None,
                    "metadata_job_name": metadata_job(metadata),
                    "type": metadata.get("type"),
                    "class_map": [(str(k), str(v)) for k, v in class_map.items()]
                    if isinstance(class_map, dict)
                    else None,
                    "human_annotated": _yes(metadata.get("human-annotated")),
                    "creation_date": creation_time(metadata.get("creation-date")),
                    "adjustment_status": metadata.get("adjustment-status"),
                    "line_no": line.number,
                }
            )
    return pa.Table.from_pylist(rows, schema=get_table("labels").schema)


def _empty_columns() -> dict[str, list[Any]]:
    return {name: [] for name in get_table("annotations").schema.names}


@dataclass
class AnnotationRows:
    """Column lists for the `annotations` table, filled shape by shape. With a ``sink``,
    every ``chunk_rows`` rows are handed to it as a table and forgotten (`flush` hands
    over the rest), so memory does not grow with the input."""

    columns: dict[str, list[Any]] = field(default_factory=_empty_columns)
    sink: Callable[[pa.Table], Any] | None = None
    chunk_rows: int = 50_000
    flushed: int = 0  # rows handed to the sink so far

    def add(self, **values: Any) -> None:
        for name, column in self.columns.items():
            column.append(values.get(name))
        if self.sink is not None and len(self) >= self.chunk_rows:
            self.flush()

    def __len__(self) -> int:
        return len(self.columns["job_name"])

    @property
    def total(self) -> int:
        """Rows added so far, flushed or not."""
        return self.flushed + len(self)

    def table(self) -> pa.Table:
        return pa.Table.from_pydict(self.columns, schema=get_table("annotations").schema)

    def flush(self) -> None:
        """Hand the rows held to the sink."""
        if self.sink is not None and len(self):
            self.sink(self.table())
            self.flushed += len(self)
            self.columns = _empty_columns()


def _attributes(value: Any) -> list[tuple[str, str]] | None:
    if not isinstance(value, dict) or not value:
        return None
    return [
        (str(k), "" if v is None else (v if isinstance(v, str) else json.dumps(v)))
        for k, v in value.items()
    ]


def _points(value: Any) -> list[dict[str, float]] | None:
    if not isinstance(value, list):
        return None
    points = []
    for vertex in value:
        if isinstance(vertex, dict):
            x, y = number(vertex.get("x")), number(vertex.get("y"))
        elif isinstance(vertex, list | tuple) and len(vertex) >= 2:
            x, y = number(vertex[0]), number(vertex[1])
        else:
            continue
        if x is not None and y is not None:
            points.append({"x": x, "y": y})
    return points


def add_seqlabel(
    rows: AnnotationRows,
    document: Any,
    *,
    job_name: str,
    batch_id: str | None,
    source_ref: str | None,
    class_map: dict[str, str],
    image_size: tuple[int, int] | None = None,
    log: ImportLog | None = None,
    file: str = "SeqLabel",
) -> None:
    """Every shape of a SeqLabel.json document; ValueError if it holds no frame list.
    ``log`` counts the shapes seen in ``file`` and explains the ones skipped."""
    log = log if log is not None else ImportLog()
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    frames = document.get("tracking-annotations")
    if frames is None:
        frames = document.get("detection-annotations")
    if not isinstance(frames, list):
        raise ValueError("no tracking-annotations or detection-annotations list")
    width, height = image_size or (None, None)
    for position, frame in enumerate(frames):
        if not isinstance(frame, dict):
            log.note(file, None, f"frame {position} is not a JSON object; it was skipped")
            continue
        frame_no = integer(frame.get("frame-no", frame.get("frame_no")))
        frame_no = position if frame_no is None else frame_no
        frame_attributes = _attributes(frame.get("frame-attributes"))
        for key, shape in SHAPE_KEYS:
            items = frame.get(key) or []
            if not isinstance(items, list):
                log.note(file, None, f"frame {frame_no}: '{key}' is not a list; it was skipped")
                continue
            log.saw(file, len(items))
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    log.drop(
                        file,
                        None,
                        f"frame {frame_no}: {key}[{index}] is not a JSON object; it was skipped",
                    )
                    continue
                points = _points(item.get("vertices"))
                kind = shape
                if shape == "box" and "width" not in item and points:
                    kind = "polyline"  # vertices filed under annotations
                class_id = integer(item.get("class-id", item.get("class_id")))
                attributes = item.get("label-category-attributes")
                rows.add(
                    batch_id=batch_id,
                    job_name=job_name,
                    source_ref=source_ref,
                    frame_no=frame_no,
                    frame=frame.get("frame"),
                    object_id=_text(item.get("object-id", item.get("object_id"))),
                    object_name=_text(item.get("object-name", item.get("object_name"))),
                    class_id=class_id,
                    label=item.get("label") or class_map.get(str(class_id)),
                    shape=kind,
                    box_left=number(item.get("left")),
                    top=number(item.get("top")),
                    width=number(item.get("width")),
                    height=number(item.get("height")),
                    points=points if kind != "box" else None,
                    attributes=_attributes(attributes),
                    audit=_text(attributes.get("audit")) if isinstance(attributes, dict) else None,
                    frame_attributes=frame_attributes,
                    image_width=width,
                    image_height=height,
                    confidence=number(item.get("confidence")),
                )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class FramePlace:
    """Where a single-frame line sits in a video: its sequence and frame number."""

    sequence: str
    frame_no: int
    frame: str


_NUMBERED = re.compile(r"(?P<stem>.*?)(?P<number>\d+)(?P<ext>\.[A-Za-z0-9]+)?")


def frame_places(source_refs: Iterable[str | None]) -> dict[str, FramePlace]:
    """Frames of one video, one manifest line each, grouped into sequences by their
    source-refs: same folder and name stem, the frame number in the name. Frame numbers
    count from the sequence's first frame in the manifest (0). A source-ref with no number,
    or alone in its sequence, is not placed.

    >>> places = frame_places(["s3://b/clip/frame_0007.jpg", "s3://b/clip/frame_0008.jpg"])
    >>> places["s3://b/clip/frame_0008.jpg"]
    FramePlace(sequence='s3://b/clip/', frame_no=1, frame='frame_0008.jpg')
    """
    groups: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
    for ref in source_refs:
        if not ref:
            continue
        folder, _, name = ref.rpartition("/")
        match = _NUMBERED.fullmatch(name)
        if match is None:
            continue
        groups.setdefault((folder, match["stem"]), []).append((int(match["number"]), ref, name))
    stems_per_folder: dict[str, int] = {}
    for folder, _ in groups:
        stems_per_folder[folder] = stems_per_folder.get(folder, 0) + 1
    places = {}
    for (folder, stem), frames in groups.items():
        if len(frames) < 2:
            continue
        sequence = f"{folder}/" if stems_per_folder[folder] == 1 else f"{folder}/{stem}"
        first = min(number for number, _, _ in frames)
        for number, ref, name in frames:
            places[ref] = FramePlace(sequence, number - first, name)
    return places


def add_inline(
    rows: AnnotationRows,
    value: dict[str, Any],
    metadata: dict[str, Any],
    *,
    job_name: str,
    batch_id: str | None,
    source_ref: str | None,
    log: ImportLog,
    file: str,
    line: int | None = None,
    place: FramePlace | None = None,
) -> None:
    """A single-image bounding-box result: annotations and image_size inline in the
    manifest. Boxes keep their object-id, object-name and attributes where the line has
    them (frames of a video converted to one line each); ``place`` puts the frame in its
    video's sequence."""
    class_map = metadata.get("class-map") or metadata.get("class_map") or {}
    size = value.get("image_size") or [{}]
    size = size[0] if isinstance(size, list) and size else size
    width = integer(size.get("width")) if isinstance(size, dict) else None
    height = integer(size.get("height")) if isinstance(size, dict) else None
    confidences = [
        o.get("confidence") for o in metadata.get("objects") or [] if isinstance(o, dict)
    ]
    frame = source_ref.rsplit("/", 1)[-1] if source_ref else None
    items = value.get("annotations")
    if not isinstance(items, list):
        log.drop(file, line, "'annotations' is not a list; the line's boxes are lost", 0)
        return
    log.saw(file, len(items))
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            log.drop(file, line, f"annotation {index} is not a JSON object; it was skipped")
            continue
        class_id = integer(item.get("class_id", item.get("class-id")))
        attributes = item.get("label-category-attributes")
        rows.add(
            batch_id=batch_id,
            job_name=job_name,
            source_ref=place.sequence if place else source_ref,
            frame_no=place.frame_no if place else 0,
            frame=place.frame if place else frame,
            object_id=_text(item.get("object-id", item.get("object_id", index))),
            object_name=_text(item.get("object-name", item.get("object_name"))),
            class_id=class_id,
            label=item.get("label") or class_map.get(str(class_id)),
            shape="box",
            box_left=number(item.get("left")),
            top=number(item.get("top")),
            width=number(item.get("width")),
            height=number(item.get("height")),
            attributes=_attributes(attributes),
            audit=_text(attributes.get("audit")) if isinstance(attributes, dict) else None,
            image_width=width,
            image_height=height,
            confidence=number(confidences[index]) if index < len(confidences) else None,
        )
        log.wrote(file, 1)


@dataclass
class SeqLabelRef:
    """A data object whose labels live in a SeqLabel file, still to be read."""

    line: ManifestLine
    uri: str
    class_map: dict[str, str]


def _is_video(metadata: dict[str, Any], value: dict[str, Any]) -> bool:
    """A line of a video job converted to one line per frame: its type says video, or its
    boxes carry track ids."""
    if "video" in str(metadata.get("type") or ""):
        return True
    items = value.get("annotations")
    return isinstance(items, list) and any(
        isinstance(item, dict) and ("object-id" in item or "object_id" in item) for item in items
    )


def job_annotations(
    lines: Iterable[ManifestLine],
    job_name: str,
    batch_id: str | None,
    rows: AnnotationRows,
    source: str = "output manifest",
    log: ImportLog | None = None,
) -> tuple[list[SeqLabelRef], list[Problem]]:
    """Inline results go straight into ``rows``; refs to SeqLabel files are handed back.

    The job's label attribute is found once for the manifest (`job_attribute`). A line
    without it, or that Ground Truth marked failed, or whose value is unusable, is a
    problem of ``source`` (the manifest) at that line; ``log`` counts the shapes.
    """
    log = log if log is not None else ImportLog()
    before = len(log.problems)
    lines = list(lines)
    log.tally(source)
    attribute = job_attribute(lines, job_name)
    key = attribute.key or f"{job_name}-ref"
    if attribute.key is None and lines:
        log.note(source, None, f"no label attribute on any line: job {job_name} labeled nothing")
    elif attribute.named_by_manifest is not None:
        log.note(
            source,
            None,
            f"the manifest names no label attribute after job '{job_name}'; loaded "
            f"'{attribute.key}', its newest, written by job '{attribute.named_by_manifest}'",
        )
    video_lines = [
        line.source_ref
        for line in lines
        if isinstance(line.entry.get(key), dict)
        and _is_video(_dict(line.entry.get(f"{key}-metadata")), line.entry[key])
    ]
    places = frame_places(video_lines)
    refs: list[SeqLabelRef] = []
    for line in lines:
        value = line.entry.get(key)
        metadata = _dict(line.entry.get(f"{key}-metadata"))
        class_map = {
            str(k): str(v)
            for k, v in _dict(metadata.get("class-map", metadata.get("class_map"))).items()
        }
        if isinstance(value, str):
            refs.append(SeqLabelRef(line, value, class_map))
        elif isinstance(value, dict) and "annotations" in value:
            add_inline(
                rows,
                value,
                metadata,
                job_name=job_name,
                batch_id=batch_id,
                source_ref=line.source_ref,
                log=log,
                file=source,
                line=line.number,
                place=places.get(line.source_ref or ""),
            )
        elif isinstance(value, dict) and (
            "tracking-annotations" in value or "detection-annotations" in value
        ):
            before_rows = rows.total
            try:
                add_seqlabel(
                    rows,
                    value,
                    job_name=job_name,
                    batch_id=batch_id,
                    source_ref=line.source_ref,
                    class_map=class_map,
                    log=log,
                    file=source,
                )
            except ValueError as exc:
                log.note(source, line.number, f"not a SeqLabel document: {exc}")
            log.wrote(source, rows.total - before_rows)
        elif metadata.get("failure-reason"):
            log.note(source, line.number, f"not labeled: {metadata['failure-reason']}")
        elif value is None:
            failed = next(
                (
                    _dict(line.entry.get(f"{name}-metadata")).get("failure-reason")
                    for name in (f"{job_name}-ref", job_name)
                    if _dict(line.entry.get(f"{name}-metadata")).get("failure-reason")
                ),
                None,
            )
            reason = (
                f"not labeled: {failed}"
                if failed
                else f"no '{key}' label on this line: the job did not label this data object"
            )
            log.note(source, line.number, reason)
        else:
            log.note(
                source,
                line.number,
                f"'{key}' holds neither a SeqLabel file reference nor annotations",
            )
    return refs, log.problems[before:]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# -- the fast path: many SeqLabel files at once, parsed and flattened by Arrow -------------

_POINT = pa.struct([("x", pa.float64()), ("y", pa.float64())])
_BOX_ITEM = pa.struct(
    [
        ("left", pa.float64()),
        ("top", pa.float64()),
        ("width", pa.float64()),
        ("height", pa.float64()),
        ("class-id", pa.string()),
        ("object-id", pa.string()),
        ("object-name", pa.string()),
    ]
)
_LINE_ITEM = pa.struct(
    [
        ("class-id", pa.string()),
        ("object-id", pa.string()),
        ("object-name", pa.string()),
        ("vertices", pa.list_(_POINT)),
    ]
)
_FRAME = pa.struct(
    [
        ("frame-no", pa.string()),
        ("frame", pa.string()),
        ("annotations", pa.list_(_BOX_ITEM)),
        ("boxes", pa.list_(_BOX_ITEM)),
        ("polylines", pa.list_(_LINE_ITEM)),
        ("polygons", pa.list_(_LINE_ITEM)),
        ("keypoints", pa.list_(_LINE_ITEM)),
    ]
)
_SEQLABEL = pa.schema(
    [("tracking-annotations", pa.list_(_FRAME)), ("detection-annotations", pa.list_(_FRAME))]
)


@dataclass(frozen=True)
class SeqLabelFile:
    """A SeqLabel file's bytes and what the manifest says about it."""

    data: bytes
    source_ref: str | None
    class_map: dict[str, str]
    image_size: tuple[int, int] | None = None
    uri: str = "SeqLabel"  # where it was read from: the file its shapes are counted under


def struct_to_map(column: pa.Array) -> pa.Array:
    """A struct array of string-ish fields -> map<string, string>, skipping null fields."""
    import numpy as np

    n = len(column)
    names = [column.type.field(j).name for j in range(column.type.num_fields)]
    if not names:
        return pa.array([None] * n, pa.map_(pa.string(), pa.string()))
    fields = [column.field(j).cast(pa.string()) for j in range(len(names))]
    valid = np.column_stack([np.asarray(f.is_valid(), dtype=bool) for f in fields])
    if column.null_count:
        valid &= np.asarray(column.is_valid(), dtype=bool)[:, None]
    positions = (np.arange(len(names))[None, :] * n + np.arange(n)[:, None])[valid]
    codes = np.broadcast_to(np.arange(len(names), dtype=np.int32)[None, :], valid.shape)[valid]
    values = pa.concat_arrays(fields).take(pa.array(positions, pa.int64()))
    keys = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(names))
    offsets = np.concatenate([[0], np.cumsum(valid.sum(axis=1))]).astype(np.int32)
    maps = pa.MapArray.from_arrays(pa.array(offsets), keys.cast(pa.string()), values)
    empty = valid.sum(axis=1) == 0  # a shape without attributes reads as null, not {}
    return pa.compute.if_else(pa.array(empty), pa.nulls(n, maps.type), maps)


def _parse_seqlabels(files: list[SeqLabelFile]) -> pa.Table:
    import pyarrow.json as pajson

    # JSON allows raw newlines only between tokens, so each file becomes one line.
    block = b"\n".join(f.data.replace(b"\n", b" ").replace(b"\r", b" ") for f in files)
    largest = max(len(f.data) for f in files)
    return pajson.read_json(
        pa.BufferReader(block),
        # Blocks of a few MB keep both cores busy; a block must hold a whole file.
        read_options=pajson.ReadOptions(block_size=max(4 << 20, largest + 16)),
        parse_options=pajson.ParseOptions(
            explicit_schema=_SEQLABEL, unexpected_field_behavior="infer"
        ),
    )


def flatten_seqlabels(
    files: list[SeqLabelFile],
    job_name: str,
    batch_id: str | None = None,
    log: ImportLog | None = None,
) -> pa.Table:
    """`annotations` rows of many SeqLabel files at once; ``log`` counts each file's shapes
    (from its lists' lengths) and rows (from the rows built), under the file's uri.

    Raises pa.ArrowException or ValueError when a file does not have the usual types
    (numbers as strings, say), having logged nothing; the caller then takes those files
    one by one with `add_seqlabel`, which accepts every variant.
    """
    import numpy as np
    import pyarrow.compute as pc

    parsed = _parse_seqlabels(files)
    if parsed.num_rows != len(files):
        raise ValueError("a file is not a single JSON object")
    tracking = parsed.column("tracking-annotations").combine_chunks()
    detection = parsed.column("detection-annotations").combine_chunks()
    if pc.any(pc.and_(tracking.is_null(), detection.is_null())).as_py():
        raise ValueError("no tracking-annotations or detection-annotations list")
    maps = [f.class_map for f in files]
    same_map = all(m == maps[0] for m in maps)
    sources = pa.array([f.source_ref for f in files], pa.string())
    widths = pa.array([f.image_size[0] if f.image_size else None for f in files], pa.int32())
    heights = pa.array([f.image_size[1] if f.image_size else None for f in files], pa.int32())
    parts = []
    seen = np.zeros(len(files), dtype=np.int64)
    written = np.zeros(len(files), dtype=np.int64)
    for frame_lists in (tracking, detection):
        frames = pc.list_flatten(frame_lists)
        if len(frames) == 0:
            continue
        file_of_frame = pc.list_parent_indices(frame_lists)
        starts = np.asarray(frame_lists.offsets)[:-1]
        position = np.arange(len(frames)) - starts[np.asarray(file_of_frame)]
        frame_no = pc.coalesce(
            frames.field("frame-no").cast(pa.int32()), pa.array(position, pa.int32())
        )
        frame_attributes = (
            struct_to_map(frames.field("frame-attributes"))
            if "frame-attributes" in [f.name for f in frames.type]
            else pa.nulls(len(frames), pa.map_(pa.string(), pa.string()))
        )
        for key, shape in SHAPE_KEYS:
            item_lists = frames.field(key)
            items = pc.list_flatten(item_lists)
            if len(items) == 0:
                continue
            item_fields = {f.name for f in items.type}
            if shape == "box" and "vertices" in item_fields:
                raise ValueError("vertices filed under annotations")
            frame_index = pc.list_parent_indices(item_lists)
            file_index = file_of_frame.take(frame_index)
            lengths = np.asarray(item_lists.value_lengths().fill_null(0), dtype=np.int64)
            seen += np.bincount(
                np.asarray(file_of_frame), weights=lengths, minlength=len(files)
            ).astype(np.int64)
            written += np.bincount(np.asarray(file_index), minlength=len(files))
            class_id = items.field("class-id").cast(pa.int32())
            if same_map:
                lookup = sorted(maps[0].items())
                codes = pc.index_in(
                    items.field("class-id"), value_set=pa.array([k for k, _ in lookup], pa.string())
                )
                label = pa.array([v for _, v in lookup], pa.string()).take(codes)
            else:
                label = pa.array(
                    [
                        maps[f].get(c)
                        for f, c in zip(
                            file_index.to_pylist(), items.field("class-id").to_pylist(), strict=True
                        )
                    ],
                    pa.string(),
                )
            n = len(items)
            attributes = (
                struct_to_map(items.field("label-category-attributes"))
                if "label-category-attributes" in item_fields
                else pa.nulls(n, pa.map_(pa.string(), pa.string()))
            )
            audit = pa.nulls(n, pa.string())
            if "label-category-attributes" in item_fields:
                raw = items.field("label-category-attributes")
                if "audit" in [f.name for f in raw.type]:
                    audit = raw.field("audit").cast(pa.string())
            box = shape == "box"
            parts.append(
                pa.table(
                    {
                        "batch_id": pa.array([batch_id] * n, pa.string()),
                        "job_name": pa.array([job_name] * n, pa.string()),
                        "source_ref": sources.take(file_index),
                        "frame_no": frame_no.take(frame_index),
                        "frame": frames.field("frame").take(frame_index),
                        "object_id": items.field("object-id"),
                        "object_name": items.field("object-name"),
                        "class_id": class_id,
                        "label": label,
                        "shape": pa.array([shape] * n, pa.string()),
                        "box_left": items.field("left") if box else pa.nulls(n, pa.float64()),
                        "top": items.field("top") if box else pa.nulls(n, pa.float64()),
                        "width": items.field("width") if box else pa.nulls(n, pa.float64()),
                        "height": items.field("height") if box else pa.nulls(n, pa.float64()),
                        "points": pa.nulls(n, pa.list_(_POINT)) if box else items.field("vertices"),
                        "attributes": attributes,
                        "frame_attributes": frame_attributes.take(frame_index),
                        "image_width": widths.take(file_index),
                        "image_height": heights.take(file_index),
                        "confidence": items.field("confidence").cast(pa.float64())
                        if "confidence" in item_fields
                        else pa.nulls(n, pa.float64()),
                        "audit": audit,
                        "occluded": pa.nulls(n, pa.bool_()),
                        "keyframe": pa.nulls(n, pa.bool_()),
                        "z_order": pa.nulls(n, pa.int32()),
                    }
                )
            )
    schema = get_table("annotations").schema
    table = pa.concat_tables(parts).cast(schema) if parts else schema.empty_table()
    if log is not None:
        for index, file in enumerate(files):
            log.saw(file.uri, int(seen[index]))
            log.wrote(file.uri, int(written[index]))
    return table
