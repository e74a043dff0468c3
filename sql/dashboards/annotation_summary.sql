-- Per job and class: shapes, tracks, frames and shapes per frame.
SELECT
    job_name,
    label,
    shape,
    count(*) AS shapes,
    count(DISTINCT source_ref || '|' || object_id) AS tracks,
    count(DISTINCT source_ref || '|' || CAST(frame_no AS VARCHAR)) AS frames,
    CAST(count(*) AS DOUBLE)
        / count(DISTINCT source_ref || '|' || CAST(frame_no AS VARCHAR)) AS shapes_per_frame
FROM annotations
GROUP BY job_name, label, shape
ORDER BY job_name, label
