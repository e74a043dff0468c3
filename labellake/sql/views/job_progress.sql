-- Progress of every labeling job: data objects sent, labeled, and shapes drawn.
SELECT
    j.batch_id,
    j.job_name,
    j.level,
    j.modality,
    j.status,
    j.object_count AS objects_sent,
    count(DISTINCT l.source_ref) AS objects_labeled,
    CAST(count(DISTINCT l.source_ref) AS DOUBLE) / nullif(j.object_count, 0) AS share_labeled,
    j.created_at,
    j.completed_at
FROM jobs AS j
LEFT JOIN labels AS l ON l.job_name = j.job_name AND l.metadata_job_name = j.job_name
GROUP BY j.batch_id, j.job_name, j.level, j.modality, j.status, j.object_count, j.created_at,
    j.completed_at
ORDER BY j.batch_id, j.level, j.job_name
