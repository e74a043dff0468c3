"""Automated quality checks over the `annotations` table.

Each check is a small pure function, vectorized with pandas over every track
of every job at once, returning one row per offending (track, frame). A check
on a pair of consecutive frames puts its row on the later frame. CHECKS lists
them in order; `run_checks` applies them and returns `qa_findings` rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from labellake.etl.geometry import iou
from labellake.lake import get_table

TRACK = ["job_name", "source_ref", "object_id"]
FRAME = ["job_name", "source_ref", "frame_no"]


@dataclass(frozen=True)
class QaConfig:
    size_jump: float = 0.25  # relative box-area change between consecutive frames
    iou_drop: float = 0.4  # IoU of consecutive boxes below this
    duplicate_iou: float = 0.9  # two boxes on one frame overlapping more than this
    short_track: int = 3  # tracks with fewer frames
    out_of_image_share: float = 0.05  # part of the box outside the image, beyond this share


def _findings(
    rows: pd.DataFrame,
    check: str,
    value: pd.Series | np.ndarray,
    threshold: float,
    detail: pd.Series | str,
) -> pd.DataFrame:
    out = rows[["batch_id", "job_name", "source_ref", "object_id", "frame_no"]].copy()
    out["check_name"] = check
    out["value"] = np.asarray(value, dtype="float64")
    out["threshold"] = float(threshold)
    out["detail"] = detail
    return out


def boxes_in_track_order(annotations: pd.DataFrame) -> pd.DataFrame:
    """Boxes sorted by track and frame, with the previous frame's values as prev_*."""
    boxes = annotations[annotations["shape"] == "box"].dropna(
        subset=["box_left", "top", "width", "height"]
    )
    boxes = boxes.sort_values(TRACK + ["frame_no"], kind="stable").reset_index(drop=True)
    same = (boxes[TRACK] == boxes[TRACK].shift(1)).all(axis=1)
    for column in ("box_left", "top", "width", "height", "frame_no", "label", "attributes_key"):
        boxes[f"prev_{column}"] = boxes[column].shift(1).where(same)
    boxes["has_prev"] = same
    return boxes


def size_jump(boxes: pd.DataFrame, config: QaConfig) -> pd.DataFrame:
    pairs = boxes[boxes["has_prev"]]
    before = pairs["prev_width"] * pairs["prev_height"]
    change = (pairs["width"] * pairs["height"] - before).abs() / before.where(before > 0)
    hit = change > config.size_jump
    return _findings(
        pairs[hit],
        "size_jump",
        change[hit],
        config.size_jump,
        "box area changed by more than the threshold since the previous frame",
    )


def iou_drop(boxes: pd.DataFrame, config: QaConfig) -> pd.DataFrame:
    pairs = boxes[boxes["has_prev"]]
    overlap = iou(
        pairs["prev_box_left"],
        pairs["prev_top"],
        pairs["prev_width"],
        pairs["prev_height"],
        pairs["box_left"],
        pairs["top"],
        pairs["width"],
        pairs["height"],
    )
    hit = overlap < config.iou_drop
    return _findings(
        pairs[hit],
        "iou_drop",
        overlap[hit],
        config.iou_drop,
        "box jumped: little overlap with the previous frame's box",
    )


def track_gap(boxes: pd.DataFrame, config: QaConfig) -> pd.DataFrame:
    pairs = boxes[boxes["has_prev"]]
    missing = pairs["frame_no"] - pairs["prev_frame_no"] - 1
    hit = missing > 0
    return _findings(
        pairs[hit], "track_gap", missing[hit], 0, "frames missing from the track before this one"
    )


def out_of_image(boxes: pd.DataFrame, config: QaConfig) -> pd.DataFrame:
    known = boxes.dropna(subset=["image_width", "image_height"])
    outside = (
        np.clip(-known["box_left"], 0, None) * known["height"]
        + np.clip(-known["top"], 0, None) * known["width"]
        + np.clip(known["box_left"] + known["width"] - known["image_width"], 0, None)
        * known["height"]
        + np.clip(known["top"] + known["height"] - known["image_height"], 0, None) * known["width"]
    )
    share = outside / (known["width"] * known["height"]).where(lambda a: a > 0)
    hit = share > config.out_of_image_share
    return _findings(
        known[hit],
        "out_of_image",
        share[hit],
        config.out_of_image_share,
        "part of the box lies outside the image",
    )


def overlapping_pairs(boxes: pd.DataFrame) -> pd.DataFrame:
    """Pairs of boxes of two tracks on one frame that overlap at all: DuckDB joins each
    frame's boxes with each other as a stream, so a crowded frame (n boxes, n * n pairs)
    does not hold every pair in memory, and only overlapping pairs come back."""
    import duckdb

    cols = [*FRAME, "object_id", "box_left", "top", "width", "height"]
    with duckdb.connect() as con:
        con.register("boxes", boxes[cols])
        pairs = con.sql(
            """
            SELECT a.*, b.object_id AS object_id_other, b.box_left AS box_left_other,
                   b.top AS top_other, b.width AS width_other, b.height AS height_other
            FROM boxes AS a JOIN boxes AS b
              ON a.job_name = b.job_name AND a.source_ref = b.source_ref
             AND a.frame_no = b.frame_no AND a.object_id < b.object_id
             AND a.box_left < b.box_left + b.width AND b.box_left < a.box_left + a.width
             AND a.top < b.top + b.height AND b.top < a.top + a.height
            """
        ).df()
    return pairs


