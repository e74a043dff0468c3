"""Per-job summaries of annotations, computed once at load time for the dashboards."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from labellake.lake import get_table

_STATS = """
WITH shapes AS (SELECT * FROM annotations)
SELECT job_name, any_value(batch_id) AS batch_id, 'class' AS stat, label, shape,
       NULL::DOUBLE AS bucket, count(*) AS shapes,
       count(DISTINCT (source_ref, object_id)) AS tracks,
       count(DISTINCT (source_ref, frame_no)) AS frames, NULL::VARCHAR AS source_ref
FROM shapes GROUP BY job_name, label, shape
UNION ALL
SELECT job_name, any_value(batch_id), 'data_object', NULL, NULL, NULL, count(*),
       count(DISTINCT object_id), count(DISTINCT frame_no), source_ref
FROM shapes GROUP BY job_name, source_ref
UNION ALL
SELECT job_name, any_value(batch_id), 'box_size', label, 'box',
       floor(sqrt(width * height) / 10) * 10, count(*), NULL, NULL, NULL
FROM shapes WHERE shape = 'box' AND width > 0 AND height > 0
GROUP BY job_name, label, floor(sqrt(width * height) / 10) * 10
UNION ALL
SELECT job_name, any_value(batch_id), 'track_length', label, NULL, frames, NULL, count(*), NULL,
       NULL
FROM (SELECT job_name, any_value(batch_id) AS batch_id, any_value(label) AS label,
             count(DISTINCT frame_no) AS frames
      FROM shapes GROUP BY job_name, source_ref, object_id)
GROUP BY job_name, label, frames
"""


def annotation_stats(annotations: pa.Table) -> pa.Table:
    """`annotation_stats` rows for every job in ``annotations``."""
    schema = get_table("annotation_stats").schema
    if annotations.num_rows == 0:
        return schema.empty_table()
    with duckdb.connect() as con:
        con.register(
            "annotations",
            annotations.select(
                [
                    "job_name",
                    "batch_id",
                    "source_ref",
                    "object_id",
                    "frame_no",
                    "label",
                    "shape",
                    "width",
                    "height",
                ]
            ),
        )
        return annotation_stats_in(con)


def annotation_stats_in(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """`annotation_stats` rows for the relation named `annotations` in ``con`` (a view over
    Parquet files, for jobs larger than memory)."""
    schema = get_table("annotation_stats").schema
    result = con.sql(_STATS).to_arrow_table()
    return result.rename_columns(schema.names).cast(schema)


_AUDIT = """
WITH shapes AS (
    SELECT source_ref, object_id, frame_no, 'worker' AS side,
           box_left, top, width, height, NULL::VARCHAR AS audit
    FROM worker WHERE source_ref IN (SELECT source_ref FROM seen)
    UNION ALL
    SELECT source_ref, object_id, frame_no, 'auditor', box_left, top, width, height, audit
    FROM auditor WHERE source_ref IN (SELECT source_ref FROM seen)
),
frames AS (
    SELECT
        source_ref, object_id, frame_no,
        max(CASE WHEN side = 'worker' THEN 1 ELSE 0 END) AS by_worker,
        max(CASE WHEN side = 'auditor' THEN 1 ELSE 0 END) AS by_auditor,
        max(CASE WHEN side = 'auditor' THEN audit END) AS verdict,
        max(CASE WHEN side = 'worker' THEN box_left END) AS l1,
        max(CASE WHEN side = 'worker' THEN top END) AS t1,
        max(CASE WHEN side = 'worker' THEN width END) AS w1,
        max(CASE WHEN side = 'worker' THEN height END) AS h1,
        max(CASE WHEN side = 'auditor' THEN box_left END) AS l2,
        max(CASE WHEN side = 'auditor' THEN top END) AS t2,
        max(CASE WHEN side = 'auditor' THEN width END) AS w2,
        max(CASE WHEN side = 'auditor' THEN height END) AS h2
    FROM shapes
    GROUP BY source_ref, object_id, frame_no
),
iou AS (
    SELECT
        *,
        CASE
            WHEN by_worker = 1 AND by_auditor = 1 AND w1 * h1 + w2 * h2 - inter > 0
                THEN inter / (w1 * h1 + w2 * h2 - inter)
        END AS box_iou
    FROM (
        SELECT
            *,
            greatest(0.0, least(l1 + w1, l2 + w2) - greatest(l1, l2))
            * greatest(0.0, least(t1 + h1, t2 + h2) - greatest(t1, t2)) AS inter
        FROM frames
    )
),
objects AS (
    SELECT
        source_ref, object_id,
        max(by_worker) AS by_worker,
        max(by_auditor) AS by_auditor,
        min(by_worker * by_auditor) AS on_every_frame,
        min(coalesce(box_iou, 1.0)) AS worst_iou,
        avg(box_iou) AS mean_iou,
        max(CASE WHEN verdict = 'Fail' THEN 1 ELSE 0 END) AS failed,
        max(CASE WHEN verdict IS NOT NULL THEN 1 ELSE 0 END) AS judged
    FROM iou
    GROUP BY source_ref, object_id
)
SELECT
    source_ref,
    sum(by_worker) AS objects_audited,
    sum(CASE WHEN by_worker = 1 AND on_every_frame = 1 AND worst_iou >= 0.99 AND failed = 0
        THEN 1 ELSE 0 END) AS objects_unchanged,
    sum(CASE WHEN mean_iou IS NOT NULL THEN 1 ELSE 0 END) AS objects_compared,
    coalesce(sum(1 - mean_iou), 0.0) AS iou_shift_sum,
    sum(CASE WHEN by_worker = 0 AND by_auditor = 1 THEN 1 ELSE 0 END) AS objects_added,
    sum(CASE WHEN by_worker = 1 AND by_auditor = 0 THEN 1 ELSE 0 END) AS objects_deleted,
    sum(CASE WHEN by_worker = 1 AND judged = 1 AND failed = 0 THEN 1 ELSE 0 END)
        AS objects_passed,
    sum(CASE WHEN by_worker = 1 AND judged = 1 AND failed = 1 THEN 1 ELSE 0 END)
        AS objects_failed
