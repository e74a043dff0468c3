-- The labeling-effort dataset: one row per task (a worker's answer on one data object
-- of one job) with what the task held and the seconds the worker spent on it.
WITH shapes AS (
    SELECT
        job_name,
        source_ref,
        max(frame_no) + 1 AS frames,
        count(DISTINCT object_id) AS objects
    FROM annotations
    GROUP BY job_name, source_ref
)
SELECT
    CAST(coalesce(s.frames, 1) AS DOUBLE) AS frames,
    CAST(coalesce(s.objects, 0) AS DOUBLE) AS objects,
    coalesce(j.annotation_type, 'box') AS shape_type,
    j.modality AS modality,
    CAST(j.level AS DOUBLE) AS level,
    coalesce(j.workteam, 'unknown') AS team,
    r.worker_id AS worker,
    r.time_spent_s AS seconds
FROM worker_responses AS r
JOIN jobs AS j ON j.job_name = r.job_name
LEFT JOIN shapes AS s ON s.job_name = r.job_name AND s.source_ref = r.source_ref
WHERE r.time_spent_s IS NOT NULL
ORDER BY r.job_name, r.source_ref, r.worker_id
