-- Overview chart: distinct data objects labeled per day, per job.
SELECT
    CAST(creation_date AS DATE) AS day,
    job_name,
    count(DISTINCT source_ref) AS objects
FROM labels
WHERE creation_date IS NOT NULL
GROUP BY CAST(creation_date AS DATE), job_name
ORDER BY day, job_name
