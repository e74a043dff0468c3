-- Shapes, objects (tracks) and frames per job, class and shape kind.
SELECT
    job_name,
    label,
    shape,
    count(*) AS shapes,
    count(DISTINCT source_ref || '|' || object_id) AS objects,
    count(DISTINCT source_ref || '|' || CAST(frame_no AS VARCHAR)) AS frames
FROM annotations
GROUP BY job_name, label, shape
ORDER BY job_name, shapes DESC
