-- Tasks submitted per worker and day.
SELECT
    worker_id,
    CAST(submission_time AS DATE) AS day,
    count(*) AS tasks,
    sum(time_spent_s) / 3600.0 AS hours
FROM worker_responses
WHERE submission_time IS NOT NULL
GROUP BY worker_id, CAST(submission_time AS DATE)
ORDER BY day, worker_id
