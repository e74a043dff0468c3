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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

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
class Problem:
    """An input that could not be loaded; the rest still loads."""

    file: str
    line: int | None
    reason: str


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


def own_attribute(entry: dict[str, Any], job_name: str) -> str | None:
    """The attribute a job wrote on a line: named after it, or whose metadata names it."""
    attributes = label_attributes(entry)
    for key in attributes:
        if key in (job_name, f"{job_name}-ref"):
            return key
    for key in attributes:
        metadata = entry.get(f"{key}-metadata")
        if isinstance(metadata, dict) and metadata_job(metadata) == job_name:
            return key
    return None


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


@dataclass
class AnnotationRows:
    """Column lists for the `annotations` table, filled shape by shape."""

    columns: dict[str, list[Any]] = field(
        default_factory=lambda: {name: [] for name in get_table("annotations").schema.names}
    )

    def add(self, **values: Any) -> None:
        for name, column in self.columns.items():
            column.append(values.get(name))

    def __len__(self) -> int:
        return len(self.columns["job_name"])

    def table(self) -> pa.Table:
        return pa.Table.from_pydict(self.columns, schema=get_table("annotations").schema)


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
) -> None:
    """Every shape of a SeqLabel.json document; ValueError if it holds no frame list."""
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
            continue
        frame_no = integer(frame.get("frame-no", frame.get("frame_no")))
        frame_no = position if frame_no is None else frame_no
        frame_attributes = _attributes(frame.get("frame-attributes"))
        for key, shape in SHAPE_KEYS:
            for item in frame.get(key) or []:
                if not isinstance(item, dict):
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
                    left=number(item.get("left")),
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


def add_inline(
    rows: AnnotationRows,
    value: dict[str, Any],
    metadata: dict[str, Any],
    *,
    job_name: str,
    batch_id: str | None,
    source_ref: str | None,
) -> None:
    """A single-image bounding-box result: annotations and image_size inline in the manifest."""
    class_map = metadata.get("class-map") or {}
    size = value.get("image_size") or [{}]
    size = size[0] if isinstance(size, list) and size else size
    width = integer(size.get("width")) if isinstance(size, dict) else None
    height = integer(size.get("height")) if isinstance(size, dict) else None
    confidences = [
        o.get("confidence") for o in metadata.get("objects") or [] if isinstance(o, dict)
    ]
    frame = source_ref.rsplit("/", 1)[-1] if source_ref else None
    for index, item in enumerate(value.get("annotations") or []):
        if not isinstance(item, dict):
            continue
        class_id = integer(item.get("class_id", item.get("class-id")))
        rows.add(
            batch_id=batch_id,
            job_name=job_name,
            source_ref=source_ref,
            frame_no=0,
            frame=frame,
            object_id=str(index),
            object_name=None,
            class_id=class_id,
            label=class_map.get(str(class_id)),
            shape="box",
            left=number(item.get("left")),
            top=number(item.get("top")),
            width=number(item.get("width")),
            height=number(item.get("height")),
            image_width=width,
            image_height=height,
            confidence=number(confidences[index]) if index < len(confidences) else None,
        )


@dataclass
class SeqLabelRef:
    """A data object whose labels live in a SeqLabel file, still to be read."""

    line: ManifestLine
    uri: str
    class_map: dict[str, str]


def job_annotations(
    lines: Iterable[ManifestLine],
    job_name: str,
    batch_id: str | None,
    rows: AnnotationRows,
    source: str = "output manifest",
) -> tuple[list[SeqLabelRef], list[Problem]]:
    """Inline results go straight into ``rows``; refs to SeqLabel files are handed back.

    A line whose own label attribute holds something else, or that Ground Truth marked
    failed, is a problem of ``source`` (the manifest) at that line.
    """
    refs: list[SeqLabelRef] = []
    problems: list[Problem] = []
    for line in lines:
        key = own_attribute(line.entry, job_name)
        if key is None:
            # Ground Truth leaves out the label of a data object it could not get labeled
            # and says why in the metadata.
            for name in (f"{job_name}-ref", job_name):
                failed = line.entry.get(f"{name}-metadata")
                if isinstance(failed, dict) and failed.get("failure-reason"):
                    reason = failed["failure-reason"]
                    problems.append(Problem(source, line.number, f"not labeled: {reason}"))
                    break
            continue
        value = line.entry.get(key)
        metadata = line.entry.get(f"{key}-metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        class_map = {str(k): str(v) for k, v in (metadata.get("class-map") or {}).items()}
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
            )
        elif isinstance(value, dict) and (
            "tracking-annotations" in value or "detection-annotations" in value
        ):
            add_seqlabel(
                rows,
                value,
                job_name=job_name,
                batch_id=batch_id,
                source_ref=line.source_ref,
                class_map=class_map,
            )
        elif value is None and metadata.get("failure-reason"):
            problems.append(
                Problem(source, line.number, f"not labeled: {metadata['failure-reason']}")
            )
        elif value is not None:
            problems.append(
                Problem(
                    source,
                    line.number,
                    f"'{key}' holds neither a SeqLabel file reference nor annotations",
                )
            )
    return refs, problems


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
    files: list[SeqLabelFile], job_name: str, batch_id: str | None = None
) -> pa.Table:
    """`annotations` rows of many SeqLabel files at once.

    Raises pa.ArrowException or ValueError when a file does not have the usual types
    (numbers as strings, say); the caller then takes those files one by one with
    `add_seqlabel`, which accepts every variant.
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
        for key, shape in (
            ("annotations", "box"),
            ("polylines", "polyline"),
            ("polygons", "polygon"),
            ("keypoints", "keypoint"),
        ):
            item_lists = frames.field(key)
            items = pc.list_flatten(item_lists)
            if len(items) == 0:
                continue
            item_fields = {f.name for f in items.type}
            if shape == "box" and "vertices" in item_fields:
                raise ValueError("vertices filed under annotations")
            frame_index = pc.list_parent_indices(item_lists)
            file_index = file_of_frame.take(frame_index)
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
                        "left": items.field("left") if box else pa.nulls(n, pa.float64()),
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
                    }
                )
            )
    schema = get_table("annotations").schema
    if not parts:
        return schema.empty_table()
    return pa.concat_tables(parts).cast(schema)
