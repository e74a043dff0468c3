-- Each worker's newest error-rate estimate per error type, with its 90% interval and
-- whether it drifted from the one before.
WITH ranked AS (
    SELECT
        worker_id,
        error_type,
        estimate,
        lower,
        upper,
        evidence,
        errors,
        drift,
        as_of,
        job_name,
        row_number() OVER (
            PARTITION BY worker_id, error_type ORDER BY as_of DESC, job_name DESC
        ) AS newest
    FROM worker_reliability
)
SELECT
    worker_id,
    error_type,
    estimate,
    lower,
    upper,
    evidence,
    errors,
    drift,
    as_of,
    job_name AS refreshed_by
FROM ranked
WHERE newest = 1
ORDER BY error_type, estimate DESC, worker_id
