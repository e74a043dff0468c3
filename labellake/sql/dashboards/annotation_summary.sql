-- Per batch, job and class: shapes, tracks, frames and shapes per frame (from the ETL's
-- summaries). Imported jobs have no batch.
SELECT
    batch_id,
    job_name,
    label,
    shape,
    shapes,
    tracks,
    frames,
    CAST(shapes AS DOUBLE) / nullif(frames, 0) AS shapes_per_frame
FROM annotation_stats
WHERE stat = 'class'
ORDER BY batch_id, job_name, label
