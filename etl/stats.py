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
SELECT job_name, any_value(batch_id), 'box_size', NULL, 'box',
       floor(sqrt(width * height) / 10) * 10, count(*), NULL, NULL, NULL
FROM shapes WHERE shape = 'box' AND width > 0 AND height > 0
GROUP BY job_name, floor(sqrt(width * height) / 10) * 10
UNION ALL
SELECT job_name, any_value(batch_id), 'track_length', NULL, NULL, frames, NULL, count(*), NULL,
       NULL
FROM (SELECT job_name, any_value(batch_id) AS batch_id, count(DISTINCT frame_no) AS frames
      FROM shapes GROUP BY job_name, source_ref, object_id)
GROUP BY job_name, frames
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
        result = con.sql(_STATS).to_arrow_table()
    return result.rename_columns(schema.names).cast(schema)
