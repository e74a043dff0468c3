-- Per batch, job and class: shapes, tracks, frames and shapes per frame (from the ETL's
-- summaries), and the format each job was read from. Imported jobs have no batch.
SELECT
    s.batch_id,
    s.job_name,
    coalesce(l.source_format, 'groundtruth') AS source_format,
    s.label,
    s.shape,
    s.shapes,
    s.tracks,
    s.frames,
    CAST(s.shapes AS DOUBLE) / nullif(s.frames, 0) AS shapes_per_frame
FROM annotation_stats AS s
LEFT JOIN etl_loads AS l ON l.job_name = s.job_name
WHERE s.stat = 'class'
ORDER BY s.batch_id, s.job_name, s.label