def duplicate_box(boxes: pd.DataFrame, config: QaConfig) -> pd.DataFrame:
    pairs = overlapping_pairs(boxes)
    overlap = iou(
        pairs["box_left"],
        pairs["top"],
        pairs["width"],
        pairs["height"],
        pairs["box_left_other"],
        pairs["top_other"],
        pairs["width_other"],
        pairs["height_other"],
    )
    pairs = pairs.assign(value=overlap)[overlap > config.duplicate_iou]
    if pairs.empty:
        return _findings(boxes.iloc[0:0], "duplicate_box", [], config.duplicate_iou, "")
    # The duplicate is the shorter of the two tracks.
    lengths = boxes.groupby(TRACK).size().rename("length").reset_index()
    pairs = pairs.merge(lengths, on=TRACK).merge(
        lengths.rename(columns={"object_id": "object_id_other", "length": "length_other"}),
        on=["job_name", "source_ref", "object_id_other"],
    )
    keep_other = pairs["length_other"] <= pairs["length"]
    pairs["object_id"] = pairs["object_id"].where(~keep_other, pairs["object_id_other"])
    pairs["twin"] = pairs["object_id_other"].where(~keep_other, pairs["object_id"])
    rows = pairs.merge(boxes[FRAME + ["object_id", "batch_id"]], on=FRAME + ["object_id"])
    return _findings(
        rows,
        "duplicate_box",
        rows["value"],
        config.duplicate_iou,
        "duplicates " + rows["twin"].astype(str),
    )


def short_track(boxes: pd.DataFrame, config: QaConfig) -> pd.DataFrame:
    first = (
        boxes.groupby(TRACK, sort=False)
        .agg(
            frames=("frame_no", "size"),
            frame_no=("frame_no", "min"),
            batch_id=("batch_id", "first"),
        )
        .reset_index()
    )
    # A single image is not a video: its one-frame objects are not short tracks.
    clip_frames = boxes.groupby(["job_name", "source_ref"], sort=False)["frame_no"].nunique()
    first = first.join(clip_frames.rename("clip_frames"), on=["job_name", "source_ref"])
    hit = first[(first["frames"] < config.short_track) & (first["clip_frames"] > 1)]
    return _findings(
        hit, "short_track", hit["frames"], config.short_track, "track shorter than the minimum"
    )


def class_flip(boxes: pd.DataFrame, config: QaConfig) -> pd.DataFrame:
    pairs = boxes[boxes["has_prev"] & boxes["label"].notna() & boxes["prev_label"].notna()]
    hit = pairs["label"] != pairs["prev_label"]
    rows = pairs[hit]
    return _findings(
        rows,
        "class_flip",
        np.ones(len(rows)),
        0,
        "class changed from " + rows["prev_label"].astype(str) + " to " + rows["label"].astype(str),
    )


def attribute_flip(boxes: pd.DataFrame, config: QaConfig) -> pd.DataFrame:
    pairs = boxes[
        boxes["has_prev"] & boxes["attributes_key"].notna() & boxes["prev_attributes_key"].notna()
    ]
    rows = pairs[pairs["attributes_key"] != pairs["prev_attributes_key"]]
    return _findings(
        rows,
        "attribute_flip",
        np.ones(len(rows)),
        0,
        "attributes changed from "
        + rows["prev_attributes_key"].astype(str)
        + " to "
        + rows["attributes_key"].astype(str),
    )


def crossing_polylines(polylines: list[np.ndarray]) -> np.ndarray:
    """For each polyline (an (n, 2) array), whether two non-adjacent segments properly cross.

    Polylines with the same vertex count are checked together, all segment pairs at once.
    """
    result = np.zeros(len(polylines), dtype=bool)
    by_count: dict[int, list[int]] = {}
    for index, points in enumerate(polylines):
        if len(points) >= 4:
            by_count.setdefault(len(points), []).append(index)
    for count, indices in by_count.items():
        stack = np.stack([polylines[i] for i in indices])  # (m, count, 2)
        start, end = stack[:, :-1], stack[:, 1:]
        i, j = np.triu_indices(count - 1, k=2)
        p, r = start[:, i], end[:, i] - start[:, i]
        q, s = start[:, j], end[:, j] - start[:, j]
        cross = r[..., 0] * s[..., 1] - r[..., 1] * s[..., 0]
        ok = np.abs(cross) > 1e-12
        safe = np.where(ok, cross, 1.0)
        qp = q - p
        t = (qp[..., 0] * s[..., 1] - qp[..., 1] * s[..., 0]) / safe
        u = (qp[..., 0] * r[..., 1] - qp[..., 1] * r[..., 0]) / safe
        hits = (ok & (t > 0) & (t < 1) & (u > 0) & (u < 1)).any(axis=1)
        result[np.array(indices)] = hits
    return result