FROM objects
GROUP BY source_ref
ORDER BY source_ref
"""

_AUDIT_COLUMNS = ["source_ref", "object_id", "frame_no", "box_left", "top", "width", "height"]


def audit_stats(
    audit: pa.Table,
    audited: pa.Table,
    seen: list[str | None],
    *,
    job_name: str,
    audited_job: str,
    batch_id: str | None,
) -> pa.Table:
    """`audit_stats` rows: each data object the audit job saw (``seen``), with how the
    auditor's objects (``audit``, the audit job's annotations) compare with the worker's
    (``audited``, the audited job's annotations)."""
    with duckdb.connect() as con:
        con.register("auditor", audit.select([*_AUDIT_COLUMNS, "audit"]))
        con.register("worker", audited.select(_AUDIT_COLUMNS))
        return audit_stats_in(
            con, seen, job_name=job_name, audited_job=audited_job, batch_id=batch_id
        )


def audit_stats_in(
    con: duckdb.DuckDBPyConnection,
    seen: list[str | None],
    *,
    job_name: str,
    audited_job: str,
    batch_id: str | None,
) -> pa.Table:
    """`audit_stats` rows from the relations `auditor` and `worker` in ``con`` (views over
    Parquet files, for jobs larger than memory)."""
    schema = get_table("audit_stats").schema
    refs = sorted({ref for ref in seen if ref is not None})
    if not refs:
        return schema.empty_table()
    con.register("seen", pa.table({"source_ref": pa.array(refs, pa.string())}))
    result = con.sql(_AUDIT).to_arrow_table()
    n = result.num_rows
    columns = {
        "job_name": pa.array([job_name] * n, pa.string()),
        "batch_id": pa.array([batch_id] * n, pa.string()),
        "audited_job": pa.array([audited_job] * n, pa.string()),
        **{name: result[name] for name in result.column_names},
    }
    return pa.table(columns).select(schema.names).cast(schema)