def polyline_self_intersection(lines: pd.DataFrame, config: QaConfig) -> pd.DataFrame:
    arrays = [
        np.array([[p["x"], p["y"]] for p in points], dtype=float).reshape(-1, 2)
        if points is not None
        else np.zeros((0, 2))
        for points in lines["points"]
    ]
    rows = lines[crossing_polylines(arrays)]
    return _findings(
        rows, "polyline_self_intersection", np.ones(len(rows)), 0, "the polyline crosses itself"
    )


def polyline_too_few_vertices(lines: pd.DataFrame, config: QaConfig) -> pd.DataFrame:
    counts = lines["points"].map(lambda pts: 0 if pts is None else len(pts))
    rows = lines[counts < 2]
    return _findings(
        rows,
        "polyline_too_few_vertices",
        counts[counts < 2],
        2,
        "a polyline needs at least two vertices",
    )


BOX_CHECKS: tuple[tuple[str, Callable[[pd.DataFrame, QaConfig], pd.DataFrame]], ...] = (
    ("size_jump", size_jump),
    ("iou_drop", iou_drop),
    ("track_gap", track_gap),
    ("out_of_image", out_of_image),
    ("duplicate_box", duplicate_box),
    ("short_track", short_track),
    ("class_flip", class_flip),
    ("attribute_flip", attribute_flip),
)
LINE_CHECKS: tuple[tuple[str, Callable[[pd.DataFrame, QaConfig], pd.DataFrame]], ...] = (
    ("polyline_self_intersection", polyline_self_intersection),
    ("polyline_too_few_vertices", polyline_too_few_vertices),
)
CHECK_NAMES = tuple(name for name, _ in BOX_CHECKS + LINE_CHECKS)


def run_checks(
    annotations: pa.Table,
    config: QaConfig | None = None,
    checks: tuple[str, ...] | list[str] | None = None,
) -> pa.Table:
    """`qa_findings` rows for every check (or only ``checks``) over ``annotations``."""
    config = config or QaConfig()
    wanted = set(checks or CHECK_NAMES)
    unknown = wanted - set(CHECK_NAMES)
    if unknown:
        raise ValueError(
            f"unknown QA check(s) {', '.join(sorted(unknown))}; known: {', '.join(CHECK_NAMES)}"
        )
    schema = get_table("qa_findings").schema
    if annotations.num_rows == 0:
        return schema.empty_table()
    frame = _to_frame(annotations)
    found = []
    boxes = boxes_in_track_order(frame)
    if not boxes.empty:
        found += [fn(boxes, config) for name, fn in BOX_CHECKS if name in wanted]
    lines = frame[frame["shape"] == "polyline"]
    if not lines.empty:
        found += [fn(lines, config) for name, fn in LINE_CHECKS if name in wanted]
    found = [f for f in found if not f.empty]
    if not found:
        return schema.empty_table()
    result = pd.concat(found, ignore_index=True).sort_values(
        ["job_name", "source_ref", "object_id", "frame_no", "check_name"], kind="stable"
    )
    return pa.Table.from_pandas(result, schema=schema, preserve_index=False)


def _to_frame(annotations: pa.Table) -> pd.DataFrame:
    """The columns the checks read, as pandas: scalars only, so memory stays a few dozen
    bytes a shape. Attributes become one comparable key (DuckDB builds it), and vertices
    are kept as Python lists only on polylines, the one shape whose checks read them."""
    columns = [
        "batch_id",
        "job_name",
        "source_ref",
        "object_id",
        "frame_no",
        "label",
        "shape",
        "box_left",
        "top",
        "width",
        "height",
        "image_width",
        "image_height",
    ]
    frame = annotations.select(columns).to_pandas()
    frame["attributes_key"] = attributes_keys(annotations["attributes"])
    lines = pc.equal(annotations["shape"], "polyline").to_numpy(zero_copy_only=False)
    points = pd.Series([None] * len(frame), dtype=object)
    if lines.any():
        points[lines] = annotations.filter(pa.array(lines))["points"].to_pylist()
    frame["points"] = points.to_numpy()
    return frame


def attributes_keys(attributes: pa.ChunkedArray) -> np.ndarray:
    """Per shape, its attributes but the auditor's verdict as 'key=value;...' sorted by key;
    None where it has none."""
    import duckdb

    with duckdb.connect() as con:
        con.register("shapes", pa.table({"attributes": attributes}))
        keys = con.sql(
            "SELECT nullif(array_to_string(list_sort(list_transform(list_filter("
            "map_entries(attributes), lambda e: e.key <> 'audit'), "
            "lambda e: e.key || '=' || coalesce(e.value, 'None'))), ';'), '') AS key "
            "FROM shapes"
        ).to_arrow_table()
    return keys["key"].to_numpy(zero_copy_only=False)
